package mtcnn

import (
	"image"
	"math"
	"math/rand/v2"
	"testing"

	"gocv.io/x/gocv"
)

// ResizeArea gives OpenCV's INTER_AREA pixels bit for bit: on random and
// smooth images, for the pyramid levels of a 12 MP photo decoded at 1/4,
// the rotated retry's reduction, and random sizes (integer factors and
// enlargements go to OpenCV itself).
func TestResizeAreaMatchesOpenCV(t *testing.T) {
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
