package wire

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faced/faced/config"
	"github.com/faced/faced/index"
	"github.com/faced/faced/internal/shared"
)

// Index rows that older faced wrote for paths leading out of the library (a
// link to /etc/shadow with its hash; a link to a photo outside, analysed,
// with faces, features, a thumbnail and a sidecar in the library) were kept
// for good: the walk no longer reports them and the file still exists. The
// reconciliation drops them now, with what faced wrote for them, and logs
// each; the photo inside keeps everything.
func TestReconcilePurgesRowsLeadingOut(t *testing.T) {
	ctx := context.Background()
	models := filepath.Join(shared.DataDir(t), "models")
	src := filepath.Join(shared.Dir(t, "testdata/photos/group"), "deepface_couple.jpg")
	t.Setenv("FACED_ORT_LIB", filepath.Join(shared.VarDir(), "lib", "libonnxruntime.so.1.24.1"))
	dir := t.TempDir()
	photos, data, outside := filepath.Join(dir, "photos"), filepath.Join(dir, "data"), filepath.Join(dir, "outside")
	for _, d := range []string{photos, data, outside} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(models, filepath.Join(data, "models")); err != nil {
		t.Fatal(err)
	}
	in, out := filepath.Join(photos, "in.jpg"), filepath.Join(outside, "couple.jpg")
	copyTo(t, src, in)
	copyTo(t, src, out)
	link, shadow := filepath.Join(photos, "x.jpg"), filepath.Join(photos, "shadow.jpg")
	if err := os.Symlink(out, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/shadow", shadow); err != nil {
		t.Fatal(err)
	}
	open := func(extra string, log *slog.Logger) *App {
		t.Helper()
		cfg, err := config.Parse(filepath.Join(dir, "config.txt"), []byte(fmt.Sprintf(
			"[DEFAULT]\nInputDirectory = %s\nDataDirectory = %s\n%s", photos, data, extra)))
		if err != nil {
			t.Fatal(err)
		}
		app, err := Open(ctx, cfg, AppOptions{Once: true, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		return app
	}

	// The index as older faced left it: the link to the outside photo
	// analysed (here by allowing its folder), the link to /etc/shadow
	// stored with the file's hash.
	app := open("AllowedOutsideFolders = "+outside+"\n", nil)
	if _, err := app.Daemon.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Index.UpsertFile(ctx, index.File{Path: shadow, Size: 1024, ModTime: time.Unix(1, 0),
		Hash: "34b38d0e1a3a3c1bba3f6c1c3b1e7a2c3cbb7d1b0e77a4e1f3f7f9f0b4c1d2e3"}); err != nil {
		t.Fatal(err)
	}
	f, err := app.Index.FileByPath(ctx, link)
	if err != nil {
		t.Fatal(err)
	}
	linkFaces, err := app.Index.Faces(ctx, index.FaceQuery{FileID: f.ID})
	if err != nil || len(linkFaces) == 0 || len(linkFaces[0].Features) == 0 {
		t.Fatalf("the link's analysis: %d faces (%v); want faces with features", len(linkFaces), err)
	}
	var ids []int64
	for _, fc := range linkFaces {
		ids = append(ids, fc.ID)
	}
	// A thumbnail of the link's face, as older faced cached it (it is no
	// longer made through a link leading out): the inside face's bytes.
	fin, err := app.Index.FileByPath(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	inFaces, err := app.Index.Faces(ctx, index.FaceQuery{FileID: fin.ID, NoFeatures: true})
	if err != nil || len(inFaces) == 0 {
		t.Fatalf("the inside photo's faces: %d, %v", len(inFaces), err)
	}
	jpg, err := app.Persons.Thumbs().Get(ctx, inFaces[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	thumb := filepath.Join(data, "thumbs", fmt.Sprintf("%d.jpg", ids[0]))
	inThumb := filepath.Join(data, "thumbs", fmt.Sprintf("%d.jpg", inFaces[0].ID))
	if err := os.WriteFile(thumb, jpg, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{link + ".xmp", in + ".xmp", thumb, inThumb} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("before: %v", err)
		}
	}
	app.Close()

	// Now the links lead out (the default: no allowed folder).
	var logs bytes.Buffer
	app = open("", slog.New(slog.NewTextHandler(&logs, nil)))
	defer app.Close()
	if _, err := app.Daemon.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{link, shadow} {
		if _, err := app.Index.FileByPath(ctx, p); !errors.Is(err, index.ErrNotFound) {
			t.Errorf("%s: still in the index (%v)", p, err)
		}
		if !strings.Contains(logs.String(), `msg="indexed path leads outside the photo folder; its faces left the index" file=`+p) {
			t.Errorf("no log line for %s:\n%s", p, logs.String())
		}
	}
	if left, err := app.Index.Faces(ctx, index.FaceQuery{IDs: ids}); err != nil || len(left) != 0 {
		t.Errorf("%d of the link's faces (and features) left in the index (%v)", len(left), err)
	}
	if _, err := os.Lstat(thumb); err == nil {
		t.Errorf("thumbnail %s left", thumb)
	}
	if _, err := os.Lstat(link + ".xmp"); err == nil {
		t.Errorf("the sidecar faced wrote for the link is left")
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link itself was touched: %v", err)
	}
	if b, err := os.ReadFile(out); err != nil || len(b) == 0 {
		t.Errorf("the photo outside: %v", err)
	}
	if _, err := os.Lstat(out + ".xmp"); err == nil {
		t.Errorf("a sidecar was written outside")
	}
	if fin, err := app.Index.FileByPath(ctx, in); err != nil || fin.Status != index.StatusDone {
		t.Errorf("the photo inside: %+v, %v", fin, err)
	}
	if _, err := os.Stat(inThumb); err != nil {
		t.Errorf("the inside face's thumbnail: %v", err)
	}
	if b, err := os.ReadFile(in + ".xmp"); err != nil || !strings.Contains(string(b), "faced:Faces") {
		t.Errorf("the photo inside lost its sidecar: %v", err)
	}
}
