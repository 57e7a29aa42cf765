package analyzer

import (
	"os/exec"
	"path/filepath"
	"testing"

	"gocv.io/x/gocv"

	"github.com/faced/faced/analyzer/imgmeta"
	"github.com/faced/faced/face"
	"github.com/faced/faced/internal/shared"
)

// TestRotationRetry: a photo stored sideways without an orientation tag
// gets its faces through the seed's rotated retry (fast mode: on a reduced
// image), at the places the upright photo's faces map to; the same pixels
// tagged Orientation 1 skip the retry in fast mode (the tag says they are
// upright) unless RetryTagged, and always in exact mode.
func TestRotationRetry(t *testing.T) {
	src := filepath.Join(shared.Dir(t, "testdata/photos/group"), "face_recognition_two_people.jpg")
	up := gocv.IMRead(src, gocv.IMReadColor)
	defer up.Close()
	side := gocv.NewMat()
	defer side.Close()
	gocv.Rotate(up, &side, gocv.Rotate90CounterClockwise) // upright = side turned 90° clockwise
	dir := t.TempDir()
	untagged := filepath.Join(dir, "sideways.jpg")
	if !gocv.IMWriteWithParams(untagged, side, []int{gocv.IMWriteJpegQuality, 95}) {
		t.Fatal("cannot write")
	}
	tagged := filepath.Join(dir, "sideways_tagged.jpg")
	if _, err := exec.LookPath("exiftool"); err != nil {
		t.Skip("exiftool not installed")
	}
	if out, err := exec.Command("exiftool", "-q", "-n", "-Orientation=1", "-o", tagged, untagged).CombinedOutput(); err != nil {
		t.Fatalf("exiftool: %v %s", err, out)
	}

	fast := newAnalyzer(t, Options{})
	base := analyze(t, fast, src)
	if len(base.Faces) == 0 {
		t.Fatal("no face on the upright photo")
	}
	// Where the upright faces are in the sideways pixels: the sideways
	// image is the upright one under orientation 6's inverse, so
	// BoxToStored(6) maps upright boxes into it.
	var want []face.Box
	for _, f := range base.Faces {
		want = append(want, imgmeta.BoxToStored(6, base.Width, base.Height, f.Box))
	}
	check := func(name string, a *Analyzer, path string, wantFaces bool) {
		t.Run(name, func(t *testing.T) {
			r := analyze(t, a, path)
			if !wantFaces {
				if len(r.Faces) != 0 {
					t.Errorf("%d faces, want none (retry should be skipped)", len(r.Faces))
				}
				return
			}
			var got []face.Box
			for _, f := range r.Faces {
				got = append(got, f.Box)
			}
			if m := matchBoxes(got, want, 0.5); m != len(want) || len(got) != len(want) {
				t.Errorf("%d faces %v, %d match the upright photo's %v (IoU >= 0.5)", len(got), got, m, want)
			}
		})
	}
	check("fast untagged", fast, untagged, true)
	check("fast tagged", fast, tagged, false)
	check("fast tagged RetryTagged", newAnalyzer(t, Options{RetryTagged: true}), tagged, true)
	check("exact tagged", newAnalyzer(t, Options{Exact: true}), tagged, true)
}
