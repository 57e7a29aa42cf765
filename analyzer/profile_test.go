package analyzer

import (
	"context"
	"image"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/faced/faced/analyzer/internal/clock"
	"github.com/faced/faced/face"
	"github.com/faced/faced/internal/shared"
)

// profilePhotos: the benchmark photos, or with FACED_SET=few the photos
// with 0-3 faces.
func profilePhotos(tb testing.TB) []string {
	if os.Getenv("FACED_SET") == "few" {
		return fewFacePhotos(tb)
	}
	return benchPhotos(tb)
}

// TestProfile12MP (opt-in: FACED_PROFILE=1) prints, per 12 MP test photo,
// the CPU time of each stage measured on the analysing thread (ONNX Runtime
// single-threaded, goroutine locked to its thread) and the process CPU per
// photo: what predicts throughput on free cores when the machine is shared.
func TestProfile12MP(t *testing.T) {
	if os.Getenv("FACED_PROFILE") == "" {
		t.Skip("opt-in: FACED_PROFILE=1")
	}
	a := newAnalyzer(t, envOptions(t, Options{Threads: 1, MTCNNThreads: 1}))
	files := upscaled12MP(t, profilePhotos(t))
	SetOpenCVThreads(1) // the recommended layout; all OpenCV work on this thread
	defer SetOpenCVThreads(0)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	clock.Now = clock.ThreadCPU
	defer func() { clock.Now = clock.Wall }()
	Bench(context.Background(), a, files[:1], 1, 1) // warm-up
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	var sum Timings
	nfaces := 0
	rounds := 3
	c0, w0 := clock.ProcessCPU(), time.Now()
	for r := 0; r < rounds; r++ {
		for _, f := range files {
			res, tm, err := a.AnalyzeTimed(context.Background(), f)
			if err != nil {
				t.Fatal(err)
			}
			sum.Add(tm)
			if r == 0 {
				nfaces += len(res.Faces)
				t.Logf("%-40s faces %d  cpu ms: decode %6.1f pnet %6.1f rnet %6.1f (%4d boxes) onet %5.1f (%3d) crop %4.1f agegender %5.1f total %6.1f",
					filepath.Base(f), len(res.Faces), ms(tm.Decode), ms(tm.PNet), ms(tm.RNet), tm.RNetBoxes, ms(tm.ONet), tm.ONetBoxes, ms(tm.Crop), ms(tm.AgeGender), ms(tm.Total))
			}
		}
	}
	n := time.Duration(rounds * len(files))
	pc := (clock.ProcessCPU() - c0) / n
	t.Logf("%d faces; mean thread-CPU ms/photo: decode %.1f pnet %.1f rnet %.1f onet %.1f crop %.1f agegender %.1f total %.1f; process CPU %.1f ms/photo; wall %.1f ms/photo",
		nfaces, ms(sum.Decode/n), ms(sum.PNet/n), ms(sum.RNet/n), ms(sum.ONet/n), ms(sum.Crop/n), ms(sum.AgeGender/n), ms(sum.Total/n), ms(pc), ms(time.Since(w0)/n))
}

// TestThroughput12MP (opt-in: FACED_PROFILE=1) measures photos/s (wall)
// and process CPU ms/photo on the 12 MP test photos for worker/thread
// layouts with and without ORT spinning.
func TestThroughput12MP(t *testing.T) {
	if os.Getenv("FACED_PROFILE") == "" {
		t.Skip("opt-in: FACED_PROFILE=1")
	}
	files := upscaled12MP(t, profilePhotos(t))
	if os.Getenv("FACED_CV_THREADS") == "1" {
		SetOpenCVThreads(1)
		defer SetOpenCVThreads(0)
	}
	for _, c := range []struct {
		workers, threads int
		spin             bool
	}{{1, 2, true}, {1, 2, false}, {1, 1, false}, {2, 1, true}, {2, 1, false}} {
		if os.Getenv("FACED_TP_QUICK") != "" && (c.threads != 1 || c.spin) {
			continue
		}
		a := newAnalyzer(t, Options{Threads: c.threads, ORTSpinning: c.spin})
		Bench(context.Background(), a, files, c.workers, c.workers) // warm-up
		r := Bench(context.Background(), a, files, c.workers, 3*len(files))
		t.Logf("threads %d spin %v: %v", c.threads, c.spin, r)
		a.Close()
	}
}

