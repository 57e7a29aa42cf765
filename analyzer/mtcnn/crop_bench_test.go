package mtcnn

import (
	"math"
	"testing"

	"gocv.io/x/gocv"
)

// BenchmarkCropTensor: 200 R-Net crops (24×24) of 40 px boxes from a
// 1008×756 image, the per-photo crop work of the R-Net stage, on the
// seed's float64 path and the fast mode's 8-bit path.
func BenchmarkCropTensor(b *testing.B) {
	w, h := 1008, 756
	pix := make([]uint8, w*h*3)
	for i := range pix {
		pix[i] = uint8(i * 7)
	}
	img, err := gocv.NewMatFromBytes(h, w, gocv.MatTypeCV8UC3, pix)
	if err != nil {
		b.Fatal(err)
	}
	defer img.Close()
	var boxes []Candidate
	for i := 0; i < 200; i++ {
		x, y := float64((i*37)%900), float64((i*53)%700)
		boxes = append(boxes, Candidate{X1: x, Y1: y, X2: x + 40, Y2: y + 40})
	}
	for _, u8 := range []bool{false, true} {
		b.Run(map[bool]string{false: "seed", true: "uint8"}[u8], func(b *testing.B) {
			for b.Loop() {
				if _, err := cropTensor(img, pix, w, h, boxes, 24, u8, nil, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestUint8CropsMatchSeedCrops: the 8-bit crop path gives the seed's
// float64 crop values up to 8-bit rounding (one grey level after
// normalisation), for boxes smaller and larger than the target, and
// leaves boxes that need padding to the seed's path.
func TestUint8CropsMatchSeedCrops(t *testing.T) {
	w, h := 300, 200
	pix := make([]uint8, w*h*3)
	for i := range pix {
		pix[i] = uint8((i*i)%251 + (i/(w*3))%5)
	}
	img, err := gocv.NewMatFromBytes(h, w, gocv.MatTypeCV8UC3, pix)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	boxes := []Candidate{
		{X1: 10, Y1: 20, X2: 30, Y2: 40},     // 21 px: upscaled to 24
		{X1: 50, Y1: 60, X2: 149, Y2: 159},   // 100 px
		{X1: 1, Y1: 1, X2: 48, Y2: 48},       // touching the corner, inside
		{X1: -5, Y1: 150, X2: 60, Y2: 215},   // needs padding
		{X1: 250, Y1: 100, X2: 320, Y2: 170}, // needs padding
	}
	for _, size := range []int{24, 48} {
		seed, err := cropTensor(img, pix, w, h, boxes, size, false, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		fast, err := cropTensor(img, pix, w, h, boxes, size, true, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		per := size * size * 3
		for k := range boxes {
			var d float64
			for i := k * per; i < (k+1)*per; i++ {
				d = max(d, math.Abs(float64(seed.Data[i]-fast.Data[i])))
			}
			padded := k >= 3
			if padded && d != 0 {
				t.Errorf("size %d box %d needs padding but differs from the seed path by %g", size, k, d)
			}
			if d > 0.0078125+1e-6 {
				t.Errorf("size %d box %d: 8-bit crop differs by %g (%.2f grey levels)", size, k, d, d/0.0078125)
			}
		}
	}
}

// TestHalvedCrops: large boxes cut from the halved image give the seed's
// crop values up to a few grey levels on a smooth image (the box corners
// move by less than one pixel of the halved image).
func TestHalvedCrops(t *testing.T) {
	w, h := 640, 480
	pix := make([]uint8, w*h*3)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for c := 0; c < 3; c++ {
				v := 128 + 60*math.Sin(float64(x)/23+float64(c)) + 50*math.Cos(float64(y)/31)
				pix[(y*w+x)*3+c] = uint8(v)
			}
		}
	}
	img, err := gocv.NewMatFromBytes(h, w, gocv.MatTypeCV8UC3, pix)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	boxes := []Candidate{{X1: 11, Y1: 21, X2: 210, Y2: 220}, {X1: 301, Y1: 57, X2: 600, Y2: 356}, {X1: 101, Y1: 101, X2: 160, Y2: 160}}
	for _, size := range []int{24, 48} {
		hv := &halves{}
		seed, err := cropTensor(img, pix, w, h, boxes, size, false, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		fast, err := cropTensor(img, pix, w, h, boxes, size, true, hv, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(hv.m) == 0 {
			t.Errorf("size %d: no halved image used for boxes of 200-300 px", size)
		}
		hv.close()
		per := size * size * 3
		for k := range boxes {
			var d float64
			for i := k * per; i < (k+1)*per; i++ {
				d += math.Abs(float64(seed.Data[i] - fast.Data[i]))
			}
			if lv := d / float64(per) / 0.0078125; lv > 2 {
				t.Errorf("size %d box %d: mean difference %.2f grey levels", size, k, lv)
			}
		}
	}
}
