//go:build !(linux && cgo)

package wire

func trimMalloc() {}

func limitMallocArenas(int) {}
