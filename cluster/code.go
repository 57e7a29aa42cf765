package cluster

import (
	"math"
	"math/bits"
	"math/rand/v2"
)

// Binary codes filter the candidates of an inverted-list scan (see ivf.go)
// before the sketch bound and the full distance. A face's code holds one bit
// per coordinate of its feature vector after a fixed pseudo-random rotation
// (three rounds of random sign flips and a Walsh–Hadamard transform): the
// bit is set when the coordinate is not negative. Each bit is the side of a
// (nearly) uniformly random hyperplane through the origin, so two faces at
// angle θ differ in about B·θ/π of their B bits (SimHash). Faces within Eps
// of each other lie within a known angle (from their norms), so a candidate
// whose code differs in more bits than that angle allows, by a margin of
// codeSigmas binomial standard deviations, is skipped without reading its
// feature row.
//
// Unlike the PCA sketch this works whatever the spread of the features (on
// features whose variance is spread over all directions the sketch bound
// skips almost nothing), but it is not a bound: a true link is skipped with
// the probability of a binomial count exceeding its mean by codeSigmas
// standard deviations (below 1e-9 at 6, for a pair exactly at Eps; pairs
// nearer are safer still). The codes need no training and are a function of
// the feature vector alone, so they are recomputed, not stored in snapshots.

// codeSigmas is the margin of the code filter in binomial standard
// deviations.
var codeSigmas = 6.0

// coder computes the binary codes of vectors of one length.
type coder struct {
	dim, pad int // pad: dim rounded up to a power of two = bits per code
	words    int // pad/64
	signs    [3][]float32
}

func newCoder(dim int) *coder {
	pad := 64
	for pad < dim {
		pad *= 2
	}
	c := &coder{dim: dim, pad: pad, words: pad / 64}
	r := rand.New(rand.NewPCG(0x5eed, 0xc0de))
	for k := range c.signs {
		c.signs[k] = make([]float32, pad)
		for i := range c.signs[k] {
			c.signs[k][i] = 1
			if r.Uint64()&1 == 1 {
				c.signs[k][i] = -1
			}
		}
	}
	return c
}

// code writes the code of v to dst (c.words words); buf is scratch space of
// c.pad floats.
func (c *coder) code(v []float32, buf []float32, dst []uint64) {
	buf = buf[:c.pad]
	copy(buf, v)
	clear(buf[len(v):])
	for _, s := range c.signs {
		for i := range buf {
			buf[i] *= s[i]
		}
		fwht(buf)
	}
	for w := 0; w < c.words; w++ {
		var x uint64
		for b, f := range buf[w*64 : (w+1)*64] {
			// the sign bit, inverted: set for +0 and above (branch-free)
			x |= uint64(math.Float32bits(f)>>31^1) << b
		}
		dst[w] = x
	}
}

// fwht is the in-place (unnormalised) Walsh–Hadamard transform of x
// (len(x) a power of two).
func fwht(x []float32) {
	n := len(x)
	// the two smallest strides in one pass over groups of four
	if n >= 4 {
		for i := 0; i+4 <= n; i += 4 {
			a, b, c, d := x[i], x[i+1], x[i+2], x[i+3]
			a, b = a+b, a-b
			c, d = c+d, c-d
			x[i], x[i+2] = a+c, a-c
			x[i+1], x[i+3] = b+d, b-d
		}
	}
	h := 4
	if n < 4 {
		h = 1
	}
	for ; h < n; h *= 2 {
		for i := 0; i < n; i += 2 * h {
			a, b := x[i:i+h], x[i+h:i+2*h]
			for j := range a {
				u, v := a[j], b[j]
				a[j], b[j] = u+v, u-v
			}
		}
	}
}

// hamming is the number of bits in which a and b differ (len(b) ≥ len(a)).
func hamming(a, b []uint64) int {
	b = b[:len(a)]
	n := 0
	i := 0
	for ; i+4 <= len(a); i += 4 {
		n += bits.OnesCount64(a[i]^b[i]) + bits.OnesCount64(a[i+1]^b[i+1]) +
			bits.OnesCount64(a[i+2]^b[i+2]) + bits.OnesCount64(a[i+3]^b[i+3])
	}
	for ; i < len(a); i++ {
		n += bits.OnesCount64(a[i] ^ b[i])
	}
	return n
}

// codeLimit returns the largest number of differing code bits (of nbits)
// a face of norm r1 may have with a face linked to it (feature distance
// ≤ eps) whose norm lies in [lo, hi]; nbits (no filtering) when the norms
// allow any angle.
func codeLimit(nbits int, r1, lo, hi, eps float64) int {
	if r1 <= 1e-6 || lo <= 1e-6 {
		return nbits
	}
	eps *= 1 + 1e-4 // float32 rounding of the distances
	// a link needs cos θ ≥ f(r2) = (r1² + r2² − eps²) / (2·r1·r2); f is
	// smallest at r2 = √(r1² − eps²) (or at lo when r1 ≤ eps)
	r2 := lo
	if r1 > eps {
		r2 = min(max(math.Sqrt(r1*r1-eps*eps), lo), hi)
	}
	f := (r1*r1 + r2*r2 - eps*eps) / (2 * r1 * r2)
	if f <= -1 {
		return nbits
	}
	p := math.Acos(min(f, 1)) / math.Pi
	n := float64(nbits)
	lim := n*p + codeSigmas*math.Sqrt(n*p*(1-p)) + 1
	if lim >= n {
		return nbits
	}
	return int(lim)
}
