package exporters

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// TempPrefix starts the name of every temporary file faced writes next to a
// sidecar; IsTempName recognises them.
const TempPrefix = ".faced-tmp-"

// IsTempName reports whether name (a base name or a path) is one of faced's
// temporary files, which a watcher should ignore.
func IsTempName(name string) bool {
	return strings.HasPrefix(filepath.Base(name), TempPrefix)
}

// errChanged: the target changed between read and rename.
var errChanged = errors.New("target changed")

// staleTemp is the age after which a leftover temporary file (from a
// crash) is removed.
const staleTemp = time.Hour

// WriteAtomic replaces path by data: it writes a temporary file in the same
// folder, fsyncs it, calls unchanged (when set) and gives up with an error
// wrapping errChanged if it returns false, calls onWrite (when set), renames
// the temporary file over path. A reader (or a crash) sees the old file or
// the new one, never a partial one: the data is synced before the rename.
// The folder is not synced: after a crash the rename may be lost, which
// leaves the old file (the next export writes it again), and skipping that
// second fsync doubles the write rate.
func WriteAtomic(path string, data []byte, perm os.FileMode, unchanged func() bool, onWrite func(string)) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, TempPrefix+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("exporters: create temporary file for %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("exporters: write %s: %w", tmp, err)
	}
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("exporters: chmod %s: %w", tmp, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("exporters: fsync %s: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("exporters: close %s: %w", tmp, err)
	}
	if unchanged != nil && !unchanged() {
		err = fmt.Errorf("exporters: %s: %w", path, errChanged)
		return err
	}
	if onWrite != nil {
		onWrite(path)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("exporters: replace %s: %w", path, err)
	}
	removeStaleTemps(path)
	return nil
}

// removeStaleTemps removes the temporary files older than staleTemp (left
// by a crash) in path's folder. It reads a folder at most once per
// staleTemp: reading it for every sidecar made a burst of n photos in one
// folder cost n² directory entries.
func removeStaleTemps(path string) {
	dir := filepath.Dir(path)
	now := time.Now()
	if last, ok := tempsCleaned.Load(dir); ok && now.Sub(last.(time.Time)) < staleTemp {
		return
	}
	tempsCleaned.Store(dir, now)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, de := range ents {
		if !strings.HasPrefix(de.Name(), TempPrefix) || !de.Type().IsRegular() {
			continue
		}
		m := filepath.Join(dir, de.Name())
		if fi, err := os.Lstat(m); err == nil && fi.Mode().IsRegular() && now.Sub(fi.ModTime()) > staleTemp {
			os.Remove(m)
		}
	}
}

// tempsCleaned maps a folder to when removeStaleTemps last read it.
var tempsCleaned sync.Map
