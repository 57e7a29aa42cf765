package watcher

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faced/faced/internal/confine"
)

// With the library's confinement, a symbolic link leading outside is
// skipped and reported once (by the watcher and by every later walk
// together); links inside keep working; a walk rooted at a link to an
// outside folder is refused.
func TestConfinedSymlinks(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.jpg")
	write(t, secret, "secret")
	conf, err := confine.New(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conf.Close()
	w := startAt(t, root, Options{Confine: conf}, nil)

	out := filepath.Join(root, "out.jpg")
	if err := os.Symlink(secret, out); err != nil {
		t.Fatal(err)
	}
	if pe := nextError(t, w, "outside"); pe.Path != out {
		t.Errorf("reported %q, want %q", pe.Path, out)
	}
	photo := filepath.Join(root, "real.jpg")
	write(t, photo, "real")
	in := filepath.Join(root, "in.jpg")
	if err := os.Symlink("real.jpg", in); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	deadlineAt := time.Now().Add(3 * time.Second)
	for len(got) < 2 && time.Now().Before(deadlineAt) {
		select {
		case ev := <-w.Events():
			got[ev.Path] = true
		case <-time.After(100 * time.Millisecond):
		}
	}
	if !got[photo] || !got[in] || got[out] {
		t.Errorf("events %v: want the photo and the link inside, not the link out", got)
	}

	folderLink := filepath.Join(root, "LINK")
	if err := os.Symlink(outside, folderLink); err != nil {
		t.Fatal(err)
	}
	var errs []string
	var seen []string
	opt := Options{Extensions: testExts, Confine: conf, OnError: func(err error) { errs = append(errs, err.Error()) }}
	visit := func(p string, _ fs.FileInfo) error { seen = append(seen, p); return nil }
	for range 2 {
		if err := Walk(context.Background(), root, opt, visit); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Join(seen, ",") != strings.Join([]string{in, photo, in, photo}, ",") {
		t.Errorf("walks saw %q", seen)
	}
	if n := strings.Count(strings.Join(errs, "\n"), "out.jpg"); n != 0 {
		t.Errorf("the link out was reported %d more times by the walks: %q", n, errs)
	}
	for _, p := range []string{folderLink, filepath.Join(folderLink, "secret.jpg"), out} {
		seen = nil
		err := Walk(context.Background(), p, opt, visit)
		if err == nil && len(seen) > 0 {
			t.Errorf("walk of %s saw %q", p, seen)
		}
	}
}
