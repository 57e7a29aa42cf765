package analyzer

import (
	"context"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"gocv.io/x/gocv"

	"github.com/faced/faced/face"
	"github.com/faced/faced/internal/shared"
)

// TestCropResolution (opt-in: FACED_PROFILE=1) measures how much the
// age/gender/identity outputs change when a face is cropped from a reduced
// image (as a DCT-reduced decode gives) instead of the full-resolution one:
// for every face of the real test photos whose seed crop has at least
// FACED_CROP_MIN px (default 160) of real detail, the image is reduced
// (INTER_AREA) so that the crop has S px, and the outputs are compared with
// the native crop's. The baseline is the change a 2 px shift of the native
// crop causes.
func TestCropResolution(t *testing.T) {
	if os.Getenv("FACED_PROFILE") == "" {
		t.Skip("opt-in: FACED_PROFILE=1")
	}
	a := newAnalyzer(t, Options{})
	var files []string
	for _, d := range []string{"testdata/photos/group", "testdata/photos/photoprism_face_testdata", "testdata/photos/exif_orientation", "testdata/photos/xmp_face_regions"} {
		g, _ := filepath.Glob(filepath.Join(shared.Dir(t, d), "*.jpg"))
		files = append(files, g...)
	}
	files = append(files, filepath.Join(shared.Dir(t, "seed/reference"), "test_image.jpg"))
	minCrop := 160.0
	if v := os.Getenv("FACED_CROP_MIN"); v != "" {
		fmt.Sscan(v, &minCrop)
	}
	type delta struct{ cos, age, male float64 }
	sizes := []float64{56, 80, 96, 112, 160, 224}
	res := map[string][]delta{}
	ctx := context.Background()
	nf := 0
	for _, f := range files {
		r, err := a.Analyze(ctx, f)
		if err != nil || len(r.Faces) == 0 {
			continue
		}
		img, ok := decodeUpright(mustRead(t, f), 1, r.Orientation)
		if !ok {
			continue
		}
		for _, fc := range r.Faces {
			cr, ok := cropRect(fc.Box, 10, r.Width, r.Height)
			side := float64(min(cr.Dx(), cr.Dy()))
			if !ok || side < minCrop {
				continue
			}
			nf++
			var tm Timings
			base := []face.Face{fc}
			if err := a.describe(ctx, img, r.Width, r.Height, base, &tm); err != nil {
				t.Fatal(err)
			}
			cmp := func(key string, src gocv.Mat, b face.Box) {
				g := []face.Face{{Box: b}}
				if err := a.describe(ctx, src, r.Width, r.Height, g, &tm); err != nil {
					t.Fatal(err)
				}
				res[key] = append(res[key], delta{cosine(g[0].Features, base[0].Features), math.Abs(g[0].Age - base[0].Age), math.Abs(g[0].MaleProb - base[0].MaleProb)})
			}
			sh := fc.Box
			sh.X1, sh.X2, sh.Y1, sh.Y2 = sh.X1+2, sh.X2+2, sh.Y1+2, sh.Y2+2
			cmp("native, 2 px shift", img, sh)
			for _, s := range sizes {
				if s >= side {
					continue
				}
				k := s / side
				small := gocv.NewMat()
				gocv.Resize(img, &small, image.Pt(max(1, int(math.Round(float64(img.Cols())*k))), max(1, int(math.Round(float64(img.Rows())*k)))), 0, 0, gocv.InterpolationArea)
				cmp(fmt.Sprintf("crop %3.0f px", s), small, fc.Box)
				small.Close()
			}
		}
		img.Close()
	}
	keys := make([]string, 0, len(res))
	for k := range res {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	t.Logf("%d faces with a native crop >= %.0f px", nf, minCrop)
	for _, k := range keys {
		ds := res[k]
		var mc, ma, mm float64
		minC, maxA, maxM := 1.0, 0.0, 0.0
		for _, d := range ds {
			mc += d.cos
			ma += d.age
			mm += d.male
			minC, maxA, maxM = math.Min(minC, d.cos), math.Max(maxA, d.age), math.Max(maxM, d.male)
		}
		n := float64(len(ds))
		t.Logf("%-20s n %3d  cosine mean %.4f min %.4f  |dAge| mean %.2f max %.2f  |dMale| mean %.3f max %.3f", k, len(ds), mc/n, minC, ma/n, maxA, mm/n, maxM)
	}
}

func mustRead(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
