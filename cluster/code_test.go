package cluster

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestFWHTOrthogonal: the Walsh–Hadamard transform scales squared norms by
// n and applied twice gives n·x back.
func TestFWHTOrthogonal(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	x := make([]float32, 256)
	var n0 float64
	for i := range x {
		x[i] = float32(r.NormFloat64())
		n0 += float64(x[i]) * float64(x[i])
	}
	y := append([]float32(nil), x...)
	fwht(y)
	var n1 float64
	for _, v := range y {
		n1 += float64(v) * float64(v)
	}
	if math.Abs(n1/n0-256) > 1e-3 {
		t.Fatalf("|Hx|²/|x|² = %v, want 256", n1/n0)
	}
	fwht(y)
	for i := range x {
		if math.Abs(float64(y[i])/256-float64(x[i])) > 1e-4 {
			t.Fatalf("HHx/n differs from x at %d: %v vs %v", i, y[i]/256, x[i])
		}
	}
}

// TestCodeHammingTracksAngle: the share of differing code bits of two unit
// vectors estimates their angle over π, and pairs within eps never exceed
// the loosest limit a link keeps (unit norms, residual distance ≤ eps)
// while far pairs mostly do. The pairs are lfwWorld faces of one
// person (distances about 0.55–0.92) and of different persons; far means beyond 1.15 (the limit lies at an angle of about 1.0 in distance).
func TestCodeHammingTracksAngle(t *testing.T) {
	const dim = 1024
	w := newLFWWorld(11, dim)
	c := newCoder(dim)
	buf := make([]float32, c.pad)
	code := func(v []float32) []uint64 {
		out := make([]uint64, c.words)
		c.code(v, buf, out)
		return out
	}
	const eps = 0.82
	lim := int(c.byCos[2][pairBucket(1, 1, eps*eps)])
	var within, far, farSkipped int
	var maxErr float64
	for k := 0; k < 600; k++ {
		p := w.person()
		a, b := w.face(p), w.face(p)
		if k%2 == 1 {
			b = w.face(w.person())
		}
		d := l2(a, b)
		h := hamming(code(a), code(b))
		theta := 2 * math.Asin(min(d/2, 1))
		// the estimate's error in standard deviations of the binomial
		pr := theta / math.Pi
		sd := math.Sqrt(float64(c.pad) * pr * (1 - pr))
		maxErr = max(maxErr, math.Abs(float64(h)-float64(c.pad)*pr)/sd)
		if d <= eps {
			within++
			if h > lim {
				t.Errorf("pair at distance %.3f differs in %d bits > limit %d", d, h, lim)
			}
		} else if d > 1.15 {
			far++
			if h > lim {
				farSkipped++
			}
		}
	}
	t.Logf("%d pairs within eps, %d far (> 1.15) of which %d skipped; limit %d of %d bits; largest deviation %.2f sd", within, far, farSkipped, lim, c.pad, maxErr)
	if within < 50 || far < 50 {
		t.Fatalf("too few pairs: %d within, %d far", within, far)
	}
	if maxErr > 5 {
		t.Errorf("hamming distance deviates %.2f sd from the angle", maxErr)
	}
	if farSkipped < far*9/10 {
		t.Errorf("only %d of %d far pairs skipped", farSkipped, far)
	}
}

// TestCodeLimits: the limit tables by code tier and the pair's cosine
// bucket.
func TestCodeLimits(t *testing.T) {
	c := newCoder(1024)
	if c.tierBits(0) != 256 || c.tierBits(1) != 512 || c.tierBits(2) != 1024 {
		t.Fatalf("tier bits %d %d %d", c.tierBits(0), c.tierBits(1), c.tierBits(2))
	}
	unit := int(c.byCos[2][pairBucket(1, 1, 0.82*0.82)])
	// angle of a chord of 0.82 on the unit sphere: 0.845 rad → 275 bits
	// expected, plus 6 sd of 14.2
	if unit < 275+6*14 || unit > 275+6*15+2 {
		t.Errorf("unit-norm limit %d", unit)
	}
	if l := int(c.byCos[0][pairBucket(1, 1, 0.82*0.82)]); l < 69+6*7 || l > 69+6*8+2 {
		t.Errorf("unit-norm limit of the first 256 bits %d", l)
	}
	if l := int(c.byCos[2][pairBucket(0.8, 1, 0.82*0.82)]); l <= unit {
		t.Errorf("a shorter residual allows a larger angle: limit %d, unit %d", l, unit)
	}
	if l := int(c.byCos[2][pairBucket(1, 1, 0.3)]); l >= unit {
		t.Errorf("a smaller residual distance allows a smaller angle: limit %d, unit %d", l, unit)
	}
	if l := int(c.byCos[2][pairBucket(0, 1, 0.82*0.82)]); l != 1024 {
		t.Errorf("a vanishing residual allows any angle: limit %d", l)
	}
	if l := int(c.byCos[2][pairBucket(0.3, 0.3, 0.82*0.82)]); l != 1024 {
		t.Errorf("short residuals within eps of each other at any angle: limit %d", l)
	}
	if l := int(c.byCos[2][pairBucket(1, 1, 0)]); l > 2 {
		t.Errorf("residuals at distance 0 differ in at most the margin: limit %d", l)
	}
}

// BenchmarkCode: the binary code of one 1024-d face (paid once per face
// when the inverted lists are first built, e.g. after a restore, and on
// every Add from then on).
func BenchmarkCode(b *testing.B) {
	c := newCoder(1024)
	w := newLFWWorld(1, 1024)
	v := w.face(w.person())
	buf := make([]float32, c.pad)
	dst := make([]uint64, c.words)
	for b.Loop() {
		c.code(v, buf, dst)
	}
}
