//go:build windows

package datadir

import (
	"errors"
	"io/fs"
	"os"
)

// PolicyOf is Private on Windows (the folder's ACL decides).
func PolicyOf(dir string) Policy { return Private }

// CreateFile creates the file path with mode when it does not exist yet.
func CreateFile(path string, mode fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, mode)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}
