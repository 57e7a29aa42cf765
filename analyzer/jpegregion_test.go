package analyzer

import (
	"context"
	"image"
	"math"
	"os"
	"path/filepath"
	"testing"

	"gocv.io/x/gocv"

	"github.com/faced/faced/face"
	"github.com/faced/faced/internal/shared"
)

// TestJPEGRegion: a region decoded by decodeJPEGRegion has the pixels of
// the same region of OpenCV's whole-image decode at the same DCT scale (up
// to the upsampling context at the region's edges), for several scales and
// rectangles, including ones touching or crossing the image border (on the
// test photos most regions are identical, the rest differ by < 0.01 on
// average); bad data gives an error, not a crash.
func TestJPEGRegion(t *testing.T) {
	demo := filepath.Join(shared.Dir(t, "seed/reference"), "test_image.jpg")
	files := []string{filepath.Join(shared.Dir(t, "testdata/photos/group"), "face_recognition_obama_and_biden.jpg"), demo}
	// Variants libjpeg decodes differently: progressive, grayscale, with
	// restart markers.
	img, gray := demoColorGray(t)
	tmp := t.TempDir()
	for name, w := range map[string]struct {
		m      gocv.Mat
		params []int
	}{
		"progressive.jpg": {img, []int{gocv.IMWriteJpegProgressive, 1}},
		"gray.jpg":        {gray, nil},
		"restart.jpg":     {img, []int{gocv.IMWriteJpegRstInterval, 3}},
	} {
		p := filepath.Join(tmp, name)
		writeJPEG(t, p, w.m, w.params)
		files = append(files, p)
	}
	for _, f := range files {
		buf, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, denom := range []int{1, 2, 4} {
			full, ok := decodeUpright(buf, denom, 1)
			if !ok {
				t.Fatal("decode")
			}
			W, H := full.Cols(), full.Rows()
			for _, r := range []image.Rectangle{
				image.Rect(W/3, H/4, W/3+W/5, H/4+H/3),
				image.Rect(0, 0, W/4, H/5),
				image.Rect(W-W/6, H-H/7, W+50, H+50),
				image.Rect(17, 33, W-5, H-9),
			} {
				m, got, size, err := decodeJPEGRegion(buf, denom, r)
				if err != nil {
					t.Fatalf("%s 1/%d %v: %v", filepath.Base(f), denom, r, err)
				}
				if size != image.Pt(W, H) {
					t.Errorf("1/%d: size %v, OpenCV %dx%d", denom, size, W, H)
				}
				want := r.Intersect(image.Rect(0, 0, W, H))
				if !want.In(got) || got.Dx() != m.Cols() || got.Dy() != m.Rows() || got.Min.Y != want.Min.Y || got.Max.Y != want.Max.Y {
					t.Errorf("1/%d %v: covers %v (%dx%d), want rows of %v", denom, r, got, m.Cols(), m.Rows(), want)
					m.Close()
					continue
				}
				ref := full.Region(got)
				diff := gocv.NewMat()
				gocv.AbsDiff(m, ref, &diff)
				mean := diff.Mean()
				_, maxv, _, _ := gocv.MinMaxLoc(diff.Reshape(1, 0))
				if mm := math.Max(mean.Val1, math.Max(mean.Val2, mean.Val3)); mm > 0.05 || maxv > 32 {
					t.Errorf("%s 1/%d %v: mean |diff| %.3f, max %v", filepath.Base(f), denom, r, mm, maxv)
				}
				diff.Close()
				ref.Close()
				m.Close()
			}
			full.Close()
		}
		// Truncated data: libjpeg pads it (the analyzer refuses truncated
		// JPEGs before); it must neither crash nor hang.
		if m, _, _, err := decodeJPEGRegion(buf[:len(buf)/3], 1, image.Rect(0, 0, 100, 100000)); err == nil {
			m.Close()
		}
	}
	if _, _, _, err := decodeJPEGRegion([]byte("not a jpeg at all"), 1, image.Rect(0, 0, 10, 10)); err == nil {
		t.Error("text decoded without error")
	}
}

