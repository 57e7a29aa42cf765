//go:build !windows

package confine

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// tree builds a library with links in and out, an outside folder and an
// allowed outside folder.
func tree(t *testing.T) (lib, outside, allowed string) {
	t.Helper()
	base := t.TempDir()
	lib, outside, allowed = filepath.Join(base, "lib"), filepath.Join(base, "outside"), filepath.Join(base, "allowed")
	for _, d := range []string{lib + "/sub", outside, allowed} {
		must(t, os.MkdirAll(d, 0o755))
	}
	must(t, os.WriteFile(lib+"/a.jpg", []byte("inside"), 0o644))
	must(t, os.WriteFile(outside+"/secret.jpg", []byte("secret"), 0o600))
	must(t, os.WriteFile(allowed+"/ok.jpg", []byte("allowed"), 0o644))
	must(t, os.Symlink("../a.jpg", lib+"/sub/in.jpg"))               // inside -> inside
	must(t, os.Symlink(lib+"/a.jpg", lib+"/sub/abs-in.jpg"))         // absolute, inside
	must(t, os.Symlink(outside+"/secret.jpg", lib+"/out.jpg"))       // inside -> outside
	must(t, os.Symlink("../outside/secret.jpg", lib+"/rel-out.jpg")) // relative, outside
	must(t, os.Symlink(outside, lib+"/outdir"))                      // folder link out
	must(t, os.Symlink("sub", lib+"/indir"))                         // folder link in
	must(t, os.Symlink(allowed+"/ok.jpg", lib+"/allowed.jpg"))       // into the allowed folder
	must(t, os.Symlink("/etc/shadow", lib+"/shadow.jpg"))
	must(t, os.Symlink("/dev/zero", lib+"/zero.jpg"))
	must(t, os.Symlink(lib+"/none.jpg", lib+"/dangling.jpg"))
	must(t, syscall.Mkfifo(lib+"/fifo.jpg", 0o644))
	must(t, os.Symlink("fifo.jpg", lib+"/to-fifo.jpg"))
	return lib, outside, allowed
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestOpen(t *testing.T) {
	lib, outside, allowed := tree(t)
	plain, err := New(lib, nil)
	must(t, err)
	defer plain.Close()
	withAllowed, err := New(lib, []string{allowed})
	must(t, err)
	defer withAllowed.Close()
	for _, tc := range []struct {
		name    string
		root    *Root
		path    string
		want    string // content read, or
		wantErr error
	}{
		{"regular", plain, lib + "/a.jpg", "inside", nil},
		{"link inside to inside", plain, lib + "/sub/in.jpg", "inside", nil},
		{"through a folder link inside", plain, lib + "/indir/in.jpg", "inside", nil},
		{"absolute link inside to inside", plain, lib + "/sub/abs-in.jpg", "inside", nil},
		{"link to outside", plain, lib + "/out.jpg", "", ErrOutside},
		{"relative link to outside", plain, lib + "/rel-out.jpg", "", ErrOutside},
		{"link to /etc/shadow", plain, lib + "/shadow.jpg", "", ErrOutside},
		{"link to a device", plain, lib + "/zero.jpg", "", ErrOutside},
		{"through a folder link out", plain, lib + "/outdir/secret.jpg", "", ErrOutside},
		{"outside lexically", plain, outside + "/secret.jpg", "", ErrOutside},
		{"dotdot", plain, lib + "/../outside/secret.jpg", "", ErrOutside},
		{"link into a folder not allowed", plain, lib + "/allowed.jpg", "", ErrOutside},
		{"link into the allowed folder", withAllowed, lib + "/allowed.jpg", "allowed", nil},
		{"allowed does not open other outside links", withAllowed, lib + "/out.jpg", "", ErrOutside},
		{"fifo", plain, lib + "/fifo.jpg", "", ErrNotRegular},
		{"link to a fifo", plain, lib + "/to-fifo.jpg", "", ErrNotRegular},
		{"folder", plain, lib + "/sub", "", ErrNotRegular},
		{"dangling", plain, lib + "/dangling.jpg", "", fs.ErrNotExist},
		{"missing", plain, lib + "/none.jpg", "", fs.ErrNotExist},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan struct{})
			go func() {
				defer close(done)
				f, err := tc.root.Open(tc.path)
				if tc.wantErr != nil {
					if f != nil {
						f.Close()
					}
					if !errors.Is(err, tc.wantErr) {
						t.Errorf("Open: %v, want %v", err, tc.wantErr)
					}
					return
				}
				if err != nil {
					t.Errorf("Open: %v", err)
					return
				}
				defer f.Close()
				b, _ := io.ReadAll(f)
				if string(b) != tc.want {
					t.Errorf("read %q, want %q", b, tc.want)
				}
			}()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Open blocked (a FIFO opened for reading?)")
			}
		})
	}
}

