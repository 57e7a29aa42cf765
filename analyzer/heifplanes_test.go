package analyzer

import (
	"context"
	"image"
	"os"
	"path/filepath"
	"testing"

	"gocv.io/x/gocv"

	"github.com/faced/faced/analyzer/heif"
	"github.com/faced/faced/face"
)

// TestHEIFPlanesMatchWholeImage: a HEIC larger than DetectMaxSide (stored
// sideways, irot) analysed from libheif's planes (detection image reduced
// from the planes, crops from the faces' rectangle) gives exactly the faces
// of the whole interleaved image through analyzeUpright, the path it
// replaces.
func TestHEIFPlanesMatchWholeImage(t *testing.T) {
	a := newAnalyzer(t, Options{})
	src := gocv.IMRead(sourcePhotos(t)[0], gocv.IMReadColor)
	defer src.Close()
	big := gocv.NewMat()
	defer big.Close()
	// 2.5 times DetectMaxSide on the long side: a non-integer reduction.
	w := a.opt.DetectMaxSide * 5 / 2
	gocv.Resize(src, &big, image.Pt(w, w*src.Rows()/src.Cols()), 0, 0, gocv.InterpolationCubic)
	stored := storedFor(big, 6)
	defer stored.Close()
	p := filepath.Join(t.TempDir(), "big.heic")
	if err := heif.Encode(p, stored, heif.HEVC, 90, 6, 0); err != nil {
		t.Fatal(err)
	}
	if _, _, reduce := a.detectionSize(big.Cols(), big.Rows()); !reduce {
		t.Fatal("the test image is not reduced for detection: the planes path would not run")
	}
	got := analyze(t, a, p)
	if len(got.Faces) == 0 {
		t.Fatal("no faces")
	}

	buf, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	img, in, err := heif.Decode(buf)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	want := &face.Result{Width: in.Width, Height: in.Height, Orientation: 1, Faces: []face.Face{}}
	var tm Timings
	if err := a.analyzeUpright(context.Background(), img, want, true, &tm); err != nil {
		t.Fatal(err)
	}
	if got.Width != want.Width || got.Height != want.Height || len(got.Faces) != len(want.Faces) {
		t.Fatalf("%dx%d %d faces; whole image %dx%d %d faces", got.Width, got.Height, len(got.Faces), want.Width, want.Height, len(want.Faces))
	}
	for i, g := range got.Faces {
		wf := want.Faces[i]
		if g.Box != wf.Box || g.Age != wf.Age || g.MaleProb != wf.MaleProb || cosine(g.Features, wf.Features) < 0.99999 {
			t.Errorf("face %d: box %v age %.3f male %.4f; whole image %v %.3f %.4f", i, g.Box, g.Age, g.MaleProb, wf.Box, wf.Age, wf.MaleProb)
		}
	}
}
