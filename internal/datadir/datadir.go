// Package datadir keeps faced's DataDirectory private. The index holds
// identity features (biometric data) and every person's name, so the folder
// is readable by faced's user alone: 0700, files 0600, the socket 0600.
//
// An administrator who wants a group of users to read the index and use the
// local API gives the folder to a group named "faced" (chgrp faced DIR):
// then the folder is 0750, new files 0640 and the socket 0660. Nothing is
// ever readable by other users.
//
// Prepare creates the folder with the right mode and tightens the folder
// and everything in it (symbolic links are not followed) that is more open
// than the policy, with a log line per path. CreateFile creates a file with
// the policy's mode before a library (SQLite) opens it: SQLite gives its
// -wal and -shm files the database file's mode.
package datadir

import (
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// GroupName is the group that, owning DataDirectory, may read the index and
// use the local API.
const GroupName = "faced"

// Policy is the file modes of DataDirectory and what faced creates in it.
type Policy struct {
	Dir    fs.FileMode // the folder and folders in it
	File   fs.FileMode // the index, its -wal/-shm, snapshots, models
	Socket fs.FileMode // the local API socket
	// Group is GroupName when the folder is shared with that group, else "".
	Group string
}

var (
	// Private is the default: faced's user alone.
	Private = Policy{Dir: 0o700, File: 0o600, Socket: 0o600}
	// Shared is the policy of a folder owned by the group "faced".
	Shared = Policy{Dir: 0o750, File: 0o640, Socket: 0o660, Group: GroupName}
)

// mask is the permission bits the policy never grants.
func (p Policy) mask() fs.FileMode {
	if p.Group != "" {
		return 0o027
	}
	return 0o077
}

// Prepare creates dir (mode 0700, parents as needed) when missing, and
// tightens dir and everything below it to its policy (PolicyOf). Paths it
// cannot change are logged and left; only a folder it cannot create or
// read is an error.
func Prepare(dir string, log *slog.Logger) (Policy, error) {
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(dir, Private.Dir); err != nil {
		return Private, err
	}
	p := PolicyOf(dir)
	mask := p.mask()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == dir {
				return err
			}
			log.Warn("data folder: cannot read", "path", path, "err", err)
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil // not ours to change (a models folder shared by a link)
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		old := fi.Mode().Perm()
		if old&mask == 0 {
			return nil
		}
		mode := old &^ mask
		if err := os.Chmod(path, mode|fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
			log.Warn("data folder: cannot tighten file mode", "path", path, "mode", fmt.Sprintf("%04o", old), "err", err)
			return nil
		}
		log.Info("data folder: file mode tightened", "path", path, "from", fmt.Sprintf("%04o", old), "to", fmt.Sprintf("%04o", mode))
		return nil
	})
	return p, err
}
