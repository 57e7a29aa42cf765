package exporters

import (
	"bytes"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/faced/faced/face"
	"github.com/faced/faced/internal/shared"
)

func decodePixels(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := jpeg.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	switch m := img.(type) {
	case *image.YCbCr:
		return append(append(append([]byte{}, m.Y...), m.Cb...), m.Cr...)
	case *image.Gray:
		return m.Pix
	}
	t.Fatalf("unexpected image type %T", img)
	return nil
}

// TestEmbeddedMode (opt-in) merges into the photo's own XMP on a temporary
// copy: foreign regions and keywords stay, pixels and modification time do
// not change, a second export writes nothing.
func TestEmbeddedMode(t *testing.T) {
	needTool(t, "exiftool")
	src := filepath.Join(shared.Dir(t, regionsDir), "immich_portrait.jpg")
	dir := t.TempDir()
	photo := copyFile(t, src, dir, "e.jpg")
	before := exifDump(t, photo)
	pixBefore := decodePixels(t, photo)
	st0, _ := os.Stat(photo)
	var hooked []string
	e := newExporter(t, Options{Embedded: true, OnWrite: func(p string) { hooked = append(hooked, p) }})
	p := Photo{Path: photo, StoredWidth: 840, StoredHeight: 700, Visibility: "private", Keywords: []string{"Zoe"},
		Regions: []Region{{FaceID: 3, PersonID: 4, Name: "Zoe", StoredBox: face.Box{X1: 20, Y1: 500, X2: 120, Y2: 640}}}}
	r := mustExport(t, e, p)
	if !slices.Equal(r.Written, []string{photo + ".xmp", photo}) || !slices.Equal(hooked, r.Written) {
		t.Fatalf("Written %v, OnWrite %v", r.Written, hooked)
	}
	after := exifDump(t, photo)
	for k, v := range before {
		if d := contains(v, after[k], k); d != "" {
			t.Errorf("embedded: lost %s", d)
		}
	}
	if len(regionList(after)) != len(regionList(before))+1 || !slices.Contains(strs(after["XMP-digiKam:TagsList"]), "People/Zoe") {
		t.Errorf("embedded regions/keywords not written: %v", after["XMP-digiKam:TagsList"])
	}
	if !bytes.Equal(pixBefore, decodePixels(t, photo)) {
		t.Error("pixels changed")
	}
	if st1, _ := os.Stat(photo); !st1.ModTime().Equal(st0.ModTime()) {
		t.Errorf("mtime changed: %v -> %v", st0.ModTime(), st1.ModTime())
	}
	b1, _ := os.ReadFile(photo)
	r = mustExport(t, e, p)
	b2, _ := os.ReadFile(photo)
	if !r.Unchanged || !bytes.Equal(b1, b2) {
		t.Errorf("second embedded export changed something: %+v", r)
	}
}
