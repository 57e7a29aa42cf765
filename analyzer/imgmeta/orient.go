package imgmeta

import "github.com/faced/faced/face"

// Orientation transforms between the stored pixel frame and the upright
// (displayed) frame. Coordinates are continuous pixel-edge coordinates: a
// w-wide image spans x in [0, w], so mirroring maps x to w − x.

// Swaps reports whether orientation o swaps width and height (5..8).
func Swaps(o int) bool { return o >= 5 && o <= 8 }

// UprightSize returns the upright dimensions of a stored sw×sh image.
func UprightSize(o, sw, sh int) (w, h int) {
	if Swaps(o) {
		return sh, sw
	}
	return sw, sh
}

// PointToUpright maps a stored-frame point of a stored sw×sh image to the
// upright frame of orientation o.
func PointToUpright(o int, sw, sh int, x, y float64) (u, v float64) {
	W, H := float64(sw), float64(sh)
	switch o {
	case 2:
		return W - x, y
	case 3:
		return W - x, H - y
	case 4:
		return x, H - y
	case 5:
		return y, x
	case 6:
		return H - y, x
	case 7:
		return H - y, W - x
	case 8:
		return y, W - x
	}
	return x, y
}

// PointToStored is the inverse of PointToUpright: it maps a point of the
// upright uw×uh image back to the stored frame.
func PointToStored(o int, uw, uh int, u, v float64) (x, y float64) {
	return PointToUpright(inverse(o), uw, uh, u, v)
}

// inverse is the orientation that undoes o: 6 (rotate 90° clockwise to
// display) and 8 (counter-clockwise) undo each other; every other
// orientation (identity, the mirrors, 180°, transpose, transverse) undoes
// itself.
func inverse(o int) int {
	switch o {
	case 6:
		return 8
	case 8:
		return 6
	}
	return o
}

func boxOf(x1, y1, x2, y2 float64) face.Box {
	return face.Box{X1: min(x1, x2), Y1: min(y1, y2), X2: max(x1, x2), Y2: max(y1, y2)}
}

// BoxToUpright maps a stored-frame box to the upright frame.
func BoxToUpright(o int, sw, sh int, b face.Box) face.Box {
	x1, y1 := PointToUpright(o, sw, sh, b.X1, b.Y1)
	x2, y2 := PointToUpright(o, sw, sh, b.X2, b.Y2)
	return boxOf(x1, y1, x2, y2)
}

// BoxToStored maps an upright-frame box of an upright uw×uh image to the
// stored frame.
func BoxToStored(o int, uw, uh int, b face.Box) face.Box {
	return BoxToUpright(inverse(o), uw, uh, b)
}
