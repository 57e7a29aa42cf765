//go:build !(linux && cgo)

package wire

func trimMalloc() {}

func limitMallocArenas(int) {}

func setMallocThresholds(int, int) {}
