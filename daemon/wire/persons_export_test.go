package wire

import (
	"context"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faced/faced/exporters"
	"github.com/faced/faced/face"
	"github.com/faced/faced/index"
	"github.com/faced/faced/persons"
)

// TestForgetAndHideLeaveTheSidecar: a forgotten person's regions and
// keyword leave the sidecars, and so do a hidden person's; the other
// person's stay.
func TestForgetAndHideLeaveTheSidecar(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	photo := filepath.Join(dir, "a.jpg")
	fh, err := os.Create(photo)
	if err != nil {
		t.Fatal(err)
	}
	if err := jpeg.Encode(fh, image.NewGray(image.Rect(0, 0, 300, 80)), nil); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	s := openStore(t)
	ix := s.ix
	if err := s.Enqueue(ctx, photo, "new"); err != nil {
		t.Fatal(err)
	}
	job := lease1(t, s, photo)
	mk := func(x float64) face.Face {
		b := face.Box{X1: x, Y1: 10, X2: x + 40, Y2: 50}
		f := face.Face{Box: b, StoredBox: b, Score: 0.99, Age: 30, MaleProb: 0.8, Features: make([]float32, 8)}
		f.Features[0] = 1
		return f
	}
	res := &face.Result{File: photo, Kind: face.KindPhoto, Width: 300, Height: 80, StoredWidth: 300, StoredHeight: 80,
		Faces: []face.Face{mk(10), mk(100), mk(200)}, Model: "test"}
	if err := s.Done(ctx, job, 1, time.Unix(1, 0), "h", res); err != nil {
		t.Fatal(err)
	}
	faces, _ := ix.Faces(ctx, index.FaceQuery{NoFeatures: true})
	svc := persons.New(ix, persons.Options{})
	var ids []int64
	for i, n := range []string{"Alice", "Bob", "Carol"} {
		id, err := ix.CreatePerson(ctx, index.Person{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Move(ctx, []int64{faces[i].ID}, id); err != nil {
			t.Fatal(err)
		}
		if err := svc.Name(ctx, id, n); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	ex, err := exporters.New(exporters.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := NewExporter(persons.New(ix, persons.Options{}), ex)
	sidecar := photo + ".xmp"
	read := func() string {
		t.Helper()
		if err := e.Export(ctx, photo); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(sidecar)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	x := read()
	for _, n := range []string{"Alice", "Bob", "Carol"} {
		if !strings.Contains(x, n) {
			t.Fatalf("sidecar lacks %s before the edits:\n%s", n, x)
		}
	}
	if err := svc.Forget(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	if err := svc.Hide(ctx, ids[1], true); err != nil {
		t.Fatal(err)
	}
	x = read()
	for _, n := range []string{"Alice", "Bob"} {
		if strings.Contains(x, n) {
			t.Errorf("sidecar still names %s after forget/hide:\n%s", n, x)
		}
	}
	if !strings.Contains(x, "Carol") {
		t.Errorf("sidecar lost Carol:\n%s", x)
	}
	for _, f := range faces[:2] {
		if strings.Contains(x, `faced:FaceID="`+strconv.FormatInt(f.ID, 10)+`"`) ||
			strings.Contains(x, "<faced:FaceID>"+strconv.FormatInt(f.ID, 10)+"<") {
			t.Errorf("sidecar keeps the region of face %d", f.ID)
		}
	}
	if n := strings.Count(x, "<mwg-rs:Name>"); n != 1 {
		t.Errorf("%d named regions left, want 1 (Carol):\n%s", n, x)
	}
}
