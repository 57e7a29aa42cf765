package mtcnn

import (
	"bytes"
	"image"
	"math"
	"math/rand/v2"
	"testing"

	"gocv.io/x/gocv"
)

// ResizeArea gives OpenCV's INTER_AREA pixels bit for bit: on random and
// smooth images, for the pyramid levels of a 12 MP photo decoded at 1/4,
// the rotated retry's reduction, and random sizes (integer factors and
// enlargements go to OpenCV itself), on the AVX2 and the SSE2 code.
func TestResizeAreaMatchesOpenCV(t *testing.T) {
	defer setSSEOnly(false)
	r := rand.New(rand.NewPCG(3, 5))
	type size struct{ sw, sh, w, h int }
	cases := []size{{1008, 756, 1024, 768}, {1008, 756, 512, 384}, {1008, 756, 504, 378}, {640, 480, 640, 300}, {12, 12, 11, 5}}
	for _, s := range Scales(756, 1008, 32, 0.709) {
		hs, ws := ScaledSize(756, 1008, s)
		cases = append(cases, size{1008, 756, ws, hs}, size{ws * 2, hs * 2, ws, hs - 1})
	}
	for len(cases) < 60 {
		sw, sh := 2+r.IntN(700), 2+r.IntN(700)
		cases = append(cases, size{sw, sh, 1 + r.IntN(sw), 1 + r.IntN(sh)})
	}
	for i, c := range cases {
		// Every other case on the SSE2 code (the AVX2 code's fallback).
		setSSEOnly(i%2 == 1 && i > 10)
		pix := make([]uint8, c.sw*c.sh*3)
		for j := range pix {
			if i%2 == 0 {
				pix[j] = uint8(r.IntN(256))
			} else { // smooth: sums land near .5 more often
				x, y := (j/3)%c.sw, (j/3)/c.sw
				pix[j] = uint8(127 + 120*math.Sin(float64(x)/17+float64(j%3))*math.Cos(float64(y)/13))
			}
		}
		src, err := gocv.NewMatFromBytes(c.sh, c.sw, gocv.MatTypeCV8UC3, pix)
		if err != nil {
			t.Fatal(err)
		}
		want, got := gocv.NewMat(), gocv.NewMat()
		gocv.Resize(src, &want, image.Pt(c.w, c.h), 0, 0, gocv.InterpolationArea)
		ResizeArea(src, &got, c.w, c.h)
		if got.Cols() != c.w || got.Rows() != c.h {
			t.Fatalf("%v: got %dx%d", c, got.Cols(), got.Rows())
		}
		a, _ := want.DataPtrUint8()
		b, _ := got.DataPtrUint8()
		for j := range a {
			if a[j] != b[j] {
				t.Fatalf("%dx%d -> %dx%d: byte %d (x %d, y %d) = %d, OpenCV %d", c.sw, c.sh, c.w, c.h, j, (j/3)%c.w, (j/3)/c.w, b[j], a[j])
			}
		}
		src.Close()
		want.Close()
		got.Close()
	}
}

// areaBytes on a rectangle inside a larger image (rows further apart than
// the rectangle is wide) gives OpenCV's resize of that region, as the
// R-/O-Net crops use it.
func TestAreaBytesRegionMatchesOpenCV(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 13))
	w, h := 1008, 756
	pix := make([]uint8, w*h*3)
	for i := range pix {
		pix[i] = uint8(r.IntN(256))
	}
	img, err := gocv.NewMatFromBytes(h, w, gocv.MatTypeCV8UC3, pix)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	dst := gocv.NewMat()
	defer dst.Close()
	for i := 0; i < 200; i++ {
		size := []int{24, 48}[i%2]
		s := size + r.IntN(3*size)
		x, y := r.IntN(w-s), r.IntN(h-s)
		rect := image.Rect(x, y, x+s, y+s+r.IntN(3))
		got := make([]byte, size*size*3)
		if !areaBytes(pix[(y*w+x)*3:], w*3, rect.Dx(), rect.Dy(), got, size, size) {
			continue // a whole-number factor: OpenCV's own path
		}
		reg := img.Region(rect)
		gocv.Resize(reg, &dst, image.Pt(size, size), 0, 0, gocv.InterpolationArea)
		reg.Close()
		want, _ := dst.DataPtrUint8()
		for j := range want {
			if got[j] != want[j] {
				t.Fatalf("%v -> %d: byte %d = %d, OpenCV %d", rect, size, j, got[j], want[j])
			}
		}
	}
}

// Resizing a Mat into itself works as with OpenCV.
func TestResizeAreaInPlace(t *testing.T) {
	m := gocv.NewMatWithSize(300, 400, gocv.MatTypeCV8UC3)
	defer m.Close()
	ResizeArea(m, &m, 150, 113)
	if m.Cols() != 150 || m.Rows() != 113 {
		t.Errorf("in place: %dx%d, want 150x113", m.Cols(), m.Rows())
	}
}

// TestResizeAreaPlanesMatchesResizeArea: the planar input gives the same
// pixels as the interleaved image through ResizeArea (and so OpenCV's).
func TestResizeAreaPlanesMatchesResizeArea(t *testing.T) {
	defer setSSEOnly(false)
	r := rand.New(rand.NewPCG(7, 9))
	cases := [][4]int{{4032, 3024, 1024, 768}, {3024, 4032, 768, 1024}, {1617, 1080, 1024, 684}, {700, 500, 333, 211}}
	for i, c := range cases {
		setSSEOnly(i%2 == 1)
		sw, sh, w, h := c[0], c[1], c[2], c[3]
		stride := sw + 16
		planes := [3][]byte{make([]byte, stride*sh), make([]byte, stride*sh), make([]byte, stride*sh)}
		pix := make([]byte, sw*sh*3)
		for y := 0; y < sh; y++ {
			for x := 0; x < sw; x++ {
				for ch := 0; ch < 3; ch++ {
					v := uint8(127 + 120*math.Sin(float64(x)/17+float64(ch))*math.Cos(float64(y)/13))
					if i%2 == 0 {
						v = uint8(r.IntN(256))
					}
					planes[ch][y*stride+x] = v
					pix[(y*sw+x)*3+ch] = v
				}
			}
		}
		src, err := gocv.NewMatFromBytes(sh, sw, gocv.MatTypeCV8UC3, pix)
		if err != nil {
			t.Fatal(err)
		}
		want := gocv.NewMat()
		ResizeArea(src, &want, w, h)
		var got gocv.Mat
		if !ResizeAreaPlanes(planes[0], planes[1], planes[2], stride, sw, sh, &got, w, h) {
			t.Fatalf("%v: not resized", c)
		}
		wp, _ := want.DataPtrUint8()
		gp, _ := got.DataPtrUint8()
		if got.Cols() != w || got.Rows() != h || !bytes.Equal(wp, gp) {
			t.Errorf("%v: planar resize differs from ResizeArea", c)
		}
		src.Close()
		want.Close()
		got.Close()
	}
	var m gocv.Mat
	if ResizeAreaPlanes(make([]byte, 64), make([]byte, 64), make([]byte, 64), 8, 8, 8, &m, 4, 4) {
		t.Error("an integer factor (OpenCV's own path) was taken")
	}
}
