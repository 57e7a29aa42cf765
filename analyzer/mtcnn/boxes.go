// Package mtcnn is the seed's MTCNN face detector (P-Net, R-Net, O-Net),
// reproduced step by step from ../shared/seed/SPEC.md §1: the scale pyramid,
// the stride-2 cell mapping of P-Net with its single-candidate flip quirk,
// NMS "Union" and "Min", box regression with and without +1, squaring
// (rerec) and the MATLAB-style 1-based zero padding of the R-/O-Net crops.
//
// The box arithmetic in this file is pure Go and float64, as the seed's
// numpy code is; detect.go runs the networks through ONNX Runtime and does
// the resizes with OpenCV, as the seed does.
package mtcnn

import (
	"math"
	"sort"
)

// Candidate is one box travelling through the cascade: corners, score and
// the regression offsets the network predicted for it.
type Candidate struct {
	X1, Y1, X2, Y2 float64
	Score          float64
	Reg            [4]float64
}

// Scales returns the seed's pyramid for an h×w image: m = 12/minsize,
// L = min(h,w)·m; while L ≥ 12 add m·factor^k and shrink L by factor.
func Scales(h, w, minSize int, factor float64) []float64 {
	if minSize <= 0 || h <= 0 || w <= 0 {
		return nil
	}
	m := 12.0 / float64(minSize)
	minl := float64(min(h, w)) * m
	var out []float64
	for k := 0; minl >= 12; k++ {
		out = append(out, m*math.Pow(factor, float64(k)))
		minl *= factor
	}
	return out
}

// ScaledSize is the size P-Net sees at scale s: (ceil(h·s), ceil(w·s)).
func ScaledSize(h, w int, s float64) (hs, ws int) {
	return int(math.Ceil(float64(h) * s)), int(math.Ceil(float64(w) * s))
}

// fix truncates toward zero, as numpy.fix.
func fix(v float64) float64 { return math.Trunc(v) }

// GenerateBoxes turns one P-Net output into candidates. prob and reg are the
// network's maps in the layout it produced on the transposed input: prob is
// [wm][hm][2] (channel 1 = face), reg is [wm][hm][4], where hm×wm is the size
// of the un-transposed map (rows × columns). A cell at row r, column c gives
// x1 = fix((2c+1)/s), y1 = fix((2r+1)/s), x2 = fix((2c+12)/s),
// y2 = fix((2r+12)/s). Cells pass with prob ≥ thr. Candidates come out in the
// seed's order (column-major over the un-transposed map). When exactly one
// cell passes, the regression is read at column wm−1−c (the seed's flipud of
// the transposed maps).
func GenerateBoxes(prob, reg []float32, hm, wm int, scale float64, thr float32) []Candidate {
	const stride, cell = 2.0, 12.0
	type rc struct{ r, c int }
	var pass []rc
	for c := 0; c < wm; c++ {
		for r := 0; r < hm; r++ {
			if prob[(c*hm+r)*2+1] >= thr {
				pass = append(pass, rc{r, c})
			}
		}
	}
	out := make([]Candidate, 0, len(pass))
	for _, p := range pass {
		rcol := p.c
		if len(pass) == 1 {
			rcol = wm - 1 - p.c
		}
		base := (rcol*hm + p.r) * 4
		cf, rf := float64(p.c), float64(p.r)
		out = append(out, Candidate{
			X1:    fix((stride*cf + 1) / scale),
			Y1:    fix((stride*rf + 1) / scale),
			X2:    fix((stride*cf + cell - 1 + 1) / scale),
			Y2:    fix((stride*rf + cell - 1 + 1) / scale),
			Score: float64(prob[(p.c*hm+p.r)*2+1]),
			Reg:   [4]float64{float64(reg[base]), float64(reg[base+1]), float64(reg[base+2]), float64(reg[base+3])},
		})
	}
	return out
}

// Overlap selects how NMS measures overlap.
type Overlap int

const (
	// Union is intersection over union.
	Union Overlap = iota
	// Min is intersection over the smaller area.
	Min
)

// NMS is the seed's non-maximum suppression: order by score (a stable
// ascending sort, taking from the end, so equal scores go last-index
// first, as numpy's argsort does for small arrays), keep the best, drop
// every other box whose overlap is > thr, repeat. Areas and intersections
// use the +1 pixel convention. It returns the kept indices in pick order.
func NMS(boxes []Candidate, thr float64, method Overlap) []int {
	n := len(boxes)
	if n == 0 {
		return nil
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return boxes[idx[a]].Score < boxes[idx[b]].Score })
	area := func(b Candidate) float64 { return (b.X2 - b.X1 + 1) * (b.Y2 - b.Y1 + 1) }
	var pick []int
	for len(idx) > 0 {
		i := idx[len(idx)-1]
		pick = append(pick, i)
		bi := boxes[i]
		ai := area(bi)
		rest := idx[:len(idx)-1]
		keep := rest[:0:0]
		for _, j := range rest {
			bj := boxes[j]
			w := math.Max(0, math.Min(bi.X2, bj.X2)-math.Max(bi.X1, bj.X1)+1)
			h := math.Max(0, math.Min(bi.Y2, bj.Y2)-math.Max(bi.Y1, bj.Y1)+1)
			inter := w * h
			var o float64
			if method == Min {
				o = inter / math.Min(ai, area(bj))
			} else {
				o = inter / (ai + area(bj) - inter)
			}
			if o <= thr {
				keep = append(keep, j)
			}
		}
		idx = keep
	}
	return pick
}

