//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package index

// removeSideFiles is a no-op where SQLite's file locks are not POSIX
// record locks: the -wal and -shm a read-only open created stay.
func removeSideFiles(string) {}

// diskFull is not known here: false.
func diskFull(string) bool { return false }
