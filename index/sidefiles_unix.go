//go:build linux || darwin || freebsd || netbsd || openbsd

package index

import (
	"io"
	"os"
	"syscall"
)

// SQLite's lock bytes in the database file (os_unix.c): PENDING at 1 GiB,
// then RESERVED, then the 510-byte SHARED range.
const (
	lockFirst = 0x40000000
	lockBytes = 512
)

// removeSideFiles deletes the -wal and -shm files a read-only connection
// created, as SQLite's last connection would: under a write lock on the
// lock bytes, which fails while any connection (of any process) holds its
// SHARED lock, and only when the -wal holds no frames. It does nothing when
// the lock cannot be taken (database in use, or the file is not writable
// for this user).
func removeSideFiles(path string) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return
	}
	defer f.Close() // releases the lock
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: io.SeekStart, Start: lockFirst, Len: lockBytes}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk); err != nil {
		return
	}
	if fi, err := os.Lstat(path + "-wal"); err == nil {
		if fi.Size() != 0 || !fi.Mode().IsRegular() {
			return
		}
		if err := os.Remove(path + "-wal"); err != nil {
			return
		}
	}
	if fi, err := os.Lstat(path + "-shm"); err == nil && fi.Mode().IsRegular() {
		_ = os.Remove(path + "-shm")
	}
}

// diskFull reports whether the file system holding dir has no space left
// for its users.
func diskFull(dir string) bool {
	var st syscall.Statfs_t
	return syscall.Statfs(dir, &st) == nil && st.Bavail == 0
}
