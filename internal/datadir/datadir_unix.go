//go:build !windows

package datadir

import (
	"errors"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// PolicyOf returns the policy of the folder dir: Shared when its group is
// named "faced", Private otherwise (also when dir does not exist).
func PolicyOf(dir string) Policy {
	fi, err := os.Stat(dir)
	if err != nil {
		return Private
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return Private
	}
	g, err := user.LookupGroupId(strconv.FormatUint(uint64(st.Gid), 10))
	if err != nil || g.Name != GroupName {
		return Private
	}
	return Shared
}

// CreateFile creates the file path with mode when it does not exist yet
// (an existing file is left as it is; a symbolic link is an error).
func CreateFile(path string, mode fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, mode)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	// The umask may have taken bits away; this never adds any beyond mode.
	return errors.Join(f.Chmod(mode), f.Close())
}
