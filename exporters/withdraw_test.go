package exporters

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/faced/faced/face"
	"github.com/faced/faced/internal/shared"
)

// withdrawPhoto exports two faces (one named, then renamed: two merges)
// into a new sidecar of a copy of the test photo, then turns the photo
// into a symbolic link to /etc/shadow, as a library held it when older
// faced analysed links leading out.
func withdrawPhoto(t *testing.T, e *Exporter, dir, name string) (photo, side string) {
	t.Helper()
	src := filepath.Join(shared.Dir(t, orientationDir), "pillow_hopper.jpg")
	photo = copyFile(t, src, dir, name)
	w, h := storedSize(t, photo)
	p := Photo{Path: photo, Kind: face.KindPhoto, StoredWidth: w, StoredHeight: h,
		Visibility: "private", Keywords: []string{"Ada Lovelace"},
		Regions: []Region{
			{FaceID: 11, PersonID: 7, Name: "Ada Lovelace", StoredBox: face.Box{X1: 10, Y1: 20, X2: 50, Y2: 70}, Age: 36, MaleProb: 0.1, Score: 0.99, Model: "seed-int8"},
			{FaceID: 12, PersonID: 8, StoredBox: face.Box{X1: 60, Y1: 30, X2: 100, Y2: 91}, Age: 8.5, MaleProb: 0.8, Score: 0.97, Model: "seed-int8"},
		}}
	mustExport(t, e, p)
	p.Regions[1].Name, p.Keywords = "Bob", append(p.Keywords, "Bob")
	mustExport(t, e, p)
	if err := os.Remove(photo); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/shadow", photo); err != nil {
		t.Fatal(err)
	}
	return photo, photo + ".xmp"
}

// Withdraw removes a sidecar only faced wrote, and merges faced's part out
// of one someone else also wrote in (their keyword stays); sidecars without
// faced's record and links leading out are left as they are.
func TestWithdraw(t *testing.T) {
	dir := t.TempDir()
	var written []string
	e := newExporter(t, Options{UnnamedLabel: "Person", VisibilityKeywordRoot: "faced", FacedVersion: "0.9.1",
		Library: dir, OnWrite: func(p string) { written = append(written, p) }})
	ctx := context.Background()

	t.Run("only faced's", func(t *testing.T) {
		photo, side := withdrawPhoto(t, e, dir, "a.jpg")
		removed, rewritten, err := e.Withdraw(ctx, photo)
		if err != nil || !slices.Equal(removed, []string{side}) || len(rewritten) != 0 {
			t.Fatalf("Withdraw: removed %v, rewritten %v, %v; want %s removed", removed, rewritten, err, side)
		}
		if _, err := os.Lstat(side); err == nil {
			t.Errorf("%s still exists", side)
		}
		if !slices.Contains(written, side) {
			t.Errorf("OnWrite was not told of %s (the watcher would see the removal)", side)
		}
	})

	t.Run("someone else's keyword", func(t *testing.T) {
		needTool(t, "exiftool")
		photo, side := withdrawPhoto(t, e, dir, "b.jpg")
		if out, err := exec.Command("exiftool", "-overwrite_original", "-XMP-dc:Subject+=Holiday", side).CombinedOutput(); err != nil {
			t.Fatalf("exiftool: %v\n%s", err, out)
		}
		removed, rewritten, err := e.Withdraw(ctx, photo)
		if err != nil || len(removed) != 0 || !slices.Equal(rewritten, []string{side}) {
			t.Fatalf("Withdraw: removed %v, rewritten %v, %v; want %s rewritten", removed, rewritten, err, side)
		}
		d := exifDump(t, side)
		if got := toString(d["XMP-dc:Subject"]); got != `["Holiday"]` && got != "Holiday" {
			t.Errorf("dc:subject = %s, want Holiday alone", got)
		}
		for k, v := range d {
			if strings.HasPrefix(k, "XMP-faced:") || strings.HasPrefix(k, "XMP-mwg-rs:") || strings.HasPrefix(k, "XMP-MP:") ||
				(k != "XMP-dc:Subject" && strings.Contains(toString(v), "Lovelace")) {
				t.Errorf("faced's %s = %v left in the sidecar", k, v)
			}
		}
	})

	t.Run("base name shared with another photo", func(t *testing.T) {
		eb := newExporter(t, Options{Naming: "base", FacedVersion: "0.9.1", Library: dir})
		photo, _ := withdrawPhoto(t, eb, dir, "s.jpg")
		side := filepath.Join(dir, "s.xmp")
		before, err := os.ReadFile(side)
		if err != nil {
			t.Fatal(err)
		}
		// s.png's faces are in s.xmp too (base naming).
		other := copyFile(t, filepath.Join(shared.Dir(t, orientationDir), "pillow_hopper.jpg"), dir, "s.png")
		removed, rewritten, err := eb.Withdraw(ctx, photo)
		if err != nil || len(removed)+len(rewritten) != 0 {
			t.Errorf("Withdraw with s.png beside: removed %v, rewritten %v, %v; want nothing touched", removed, rewritten, err)
		}
		if now, _ := os.ReadFile(side); !bytes.Equal(now, before) {
			t.Errorf("the shared %s changed", side)
		}
		os.Remove(other)
		if removed, _, err := eb.Withdraw(ctx, photo); err != nil || !slices.Equal(removed, []string{side}) {
			t.Errorf("Withdraw alone: removed %v, %v; want %s", removed, err, side)
		}
	})

	t.Run("not faced's", func(t *testing.T) {
		photo := filepath.Join(dir, "c.jpg")
		if err := os.Symlink("/etc/shadow", photo); err != nil {
			t.Fatal(err)
		}
		other := []byte(strings.Replace(emptyPacket, `<rdf:Description rdf:about=""/>`,
			`<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:subject><rdf:Bag/></dc:subject></rdf:Description>`, 1))
		if err := os.WriteFile(photo+".xmp", other, 0o644); err != nil {
			t.Fatal(err)
		}
		outside := filepath.Join(t.TempDir(), "d.xmp")
		if err := os.WriteFile(outside, []byte("faced:Version"), 0o644); err != nil {
			t.Fatal(err)
		}
		linked := filepath.Join(dir, "d.jpg")
		if err := os.Symlink(outside, linked+".xmp"); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{photo, linked} {
			removed, rewritten, err := e.Withdraw(ctx, p)
			if err != nil || len(removed)+len(rewritten) != 0 {
				t.Errorf("Withdraw(%s): removed %v, rewritten %v, %v; want nothing touched", p, removed, rewritten, err)
			}
		}
		if b, _ := os.ReadFile(photo + ".xmp"); !bytes.Equal(b, other) {
			t.Errorf("a sidecar without faced's record changed:\n%s", b)
		}
		if b, _ := os.ReadFile(outside); string(b) != "faced:Version" {
			t.Errorf("the file a sidecar link leads to changed: %q", b)
		}
	})
}
