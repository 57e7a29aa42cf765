// Package confine keeps what faced reads inside the photo library. A Root
// is the library folder (InputDirectory) plus the outside folders the
// configuration allows symbolic links to lead into (AllowedOutsideFolders).
//
// Open opens a photo through os.Root: symbolic links are followed at open
// time (openat, no check-then-open race) only while they stay inside the
// library, or lead into an allowed folder; a link that leads anywhere else
// (x.jpg -> /etc/shadow) is an *OutsideError and nothing is read. Special
// files (FIFOs, sockets, devices) are refused from lstat/stat before any
// open, the open is non-blocking, and fstat checks the opened file again.
//
// Check answers the same question without opening, for the watcher and the
// reconciliation walk: a path below a symbolic link to a folder (a scan of
// LINK/sub) or a link leading out is refused, and Once lets them report
// each such path a single time.
package confine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// ErrOutside: the path, or the symbolic link it is, leads outside the
// library and the allowed folders.
var ErrOutside = errors.New("leads outside the photo folder")

// ErrNotRegular: the path is a FIFO, socket, device or folder, which faced
// never opens for reading.
var ErrNotRegular = errors.New("not a regular file")

// OutsideError is a path that resolves outside the library.
type OutsideError struct {
	Path   string // the path asked for
	Target string // where it leads ("" when it is outside lexically)
	Via    string // "symbolic link" or "symbolic link to a folder" or ""
}

func (e *OutsideError) Error() string {
	switch {
	case e.Target == "":
		return fmt.Sprintf("%s is outside the photo folder", e.Path)
	case e.Via != "":
		return fmt.Sprintf("%s %s (to %s)", e.Via, ErrOutside, e.Target)
	}
	return fmt.Sprintf("%s %s (to %s)", e.Path, ErrOutside, e.Target)
}

func (e *OutsideError) Is(target error) bool { return target == ErrOutside }

// Root is a library folder and the outside folders links may lead into.
// It is safe for concurrent use.
type Root struct {
	dir     string // the library as configured (absolute, clean)
	real    string // its real path (symbolic links resolved)
	root    *os.Root
	allowed []*allowedRoot
	once    sync.Map // path -> struct{}: reported
}

type allowedRoot struct {
	real string
	root *os.Root
}

// New opens the library folder dir and the allowed outside folders.
func New(dir string, allowed []string) (*Root, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("confine: %w", err)
	}
	or, err := os.OpenRoot(real)
	if err != nil {
		return nil, fmt.Errorf("confine: %w", err)
	}
	r := &Root{dir: filepath.Clean(abs), real: real, root: or}
	for _, a := range allowed {
		ar, err := filepath.EvalSymlinks(a)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("confine: allowed folder: %w", err)
		}
		rt, err := os.OpenRoot(ar)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("confine: allowed folder: %w", err)
		}
		r.allowed = append(r.allowed, &allowedRoot{real: ar, root: rt})
	}
	return r, nil
}

// Close releases the folders' descriptors.
func (r *Root) Close() error {
	if r == nil {
		return nil
	}
	errs := []error{r.root.Close()}
	for _, a := range r.allowed {
		errs = append(errs, a.root.Close())
	}
	return errors.Join(errs...)
}

// Dir is the library folder as given to New (absolute).
func (r *Root) Dir() string { return r.dir }

// Once reports whether this is the first call for path: callers report a
// refused path once, not at every rescan.
func (r *Root) Once(path string) bool {
	_, seen := r.once.LoadOrStore(path, struct{}{})
	return !seen
}

// rel returns p relative to the library, lexically; an *OutsideError when
// p is not below it.
func (r *Root) rel(p string) (string, error) {
	if !filepath.IsAbs(p) {
		return "", &OutsideError{Path: p}
	}
	rel, err := filepath.Rel(r.dir, filepath.Clean(p))
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", &OutsideError{Path: p}
	}
	return rel, nil
}

