package analyzer

import (
	"image"

	"gocv.io/x/gocv"

	"github.com/faced/faced/analyzer/imgmeta"
	"github.com/faced/faced/face"
)

// orientMat returns src transformed from the stored frame to the upright
// frame of EXIF orientation o (a new Mat the caller closes).
func orientMat(src gocv.Mat, o int) gocv.Mat {
	dst := gocv.NewMat()
	switch o {
	case 2:
		gocv.Flip(src, &dst, 1)
	case 3:
		gocv.Rotate(src, &dst, gocv.Rotate180Clockwise)
	case 4:
		gocv.Flip(src, &dst, 0)
	case 5:
		gocv.Transpose(src, &dst)
	case 6:
		gocv.Rotate(src, &dst, gocv.Rotate90Clockwise)
	case 7:
		t := gocv.NewMat()
		gocv.Transpose(src, &t)
		gocv.Flip(t, &dst, -1)
		t.Close()
	case 8:
		gocv.Rotate(src, &dst, gocv.Rotate90CounterClockwise)
	default:
		src.CopyTo(&dst)
	}
	return dst
}

// decodeFlag is the imdecode flag for a DCT reduction of r (1, 2, 4, 8),
// always ignoring EXIF orientation (faced applies it itself).
func decodeFlag(r int) gocv.IMReadFlag {
	f := gocv.IMReadColor
	switch r {
	case 2:
		f = gocv.IMReadReducedColor2
	case 4:
		f = gocv.IMReadReducedColor4
	case 8:
		f = gocv.IMReadReducedColor8
	}
	return f | gocv.IMReadIgnoreOrientation
}

// decodeUpright decodes buf at reduction r and turns it upright.
func decodeUpright(buf []byte, r, orientation int) (gocv.Mat, bool) {
	m, err := gocv.IMDecode(buf, decodeFlag(r))
	if err != nil || m.Empty() {
		m.Close()
		return gocv.NewMat(), false
	}
	if m.Type() != gocv.MatTypeCV8UC3 {
		c := gocv.NewMat()
		m.ConvertTo(&c, gocv.MatTypeCV8UC3)
		m.Close()
		m = c
	}
	if orientation == 1 {
		return m, true
	}
	u := orientMat(m, orientation)
	m.Close()
	return u, true
}

// mapBack maps a face found in an image rotated by rot (6 = 90° CW, 8 = 90°
// CCW, applied to the upright w×h image) back to the upright frame.
func mapBack(f face.Face, rot, rw, rh int) face.Face {
	f.Box = imgmeta.BoxToStored(rot, rw, rh, f.Box)
	for k := 0; k < 5; k++ {
		f.Landmarks[k], f.Landmarks[k+5] = imgmeta.PointToStored(rot, rw, rh, f.Landmarks[k], f.Landmarks[k+5])
	}
	return f
}

// cropRect is the seed's age/gender crop: truncate the box to ints, expand
// by margin on every side, clamp to [0,w]×[0,h]. ok is false when the box
// is empty (the seed skips such faces).
func cropRect(b face.Box, margin float64, w, h int) (image.Rectangle, bool) {
	x1, y1, x2, y2 := int(b.X1), int(b.Y1), int(b.X2), int(b.Y2)
	if !(x2 > x1 && y2 > y1) {
		return image.Rectangle{}, false
	}
	m := int(margin)
	r := image.Rect(max(0, x1-m), max(0, y1-m), min(w, x2+m), min(h, y2+m))
	if r.Dx() <= 0 || r.Dy() <= 0 {
		return image.Rectangle{}, false
	}
	return r, true
}
