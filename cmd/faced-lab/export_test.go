package main

import (
	"bytes"
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faced/faced/daemon/wire"
	"github.com/faced/faced/face"
	"github.com/faced/faced/index"
	"github.com/faced/faced/internal/shared"
)

// TestExportCommand indexes one real photo with a named person, runs
// `faced-lab export PATH` and `--all`, and reads the sidecar back with
// exiftool.
func TestExportCommand(t *testing.T) {
	src := filepath.Join(shared.Dir(t, "testdata/photos/xmp_face_regions"), "immich_portrait.jpg")
	if _, err := exec.LookPath("exiftool"); err != nil {
		t.Skip("exiftool not installed")
	}
	ctx := context.Background()
	root := t.TempDir()
	in, data := filepath.Join(root, "photos"), filepath.Join(root, "data")
	os.MkdirAll(in, 0o755)
	os.MkdirAll(data, 0o755)
	photo := filepath.Join(in, "p.jpg")
	b, _ := os.ReadFile(src)
	os.WriteFile(photo, b, 0o644)
	cfgFile := filepath.Join(root, "config.txt")
	os.WriteFile(cfgFile, []byte("[DEFAULT]\nInputDirectory = photos\nDataDirectory = data\nUnnamedPersonLabel = Person\n"), 0o644)

	ix, err := index.Open(ctx, filepath.Join(data, wire.IndexFile))
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(photo)
	_, ids, err := ix.RecordAnalysis(ctx, index.Analysis{
		File: index.File{Path: photo, Size: fi.Size(), ModTime: fi.ModTime(), Kind: face.KindPhoto},
		Result: face.Result{File: photo, Kind: face.KindPhoto, Width: 840, Height: 700, StoredWidth: 840, StoredHeight: 700, Orientation: 1,
			Model: "test", Faces: []face.Face{{Box: face.Box{X1: 20, Y1: 500, X2: 120, Y2: 640}, StoredBox: face.Box{X1: 20, Y1: 500, X2: 120, Y2: 640}, Score: 0.99, Age: 30, MaleProb: 0.2, Features: unit(8)}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	pid, err := ix.CreatePerson(ctx, index.Person{Name: "Zed", NameSource: index.SourceUser})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ix.AssignFaces(ctx, map[int64]int64{ids[0]: pid}, index.SourceUser); err != nil {
		t.Fatal(err)
	}
	ix.Close()

	old := configPath
	configPath = cfgFile
	defer func() { configPath = old }()
	var out bytes.Buffer
	if err := runExport(ctx, exportOptions{}, []string{photo}, &out); err != nil {
		t.Fatalf("export: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "wrote    "+photo+".xmp") {
		t.Errorf("output:\n%s", out.String())
	}
	got, err := exec.Command("exiftool", "-s3", "-RegionName", "-TagsList", photo+".xmp").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), "Zed") || !strings.Contains(string(got), "People/Zed") || !strings.Contains(string(got), "Marie Curie") {
		t.Errorf("sidecar regions/keywords: %s", got)
	}
	out.Reset()
	if err := runExport(ctx, exportOptions{all: true}, nil, &out); err != nil {
		t.Fatalf("export --all: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "current  "+photo) {
		t.Errorf("second export not current:\n%s", out.String())
	}
	out.Reset()
	if err := runExport(ctx, exportOptions{}, []string{filepath.Join(in, "nope.jpg")}, &out); err == nil {
		t.Errorf("unknown file exported: %s", out.String())
	}
}

// unit returns an L2-normalised vector of n equal values.
func unit(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(1 / math.Sqrt(float64(n)))
	}
	return v
}
