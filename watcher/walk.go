package watcher

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/faced/faced/internal/confine"
)

// PathError is a problem with one file or folder met while watching or
// walking: an unreadable folder, a symbolic link loop, a folder that could
// not be watched. The watcher and the walk go on after reporting it.
type PathError struct {
	Path   string
	Reason string
	Err    error // the underlying error, if any
}

func (e *PathError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%q: %s: %v", e.Path, e.Reason, e.Err)
	}
	return fmt.Sprintf("%q: %s", e.Path, e.Reason)
}

func (e *PathError) Unwrap() error { return e.Err }

// Walk visits every media file below root that the watcher would emit, with
// the same ignore rules (hidden files and folders, IgnoreGlobs, the Ignore
// hook, Extensions; *.xmp never). It is the reconciliation walk the daemon
// runs when Rescans fires. fn gets the absolute path and the file's info
// (for a symbolic link to a file, the target's size and mtime); an error
// from fn stops the walk and is returned.
//
// Symbolic links to folders are not followed. Problems with single paths
// (unreadable folders, symbolic link loops) go to opt.OnError, if set, and
// the walk continues: a caller that removes index entries for files it did
// not see must spare everything under such a path. Walk returns an error,
// without calling fn, when root itself cannot be read: the caller must not
// conclude that its files were deleted. Files are visited in lexical order
// within each folder.
//
// root may also be a single file: fn is called for it when it is a media
// file that is not hidden (a broken link goes to OnError).
func Walk(ctx context.Context, root string, opt Options, fn func(path string, info fs.FileInfo) error) error {
	return walk(ctx, root, opt, os.ReadDir, fn)
}

func walk(ctx context.Context, root string, opt Options, readDir func(string) ([]fs.DirEntry, error),
	fn func(path string, info fs.FileInfo) error) error {
	onErr := func(e *PathError) {
		if opt.OnError != nil {
			opt.OnError(e)
		}
	}
	if opt.Confine != nil {
		// A walk through a symbolic link to a folder would read (and the
		// daemon write sidecars) outside the library.
		if err := opt.Confine.Check(root); err != nil {
			return &PathError{Path: root, Reason: "not walked", Err: err}
		}
	}
	if info, err := os.Lstat(root); err == nil && !info.IsDir() {
		if st, err := os.Stat(root); err != nil || !st.IsDir() {
			return walkFile(root, info, opt, fn, onErr)
		}
	}
	root, err := cleanRoot(root)
	if err != nil {
		return err
	}
	m, err := newMatcher(root, opt)
	if err != nil {
		return err
	}
	return walkTree(ctx, m, readDir, root, func(string) bool { return true }, fn, onErr)
}

// walkFile is Walk over the single file p (lstat info), judged against
// its own folder.
func walkFile(p string, info fs.FileInfo, opt Options, fn func(string, fs.FileInfo) error, onErr func(*PathError)) error {
	abs, err := filepath.Abs(p)
	if err != nil {
		return fmt.Errorf("watcher: %w", err)
	}
	m, err := newMatcher(filepath.Dir(abs), opt)
	if err != nil {
		return err
	}
	if m.ignored(abs) {
		return nil
	}
	st, perr := fileInfo(abs, info.Mode().Type(), m)
	if perr != nil {
		onErr(perr)
		return nil
	}
	if st == nil || !m.media(abs) {
		return nil
	}
	return fn(abs, st)
}

// cleanRoot makes root absolute and checks that it is a folder.
func cleanRoot(root string) (string, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", fmt.Errorf("watcher: %w", err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("watcher: %w", err)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("watcher: %s is not a folder", abs)
	}
	return abs, nil
}

// walkTree walks the folder top (not ignored itself) depth-first. onDir is
// called for each folder before it is listed (the watcher adds its watch
// there, so nothing created during the listing is missed); false skips the
// folder. onFile is called for each media file. A failure to list top is
// returned; failures below it go to onErr.
func walkTree(ctx context.Context, m *matcher, readDir func(string) ([]fs.DirEntry, error),
	top string, onDir func(string) bool, onFile func(string, fs.FileInfo) error, onErr func(*PathError)) error {
	var walk func(dir string, isTop bool) error
	walk = func(dir string, isTop bool) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !onDir(dir) {
			return nil
		}
		entries, err := readDir(dir)
		if err != nil {
			pe := &PathError{Path: dir, Reason: "cannot read folder", Err: err}
			if isTop {
				return pe
			}
			onErr(pe)
			// Entries read before the error are still visited.
		}
		for _, d := range entries {
			p := filepath.Join(dir, d.Name())
			if m.ignored(p) {
				continue
			}
			if d.IsDir() {
				if err := walk(p, false); err != nil {
					return err
				}
				continue
			}
			info, perr := fileInfo(p, d.Type(), m)
			if perr != nil {
				onErr(perr)
				continue
			}
			if info == nil || !m.media(p) {
				continue
			}
			if err := onFile(p, info); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(top, true)
}

// fileInfo classifies a non-folder entry of type typ at p. It returns the
// info of a regular file (following a symbolic link), nil for anything the
// watcher does not emit, or a PathError for a broken symbolic link worth
// reporting.
func fileInfo(p string, typ fs.FileMode, m *matcher) (fs.FileInfo, *PathError) {
	switch {
	case typ.IsRegular():
		info, err := os.Lstat(p)
		if err != nil || !info.Mode().IsRegular() {
			return nil, nil // gone or replaced meanwhile: its own event follows
		}
		return info, nil
	case typ&fs.ModeSymlink != 0:
		return symlinkInfo(p, m)
	default:
		return nil, nil // sockets, pipes, devices
	}
}

// symlinkInfo follows the symbolic link at p.
func symlinkInfo(p string, m *matcher) (fs.FileInfo, *PathError) {
	info, err := os.Stat(p)
	switch {
	case errors.Is(err, syscall.ELOOP):
		return nil, &PathError{Path: p, Reason: "symbolic link loop", Err: err}
	case errors.Is(err, fs.ErrNotExist):
		if m.media(p) {
			return nil, &PathError{Path: p, Reason: "dangling symbolic link", Err: err}
		}
		return nil, nil
	case err != nil:
		return nil, &PathError{Path: p, Reason: "cannot follow symbolic link", Err: err}
	case info.IsDir():
		if pointsToAncestor(p) {
			return nil, &PathError{Path: p, Reason: "symbolic link loop: points to a folder that contains it"}
		}
		return nil, &PathError{Path: p, Reason: "symbolic link to a folder: not followed"}
	case !info.Mode().IsRegular():
		return nil, nil
	}
	if m.conf != nil {
		if err := m.conf.Check(p); err != nil {
			if errors.Is(err, confine.ErrOutside) && !m.conf.Once(p) {
				return nil, nil // reported already
			}
			return nil, &PathError{Path: p, Reason: "skipped", Err: err}
		}
	}
	return info, nil
}

// pointsToAncestor reports whether the folder symbolic link p resolves to a
// folder that contains p.
func pointsToAncestor(p string) bool {
	target, err := filepath.EvalSymlinks(p)
	if err != nil {
		return false
	}
	parent, err := filepath.EvalSymlinks(filepath.Dir(p))
	if err != nil {
		return false
	}
	return parent == target || strings.HasPrefix(parent, target+string(filepath.Separator))
}
