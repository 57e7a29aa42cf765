package wire

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faced/faced/exporters"
	"github.com/faced/faced/face"
	"github.com/faced/faced/index"
	"github.com/faced/faced/internal/shared"
	"github.com/faced/faced/persons"
	"github.com/faced/faced/watcher"
)

// TestRawJPEGPairSidecars: the JPEG of a RAW+JPEG pair is the file analysed;
// its faces reach the raw's sidecar too (full naming: IMG_1.CR2.xmp, as
// digiKam and darktable name it), and with base naming the pair's one
// IMG_1.xmp (Lightroom's name) is written once and then current.
func TestRawJPEGPairSidecars(t *testing.T) {
	src := filepath.Join(shared.Dir(t, "testdata/photos/exif_orientation"), "pillow_hopper.jpg")
	for _, naming := range []string{"full", "base"} {
		t.Run(naming, func(t *testing.T) {
			ctx := context.Background()
			s := openStore(t)
			dir := t.TempDir()
			jpg, raw := filepath.Join(dir, "IMG_1.JPG"), filepath.Join(dir, "IMG_1.CR2")
			copyTo(t, src, jpg)
			if err := os.WriteFile(raw, []byte("II*\x00\x10\x00\x00\x00CR\x02\x00"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := s.Enqueue(ctx, jpg, "new"); err != nil {
				t.Fatal(err)
			}
			job := lease1(t, s, jpg)
			box := face.Box{X1: 30, Y1: 20, X2: 90, Y2: 100}
			f := face.Face{Box: box, StoredBox: box, Score: 0.99, Age: 30, MaleProb: 0.2, Features: make([]float32, 8)}
			res := &face.Result{File: jpg, Kind: face.KindPhoto, Width: 128, Height: 128, StoredWidth: 128, StoredHeight: 128, Faces: []face.Face{f}, Model: "test"}
			if err := s.Done(ctx, job, 1, time.Unix(1, 0), "h", res); err != nil {
				t.Fatal(err)
			}
			faces, _ := s.ix.Faces(ctx, index.FaceQuery{NoFeatures: true})
			pid, _ := s.ix.CreatePerson(ctx, index.Person{})
			s.ix.SetName(ctx, pid, "Anna", index.SourceUser)
			s.ix.AssignFaces(ctx, map[int64]int64{faces[0].ID: pid}, index.SourceAuto)
			var writes []string
			ex, err := exporters.New(exporters.Options{Naming: naming, UnnamedLabel: "Person", OnWrite: func(p string) { writes = append(writes, filepath.Base(p)) }})
			if err != nil {
				t.Fatal(err)
			}
			e := NewExporter(persons.New(s.ix, persons.Options{}), ex)
			if err := e.Export(ctx, jpg); err != nil {
				t.Fatal(err)
			}
			want := []string{"IMG_1.JPG.xmp", "IMG_1.CR2.xmp"}
			if naming == "base" {
				want = []string{"IMG_1.xmp"}
			}
			if strings.Join(writes, ",") != strings.Join(want, ",") {
				t.Errorf("wrote %v, want %v", writes, want)
			}
			for _, w := range want {
				b, err := os.ReadFile(filepath.Join(dir, w))
				if err != nil || !strings.Contains(string(b), "Anna") {
					t.Errorf("%s: %v, no region named Anna", w, err)
				}
			}
			writes = nil
			if err := e.Export(ctx, jpg); err != nil || len(writes) != 0 {
				t.Errorf("second export wrote %v (%v), want nothing", writes, err)
			}
		})
	}
}

// TestWalkSkipsCompanions: the raw of a RAW+JPEG pair and a Live Photo's
// MOV are not queued: the still is the one file analysed; a lone raw and
// a lone MOV are.
func TestWalkSkipsCompanions(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"IMG_1.JPG", "IMG_1.CR2", "IMG_2.HEIC", "IMG_2.MOV", "IMG_3.NEF", "IMG_4.MOV"} {
		os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644)
	}
	var got []string
	walk := Walk(watcher.Options{Ignore: ignored})
	if err := walk(context.Background(), dir, func(p string) error { got = append(got, filepath.Base(p)); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if want := []string{"IMG_1.JPG", "IMG_2.HEIC", "IMG_3.NEF", "IMG_4.MOV"}; !slices.Equal(got, want) {
		t.Errorf("walk found %v, want %v", got, want)
	}
}