// TestCropRegionMatchesFullDecode: faces cut from the decoded region give
// the outputs of faces cut from the whole image decoded at the same scale,
// for every EXIF orientation (the region is mapped to the stored frame and
// back) and for DCT scales 1 and 1/2.
func TestCropRegionMatchesFullDecode(t *testing.T) {
	a := newAnalyzer(t, Options{})
	dir := shared.Dir(t, "testdata/photos/exif_orientation")
	files := []string{filepath.Join(dir, "pillow_hopper.jpg"), filepath.Join(shared.Dir(t, "testdata/photos/group"), "face_recognition_obama_and_biden.jpg"),
		filepath.Join(dir, "immich_portrait-orientation-6.jpg"), filepath.Join(dir, "digikam_nikon-e2100.jpg")}
	for o := 2; o <= 8; o++ {
		files = append(files, filepath.Join(dir, "pillow_hopper_orientation_"+string(rune('0'+o))+".jpg"))
	}
	for _, f := range files {
		res := analyze(t, a, f)
		if len(res.Faces) == 0 {
			t.Fatalf("%s: no face", f)
		}
		buf, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range []int{1, 2} {
			full, ok := decodeUpright(buf, r, res.Orientation)
			if !ok {
				t.Fatal("decode")
			}
			want := append([]face.Face(nil), res.Faces...)
			var tm Timings
			if err := a.describe(context.Background(), full, res.Width, res.Height, want, &tm); err != nil {
				t.Fatal(err)
			}
			full.Close()
			cs, err := decodeCropRegion(buf, r, res.Orientation, res.Width, res.Height, res.Faces, nil)
			if err != nil {
				t.Fatalf("%s 1/%d: %v", filepath.Base(f), r, err)
			}
			got := append([]face.Face(nil), res.Faces...)
			if _, err := a.describeFrom(context.Background(), cs, res.Width, res.Height, got, &tm); err != nil {
				t.Fatal(err)
			}
			cs.img.Close()
			for i := range got {
				if c := cosine(got[i].Features, want[i].Features); c < 0.9999 || math.Abs(got[i].Age-want[i].Age) > 0.05 || math.Abs(got[i].MaleProb-want[i].MaleProb) > 0.002 {
					t.Errorf("%s 1/%d face %d: region crop vs whole-image crop: cosine %.5f, age %.2f vs %.2f, male %.4f vs %.4f",
						filepath.Base(f), r, i, c, got[i].Age, want[i].Age, got[i].MaleProb, want[i].MaleProb)
				}
			}
		}
	}
}

// TestJPEGRegionCheckpoints: a region decoded by resuming from the
// checkpoints of an earlier whole decode (at 1/4 or 1/8) has exactly the
// bytes of the same region decoded from the start, at every scale, for
// plain, grayscale and restart-marker JPEGs; progressive files record no
// checkpoints (their region decodes go the plain way).
func TestJPEGRegionCheckpoints(t *testing.T) {
	img, gray := demoColorGray(t)
	tmp := t.TempDir()
	type variant struct {
		m      gocv.Mat
		params []int
		usable bool
	}
	variants := map[string]variant{
		"plain.jpg":       {img, nil, true},
		"gray.jpg":        {gray, nil, true},
		"restart.jpg":     {img, []int{gocv.IMWriteJpegRstInterval, 3}, true},
		"q60.jpg":         {img, []int{gocv.IMWriteJpegQuality, 60}, true},
		"progressive.jpg": {img, []int{gocv.IMWriteJpegProgressive, 1}, false},
	}
	for name, v := range variants {
		buf := writeJPEG(t, filepath.Join(tmp, name), v.m, v.params)
		for _, rec := range []int{4, 8} {
			ck := &jpegCheckpoints{}
			m, _, size, err := decodeJPEGRegionCk(buf, rec, image.Rect(0, 0, 1<<30, 1<<30), ck, true)
			if err != nil {
				t.Fatalf("%s: whole decode at 1/%d: %v", name, rec, err)
			}
			m.Close()
			if ck.usable() != v.usable {
				t.Fatalf("%s: checkpoints usable %v, want %v", name, ck.usable(), v.usable)
			}
			W, H := size.X*rec, size.Y*rec
			for _, denom := range []int{1, 2, 4} {
				w, h := W/denom, H/denom
				for _, r := range []image.Rectangle{
					image.Rect(w/3, h/4, w/3+w/5, h/4+h/3),
					image.Rect(0, 0, w/4, h/5),
					image.Rect(w-w/6, h-h/7, w+50, h+50),
					image.Rect(17, 33, w-5, h-9),
					image.Rect(0, h/2+3, w, h/2+40),
				} {
					want, wr, _, err := decodeJPEGRegion(buf, denom, r)
					if err != nil {
						t.Fatal(err)
					}
					got, gr, _, err := decodeJPEGRegionCk(buf, denom, r, ck, false)
					if err != nil {
						t.Fatalf("%s 1/%d %v from checkpoints: %v", name, denom, r, err)
					}
					a, _ := want.DataPtrUint8()
					b, _ := got.DataPtrUint8()
					if wr != gr || string(a) != string(b) {
						t.Errorf("%s (checkpoints at 1/%d) 1/%d %v: region %v differs from the plain decode's %v", name, rec, denom, r, gr, wr)
					}
					want.Close()
					got.Close()
				}
			}
			ck.Close()
		}
	}
}