func TestCheck(t *testing.T) {
	lib, _, allowed := tree(t)
	r, err := New(lib, []string{allowed})
	must(t, err)
	defer r.Close()
	plain, err := New(lib, nil)
	must(t, err)
	defer plain.Close()
	for _, tc := range []struct {
		root    *Root
		path    string
		wantErr error
	}{
		{plain, lib, nil},
		{plain, lib + "/a.jpg", nil},
		{plain, lib + "/sub", nil},
		{plain, lib + "/sub/in.jpg", nil},
		{plain, lib + "/sub/abs-in.jpg", nil},
		{plain, lib + "/out.jpg", ErrOutside},
		{plain, lib + "/shadow.jpg", ErrOutside},
		{plain, lib + "/outdir", ErrOutside},
		{plain, lib + "/outdir/secret.jpg", ErrOutside},
		{plain, lib + "/indir/in.jpg", ErrOutside}, // a second name, through a folder link
		{plain, lib + "/allowed.jpg", ErrOutside},
		{r, lib + "/allowed.jpg", nil},
		{plain, filepath.Dir(lib), ErrOutside},
		{plain, lib + "/dangling.jpg", fs.ErrNotExist},
	} {
		if err := tc.root.Check(tc.path); !errors.Is(err, tc.wantErr) && !(tc.wantErr == nil && err == nil) {
			t.Errorf("Check(%s) = %v, want %v", tc.path, err, tc.wantErr)
		}
	}
	// The folder link itself leads out: Check of the link.
	var oe *OutsideError
	if err := plain.Check(lib + "/outdir"); !errors.As(err, &oe) || oe.Target == "" {
		t.Errorf("Check(outdir) = %v, want an OutsideError naming the target", err)
	}
	if !plain.Once("x") || plain.Once("x") {
		t.Error("Once is true the first time only")
	}
}

// A library given through a symbolic link works the same.
func TestLibraryBehindLink(t *testing.T) {
	lib, _, _ := tree(t)
	link := filepath.Join(t.TempDir(), "photos")
	must(t, os.Symlink(lib, link))
	r, err := New(link, nil)
	must(t, err)
	defer r.Close()
	f, err := r.Open(link + "/sub/in.jpg")
	must(t, err)
	f.Close()
	if err := r.Check(link + "/sub/in.jpg"); err != nil {
		t.Error(err)
	}
	if _, err := r.Open(link + "/out.jpg"); !errors.Is(err, ErrOutside) {
		t.Errorf("out.jpg: %v", err)
	}
}

func TestOpenRegular(t *testing.T) {
	lib, _, _ := tree(t)
	f, err := OpenRegular(lib + "/out.jpg") // no root: links are the caller's choice
	must(t, err)
	f.Close()
	done := make(chan error, 1)
	go func() { _, err := OpenRegular(lib + "/fifo.jpg"); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrNotRegular) {
			t.Errorf("fifo: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OpenRegular blocked on a FIFO")
	}
	if _, err := OpenRegular("/dev/zero"); !errors.Is(err, ErrNotRegular) {
		t.Errorf("/dev/zero: %v", err)
	}
}