// within reports whether p is d or inside it.
func within(p, d string) bool {
	rel, err := filepath.Rel(d, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// insideReal reports whether the real path p is in the library or an
// allowed folder; the allowed root (nil for the library) and p relative
// to it.
func (r *Root) insideReal(p string) (bool, *allowedRoot, string) {
	if within(p, r.real) {
		rel, _ := filepath.Rel(r.real, p)
		return true, nil, rel
	}
	for _, a := range r.allowed {
		if within(p, a.real) {
			rel, _ := filepath.Rel(a.real, p)
			return true, a, rel
		}
	}
	return false, nil, ""
}

// Check reports whether p may be read: it is below the library without
// passing through a symbolic link to a folder, and when p is itself a
// symbolic link, it resolves inside the library or an allowed folder.
// Errors are *OutsideError (errors.Is ErrOutside) or the file system's
// (a dangling link: fs.ErrNotExist).
func (r *Root) Check(p string) error {
	rel, err := r.rel(p)
	if err != nil {
		return err
	}
	if rel == "." {
		return nil
	}
	// The folders on the way: the walk never follows a symbolic link to a
	// folder, so a path through one is a second name or a way out.
	parent := filepath.Dir(p)
	if realParent, err := filepath.EvalSymlinks(parent); err == nil {
		if want := filepath.Join(r.real, filepath.Dir(rel)); realParent != want {
			return &OutsideError{Path: p, Target: realParent, Via: "symbolic link to a folder"}
		}
	} else {
		return err
	}
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		return nil
	}
	target, err := filepath.EvalSymlinks(p)
	if err != nil {
		return err
	}
	if ok, _, _ := r.insideReal(target); !ok {
		return &OutsideError{Path: p, Target: target, Via: "symbolic link"}
	}
	return nil
}

// Open opens the regular file p (below the library) for reading. Symbolic
// links are followed while they stay inside the library or lead into an
// allowed folder; special files are refused without being opened.
func (r *Root) Open(p string) (*os.File, error) {
	rel, err := r.rel(p)
	if err != nil {
		return nil, err
	}
	return openIn(r.root, rel, p, func() (*os.File, error) {
		// os.Root refused (a link leading out, or an absolute link, which
		// os.Root never follows): find out where the path leads and open
		// the real path in the library or the allowed folder it is in.
		target, err := filepath.EvalSymlinks(p)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: p, Err: unwrap(err)}
		}
		ok, a, arel := r.insideReal(target)
		if !ok {
			return nil, &OutsideError{Path: p, Target: target, Via: "symbolic link"}
		}
		root := r.root
		if a != nil {
			root = a.root
		}
		return openIn(root, arel, p, nil)
	})
}

// openIn opens rel in root as Open does; on an error other than "does not
// exist", fallback (when set) decides.
func openIn(root *os.Root, rel, p string, fallback func() (*os.File, error)) (*os.File, error) {
	fi, err := root.Stat(rel)
	if err == nil && !fi.Mode().IsRegular() {
		return nil, notRegular(p, fi.Mode())
	}
	var f *os.File
	if err == nil {
		f, err = root.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	}
	if err != nil {
		if fallback != nil && !errors.Is(err, fs.ErrNotExist) {
			return fallback()
		}
		return nil, &fs.PathError{Op: "open", Path: p, Err: unwrap(err)}
	}
	// Replaced between the stat and the open: check what was opened.
	return regularOpened(f, p)
}

// regularOpened returns f, just opened as p, if it is a regular file
// (fstat); otherwise it closes f and returns the fstat error or the
// ErrNotRegular one. openIn and OpenRegular check what they opened
// through it.
func regularOpened(f *os.File, p string) (*os.File, error) {
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		if err != nil {
			return nil, err
		}
		return nil, notRegular(p, st.Mode())
	}
	return f, nil
}

func notRegular(p string, m fs.FileMode) error {
	kind := "special file"
	switch t := m.Type(); {
	case t&fs.ModeDir != 0:
		kind = "folder"
	case t&fs.ModeNamedPipe != 0:
		kind = "named pipe (FIFO)"
	case t&fs.ModeSocket != 0:
		kind = "socket"
	case t&fs.ModeDevice != 0:
		kind = "device"
	}
	return &fs.PathError{Op: "open", Path: p, Err: fmt.Errorf("%w: a %s", ErrNotRegular, kind)}
}

func unwrap(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// OpenRegular opens the regular file p for reading, wherever it is (for
// files a user names on the command line): special files are refused
// from stat, without being opened, and the open is non-blocking.
func OpenRegular(p string) (*os.File, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, notRegular(p, fi.Mode())
	}
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	return regularOpened(f, p)
}
