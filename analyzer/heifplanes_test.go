package analyzer

import (
	"context"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
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

// TestLargeHEIFDecodesOneAtATime: with SetLargeHEIFDecodes(1) (the daemon's
// default), workers analysing large HEIF images at the same time never
// decode two at once (two concurrent 12 MP decodes put the daemon's peak RSS
// over budget), and every analysis still finds its faces.
func TestLargeHEIFDecodesOneAtATime(t *testing.T) {
	var inFlight, most atomic.Int32
	orig := heifDecodePlanes
	heifDecodePlanes = func(buf []byte) (*heif.Planes, heif.Info, error) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		return orig(buf)
	}
	defer func() { heifDecodePlanes = orig }()
	SetLargeHEIFDecodes(1)
	defer SetLargeHEIFDecodes(0)

	src := gocv.IMRead(sourcePhotos(t)[0], gocv.IMReadColor)
	defer src.Close()
	big := gocv.NewMat()
	defer big.Close()
	w := 3000 // 5 MP at this photo's 1.7:1, above heifGatePixels
	gocv.Resize(src, &big, image.Pt(w, w*src.Rows()/src.Cols()), 0, 0, gocv.InterpolationLinear)
	if big.Cols()*big.Rows() <= heifGatePixels {
		t.Fatalf("test image %dx%d is not above the gate's %d pixels", big.Cols(), big.Rows(), heifGatePixels)
	}
	p := filepath.Join(t.TempDir(), "big.heic")
	if err := heif.Encode(p, big, heif.HEVC, 80, 1, 0); err != nil {
		t.Fatal(err)
	}
	const workers, rounds = 2, 3
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for i := 0; i < workers; i++ {
		a := newAnalyzer(t, Options{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				res, _, err := a.AnalyzeTimed(context.Background(), p)
				if err == nil && len(res.Faces) == 0 {
					err = fmt.Errorf("no faces")
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := most.Load(); got != 1 {
		t.Errorf("%d large HEIF decodes ran at once, want 1", got)
	}
}