// TestDecodeScales (opt-in: FACED_PROFILE=1) measures the thread CPU time
// of decoding a 12 MP JPEG at each DCT reduction (1, 1/2, 1/4, 1/8), on an
// upscaled test photo and on the same with sensor-like noise added (a
// camera's 12 MP JPEG carries more detail, hence more entropy-coded data).
func TestDecodeScales(t *testing.T) {
	if os.Getenv("FACED_PROFILE") == "" {
		t.Skip("opt-in: FACED_PROFILE=1")
	}
	tmp := t.TempDir()
	src := benchPhotos(t)[1]
	big, err := Upscale12MP(src, tmp, 90)
	if err != nil {
		t.Fatal(err)
	}
	m := gocv.IMRead(big, gocv.IMReadColor)
	noise := gocv.NewMatWithSize(m.Rows(), m.Cols(), gocv.MatTypeCV8UC3)
	gocv.RandU(&noise, gocv.NewScalar(0, 0, 0, 0), gocv.NewScalar(13, 13, 13, 0))
	noisy := gocv.NewMat()
	gocv.AddWeighted(m, 1, noise, 1, -6, &noisy) // ±6 uniform noise
	np := filepath.Join(tmp, "noisy_12mp.jpg")
	gocv.IMWriteWithParams(np, noisy, []int{gocv.IMWriteJpegQuality, 90})
	m.Close()
	noise.Close()
	noisy.Close()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for _, p := range []string{big, np} {
		buf := mustRead(t, p)
		for _, r := range []int{1, 2, 4, 8} {
			const reps = 5
			c0 := clock.ThreadCPU()
			var w, h int
			for i := 0; i < reps; i++ {
				img, ok := decodeUpright(buf, r, 1)
				if !ok {
					t.Fatal("decode")
				}
				w, h = img.Cols(), img.Rows()
				img.Close()
			}
			cv := float64((clock.ThreadCPU() - c0).Microseconds()) / 1000 / reps
			c0 = clock.ThreadCPU()
			for i := 0; i < reps; i++ {
				m, _, _, err := decodeJPEGRegion(buf, r, image.Rect(0, 0, 1<<20, 1<<20))
				if err != nil {
					t.Fatal(err)
				}
				m.Close()
			}
			t.Logf("%s (%.1f MB) at 1/%d (%dx%d): %.1f ms CPU (OpenCV), %.1f (region decoder, whole image)", filepath.Base(p), float64(len(buf))/1e6, r, w, h, cv, float64((clock.ThreadCPU()-c0).Microseconds())/1000/reps)
		}
	}
}

// TestCompareDefaults (opt-in: FACED_PROFILE=1) compares the faces the
// fast settings (FACED_OPTS over the defaults) find on all real test photos
// with those of the fast mode on the seed's thresholds and pyramid, or with
// FACED_REF=exact with the exact mode (no ground truth: every face one
// finds and the other not is listed), and the outputs on shared faces.
func TestCompareDefaults(t *testing.T) {
	if os.Getenv("FACED_PROFILE") == "" {
		t.Skip("opt-in: FACED_PROFILE=1")
	}
	refOpt := Options{PNetThreshold: 0.6, RNetThreshold: 0.7, ONetThreshold: 0.9, SeedPyramid: true, SeedCrops: true, MaxRNetBoxes: -1, MaxONetBoxes: -1, RetryTagged: true, RetryMaxSide: -1}
	if os.Getenv("FACED_REF") == "exact" {
		refOpt = Options{Exact: true} // the seed itself, full resolution
	}
	ref := newAnalyzer(t, refOpt)
	a := newAnalyzer(t, envOptions(t, Options{}))
	var files []string
	for _, d := range []string{"testdata/photos/group", "testdata/photos/group/dlib_faces", "testdata/photos/photoprism_face_testdata", "testdata/photos/exif_orientation", "testdata/photos/xmp_face_regions"} {
		g, _ := filepath.Glob(filepath.Join(shared.Dir(t, d), "*.jpg"))
		files = append(files, g...)
	}
	var nr, na, both, npair int
	var sumCos, sumAge, sumMale, sumIoU float64
	minCos := 1.0
	for _, f := range files {
		r1, err1 := ref.Analyze(context.Background(), f)
		r2, err2 := a.Analyze(context.Background(), f)
		if err1 != nil || err2 != nil {
			continue
		}
		var b1, b2 []face.Box
		for _, x := range r1.Faces {
			b1 = append(b1, x.Box)
		}
		for _, x := range r2.Faces {
			b2 = append(b2, x.Box)
		}
		m := matchBoxes(b1, b2, 0.5)
		nr, na, both = nr+len(b1), na+len(b2), both+m
		for _, f1 := range r1.Faces {
			if j, v := bestIoU(f1.Box, b2); v >= 0.5 {
				f2 := r2.Faces[j]
				c := cosine(f1.Features, f2.Features)
				sumCos, minCos = sumCos+c, math.Min(minCos, c)
				sumAge, sumMale, npair = sumAge+math.Abs(f1.Age-f2.Age), sumMale+math.Abs(f1.MaleProb-f2.MaleProb), npair+1
				sumIoU += face.IoU(f1.Box, f2.Box)
			}
		}
		if m != len(b1) || m != len(b2) {
			t.Logf("%s: seed settings %d faces, these %d, %d shared", filepath.Base(f), len(b1), len(b2), m)
		}
	}
	t.Logf("%d photos: seed settings %d faces, these %d, %d shared (IoU >= 0.5)", len(files), nr, na, both)
	n := float64(max(1, npair))
	t.Logf("shared faces: box IoU mean %.3f; features cosine mean %.4f min %.4f; |dAge| mean %.2f; |dMale| mean %.3f", sumIoU/n, sumCos/n, minCos, sumAge/n, sumMale/n)
}
