package daemon

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faced/faced/api"
	"github.com/faced/faced/watcher"
)

// watcherWalk is the walk the daemon runs in production (package wire):
// watcher.Walk with the library's confinement.
func watcherWalk(opt watcher.Options) WalkFunc {
	return func(ctx context.Context, root string, fn func(string) error) error {
		return watcher.Walk(ctx, root, opt, func(p string, _ fs.FileInfo) error { return fn(p) })
	}
}

// A symbolic link x.jpg -> /etc/shadow (or any file outside the library)
// is never read: its hash was stored in the index.
func TestOutsideLinkNeverRead(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.jpg")
	if err := os.WriteFile(secret, []byte("faces=3"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := newRig(t, Options{})
	good := r.write(t, "good.jpg", "faces=1")
	links := []string{filepath.Join(r.dir, "x.jpg"), filepath.Join(r.dir, "shadow.jpg")}
	if err := os.Symlink(secret, links[0]); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/shadow", links[1]); err != nil {
		t.Fatal(err)
	}
	sum, err := r.d.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sidecar(good) != "faces: 1\n" {
		t.Errorf("good photo: sidecar %q", sidecar(good))
	}
	for _, l := range links {
		r.st.mu.Lock()
		f, ok := r.st.files[l]
		r.st.mu.Unlock()
		if ok && (f.Hash != "" || f.faces != 0) {
			t.Errorf("%s: the target outside the library was read: hash %q, %d faces", l, f.Hash, f.faces)
		}
		if _, err := os.Lstat(l + ".xmp"); err == nil {
			t.Errorf("%s: a sidecar was written", l)
		}
	}
	reasons := map[string]string{}
	for _, e := range sum.Errors {
		reasons[e.Path] = e.Reason
	}
	if !strings.Contains(reasons[links[0]], "outside") {
		t.Errorf("no reason naming the link leading out: %q", reasons)
	}
	if r.an.calls.Load() != 1 {
		t.Errorf("%d analyses, want 1 (the photo inside)", r.an.calls.Load())
	}
}

// facedctl scan LINK, LINK a symbolic link to a folder outside the library,
// is refused: it walked the folder and wrote sidecars there.
func TestScanThroughFolderLinkRefused(t *testing.T) {
	outside := t.TempDir()
	photo := filepath.Join(outside, "p.jpg")
	if err := os.WriteFile(photo, []byte("faces=2"), 0o644); err != nil {
		t.Fatal(err)
	}
	var reported []string
	r := newRig(t, Options{})
	r.d.opt.Walk = watcherWalk(watcher.Options{Extensions: []string{".jpg"}, Confine: r.d.opt.Confine,
		OnError: func(err error) { reported = append(reported, err.Error()) }})
	link := filepath.Join(r.dir, "LINK")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	r.write(t, "in.jpg", "faces=1")
	r.start(t)
	ctx := context.Background()
	for _, p := range []string{link, "LINK", filepath.Join(link, "p.jpg")} {
		if res, err := r.d.Scan(ctx, api.ScanRequest{Path: p}); !errors.Is(err, api.ErrBadRequest) {
			t.Errorf("scan %s: %+v, %v; want a bad request", p, res, err)
		}
	}
	if _, err := r.d.Scan(ctx, api.ScanRequest{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the photo inside exported", func() bool { return sidecar(filepath.Join(r.dir, "in.jpg")) != "" })
	ents, _ := os.ReadDir(outside)
	if len(ents) != 1 {
		t.Errorf("files written outside the library: %v", ents)
	}
	r.st.mu.Lock()
	for p := range r.st.files {
		if strings.HasPrefix(p, link+"/") {
			t.Errorf("indexed through the link: %s", p)
		}
	}
	r.st.mu.Unlock()
}

// The size limit is checked from stat before the file is read: a 10 GB
// sparse .jpg was hashed in full (74 s of a worker) before the analyzer's
// 512 MB limit refused it.
func TestSizeLimitBeforeHashing(t *testing.T) {
	r := newRig(t, Options{MaxSize: func(p string) int64 {
		if strings.HasSuffix(p, ".mp4") {
			return 0
		}
		return 1 << 20
	}})
	big := filepath.Join(r.dir, "big.jpg")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(3 << 20); err != nil { // sparse
		t.Fatal(err)
	}
	f.Close()
	small := r.write(t, "small.jpg", "faces=1")
	sum, err := r.d.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r.st.mu.Lock()
	rec := r.st.files[big]
	r.st.mu.Unlock()
	if rec.Hash != "" {
		t.Errorf("the too large file was read to hash it (%s)", rec.Hash)
	}
	if len(sum.Errors) != 1 || sum.Errors[0].Path != big || !strings.Contains(sum.Errors[0].Reason, "3 MB, more than the 1 MB allowed") {
		t.Errorf("errors %+v", sum.Errors)
	}
	if r.an.calls.Load() != 1 || sidecar(small) != "faces: 1\n" {
		t.Errorf("%d analyses; small sidecar %q", r.an.calls.Load(), sidecar(small))
	}
}
