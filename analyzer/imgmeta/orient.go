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
	UW, UH := float64(uw), float64(uh)
	switch o {
	case 2:
		return UW - u, v
	case 3:
		return UW - u, UH - v
	case 4:
		return u, UH - v
	case 5:
		return v, u
	case 6:
		return v, UW - u
	case 7:
		return UH - v, UW - u
	case 8:
		return UH - v, u
	}
	return u, v
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
	x1, y1 := PointToStored(o, uw, uh, b.X1, b.Y1)
	x2, y2 := PointToStored(o, uw, uh, b.X2, b.Y2)
	return boxOf(x1, y1, x2, y2)
}