// TestJPEGBands: bands of rows of a rectangle decoded on their own from
// checkpoints have the bytes of the same rows of the rectangle decoded
// whole (the decoder's state and the upsampling context at a band's first
// and last rows are those of the whole decode), at every scale, for plain,
// grayscale and restart-marker JPEGs; rows between bands are black.
func TestJPEGBands(t *testing.T) {
	img, gray := demoColorGray(t)
	tmp := t.TempDir()
	for name, v := range map[string]struct {
		m      gocv.Mat
		params []int
	}{
		"plain.jpg":   {img, nil},
		"gray.jpg":    {gray, nil},
		"restart.jpg": {img, []int{gocv.IMWriteJpegRstInterval, 5}},
		"q95.jpg":     {img, []int{gocv.IMWriteJpegQuality, 95}},
	} {
		buf := writeJPEG(t, filepath.Join(tmp, name), v.m, v.params)
		ck := &jpegCheckpoints{}
		m, _, _, err := decodeJPEGRegionCk(buf, 4, image.Rect(0, 0, 1<<30, 1<<30), ck, true)
		if err != nil {
			t.Fatal(err)
		}
		m.Close()
		for _, denom := range []int{1, 2, 4} {
			W, H := img.Cols()/denom, img.Rows()/denom
			for _, c := range []struct {
				r     image.Rectangle
				bands [][2]int
			}{
				{image.Rect(W/5, 3, W-W/7, H-2), [][2]int{{3, H / 4}, {H/4 + 19, H/2 + 1}, {H - H/5, H - 2}}},
				{image.Rect(-1, -1, W+1, H+1), [][2]int{{-1, 7}, {H/3 - 1, H/3 + 30}, {H - 9, H + 1}}},
				{image.Rect(13, H/6, W/2, H-H/6), [][2]int{{H / 6, H/6 + 16}, {H/6 + 40, H/6 + 41}, {H/2 + 5, H - H/6}}},
			} {
				want, wr, _, err := decodeJPEGRegion(buf, denom, c.r)
				if err != nil {
					t.Fatal(err)
				}
				got, gr, _, err := decodeJPEGBands(buf, denom, c.r, c.bands, ck)
				if err != nil {
					t.Fatalf("%s 1/%d %v: %v", name, denom, c.bands, err)
				}
				if gr != wr {
					t.Fatalf("%s 1/%d: bands cover %v, the whole decode %v", name, denom, gr, wr)
				}
				a, _ := want.DataPtrUint8()
				b, _ := got.DataPtrUint8()
				stride := wr.Dx() * 3
				in := func(y int) bool {
					for _, bd := range c.bands {
						if y >= bd[0] && y < bd[1] {
							return true
						}
					}
					return false
				}
				for y := wr.Min.Y; y < wr.Max.Y; y++ {
					row := (y - wr.Min.Y) * stride
					wantRow := a[row : row+stride]
					if !in(y) {
						wantRow = make([]byte, stride)
					}
					if string(b[row:row+stride]) != string(wantRow) {
						t.Errorf("%s 1/%d bands %v: row %d (in a band: %v) differs", name, denom, c.bands, y, in(y))
						break
					}
				}
				want.Close()
				got.Close()
			}
		}
		ck.Close()
	}
}

// demoColorGray reads the seed's demo photo in colour and makes its
// grayscale copy (both closed when the test ends).
func demoColorGray(t *testing.T) (img, gray gocv.Mat) {
	t.Helper()
	img = gocv.IMRead(filepath.Join(shared.Dir(t, "seed/reference"), "test_image.jpg"), gocv.IMReadColor)
	t.Cleanup(func() { img.Close() })
	gray = gocv.NewMat()
	t.Cleanup(func() { gray.Close() })
	gocv.CvtColor(img, &gray, gocv.ColorBGRToGray)
	return img, gray
}

// writeJPEG writes m to path at JPEG quality 90 plus params and returns the
// file's bytes.
func writeJPEG(t *testing.T, path string, m gocv.Mat, params []int) []byte {
	t.Helper()
	if !gocv.IMWriteWithParams(path, m, append([]int{gocv.IMWriteJpegQuality, 90}, params...)) {
		t.Fatal("cannot write", path)
	}
	buf, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return buf
}
