package mtcnn

import "testing"

// BenchmarkCropTensor: 200 R-Net crops (24×24) of 40 px boxes from a
// 1008×756 image, the per-photo crop work of the R-Net stage.
func BenchmarkCropTensor(b *testing.B) {
	w, h := 1008, 756
	pix := make([]uint8, w*h*3)
	for i := range pix {
		pix[i] = uint8(i * 7)
	}
	var boxes []Candidate
	for i := 0; i < 200; i++ {
		x, y := float64((i*37)%900), float64((i*53)%700)
		boxes = append(boxes, Candidate{X1: x, Y1: y, X2: x + 40, Y2: y + 40})
	}
	for b.Loop() {
		if _, err := cropTensor(pix, w, h, boxes, 24); err != nil {
			b.Fatal(err)
		}
	}
}