// Select returns boxes[pick[0]], boxes[pick[1]], ...
func Select(boxes []Candidate, pick []int) []Candidate {
	out := make([]Candidate, len(pick))
	for k, i := range pick {
		out[k] = boxes[i]
	}
	return out
}

// ApplyRegNoPlus1 is the P-Net stage regression: w = x2−x1, h = y2−y1 (no
// +1); x1 += dx1·w, y1 += dy1·h, x2 += dx2·w, y2 += dy2·h.
func ApplyRegNoPlus1(b *Candidate) {
	w, h := b.X2-b.X1, b.Y2-b.Y1
	b.X1, b.Y1, b.X2, b.Y2 = b.X1+b.Reg[0]*w, b.Y1+b.Reg[1]*h, b.X2+b.Reg[2]*w, b.Y2+b.Reg[3]*h
}

// BBReg is the seed's bbreg: the same regression with w = x2−x1+1,
// h = y2−y1+1.
func BBReg(b *Candidate) {
	w, h := b.X2-b.X1+1, b.Y2-b.Y1+1
	b.X1, b.Y1, b.X2, b.Y2 = b.X1+b.Reg[0]*w, b.Y1+b.Reg[1]*h, b.X2+b.Reg[2]*w, b.Y2+b.Reg[3]*h
}

// Rerec makes b square around its centre: l = max(w,h) with w = x2−x1,
// h = y2−y1; x1 += w/2 − l/2, y1 += h/2 − l/2, x2 = x1+l, y2 = y1+l.
func Rerec(b *Candidate) {
	w, h := b.X2-b.X1, b.Y2-b.Y1
	l := math.Max(w, h)
	b.X1 = b.X1 + w*0.5 - l*0.5
	b.Y1 = b.Y1 + h*0.5 - l*0.5
	b.X2 = b.X1 + l
	b.Y2 = b.Y1 + l
}

// Fix truncates the corners of b toward zero.
func Fix(b *Candidate) {
	b.X1, b.Y1, b.X2, b.Y2 = fix(b.X1), fix(b.Y1), fix(b.X2), fix(b.Y2)
}

// Patch says how to cut a box out of a w×h image with zero padding, in the
// seed's 1-based convention: the box covers coordinates x1..x2, y1..y2
// inclusive (TmpW × TmpH values); coordinate k is 0-based pixel k−1. The
// image pixels [Y-1, EY) × [X-1, EX) (0-based, half-open) land at
// [DY-1, EDY) × [DX-1, EDX) of the TmpH × TmpW patch; the rest is zero.
type Patch struct {
	DY, EDY, DX, EDX int
	Y, EY, X, EX     int
	TmpW, TmpH       int
}

// Pad computes the seed's pad() for a box whose corners are already
// integral.
func Pad(b Candidate, w, h int) Patch {
	p := Patch{
		TmpW: int(b.X2 - b.X1 + 1), TmpH: int(b.Y2 - b.Y1 + 1),
		DX: 1, DY: 1,
		X: int(b.X1), Y: int(b.Y1), EX: int(b.X2), EY: int(b.Y2),
	}
	p.EDX, p.EDY = p.TmpW, p.TmpH
	if p.EX > w {
		p.EDX = -p.EX + w + p.TmpW
		p.EX = w
	}
	if p.EY > h {
		p.EDY = -p.EY + h + p.TmpH
		p.EY = h
	}
	if p.X < 1 {
		p.DX = 2 - p.X
		p.X = 1
	}
	if p.Y < 1 {
		p.DY = 2 - p.Y
		p.Y = 1
	}
	return p
}

// Valid reports whether the patch copies a non-empty, consistent region.
func (p Patch) Valid() bool {
	return p.TmpW > 0 && p.TmpH > 0 &&
		p.EX-p.X+1 > 0 && p.EY-p.Y+1 > 0 &&
		p.EX-p.X == p.EDX-p.DX && p.EY-p.Y == p.EDY-p.DY &&
		p.DX >= 1 && p.DY >= 1 && p.EDX <= p.TmpW && p.EDY <= p.TmpH
}
