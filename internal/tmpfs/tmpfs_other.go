//go:build !linux

package tmpfs

import "testing"

// Mount skips: tmpfs mounts are a Linux feature.
func Mount(t testing.TB, size int64) string {
	t.Helper()
	t.Skip("full-disk test skipped: tmpfs mounts need Linux")
	return ""
}

// MountAt skips: tmpfs mounts are a Linux feature.
func MountAt(t testing.TB, dir string, size int64) {
	t.Helper()
	t.Skip("full-disk test skipped: tmpfs mounts need Linux")
}

// Fill is not reached (Mount skipped).
func Fill(t testing.TB, dir string) (free func()) { t.Helper(); return func() {} }

// Free is not known here.
func Free(dir string) int64 { return -1 }
