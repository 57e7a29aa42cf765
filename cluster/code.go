package cluster

import (
	"math"
	"math/bits"
	"math/rand/v2"
)

// Binary codes filter the candidates of an inverted-list scan (see ivf.go)
// before the full distance. A face's code is taken from its residual: its
// feature vector less its projection on the sketch directions (sketch.go),
// so that |x−y|² = |sketch(x)−sketch(y)|² + |res(x)−res(y)|². The code
// holds one bit per coordinate of the residual after a fixed pseudo-random
// rotation (three rounds of random sign flips and a Walsh–Hadamard
// transform): the bit is set when the coordinate is not negative. Each bit
// is the side of a (nearly) uniformly random hyperplane through the origin,
// so two residuals at angle θ differ in about B·θ/π of their B bits
// (SimHash).
//
// A link (distance ≤ Eps) bounds the residual distance by Eps, and once the
// sketch distance is known by √(Eps² − sketch distance²); with the residual
// norms that bounds the residuals' angle, so a candidate whose code differs
// in more bits than that angle allows, by a margin of codeSigmas binomial
// standard deviations, is skipped without reading its feature row. The
// scan tests the codes first against the loose bound (first 256 bits, then
// all), then the sketch bound, then the code against the pair's own bound
// (pairBucket): on LFW-like features (much of the variance in a few
// directions, which the sketch holds) the residual angle separates the
// faces near Eps from the rest far better than the features' angle would,
// and on features spread over all directions the codes do what the sketch
// bound cannot.
//
// The codes are not a bound: a true link is skipped with the probability of
// a binomial count exceeding its mean by codeSigmas standard deviations
// (about 2e-9 at 6, exact binomial tail, for a pair exactly at the limit;
// pairs nearer are safer still). They need no training beyond the sketch
// and are a function of the features and the sketch directions alone, so
// they are recomputed (when the inverted lists are built), not stored in
// snapshots.

// codeSigmas is the margin of the code filter in binomial standard
// deviations.
var codeSigmas = 6.0

// coder computes the binary codes of vectors of one length.
type coder struct {
	dim, pad int // pad: dim rounded up to a power of two = bits per code
	words    int // pad/64
	signs    [3][]float32
	// byCos[t][b] is the largest number of differing bits among the first
	// tierBits(t) bits of the codes of two vectors whose angle has a cosine
	// of at least −1 + b/cosSteps
	byCos [3][2*cosSteps + 1]int32
}

// tierBits returns the number of bits of code tier t (see codeTiers): 256,
// 512, and all of them.
func (c *coder) tierBits(t int) int {
	if t >= 2 {
		return c.pad
	}
	return min(64*codeTiers(c.words)[t][1], c.pad)
}

// cosSteps is the number of steps of pairLimit's table per unit of cosine.
const cosSteps = 512

func newCoder(dim int) *coder {
	pad := 64
	for pad < dim {
		pad *= 2
	}
	c := &coder{dim: dim, pad: pad, words: pad / 64}
	for t := range c.byCos {
		for b := range c.byCos[t] {
			c.byCos[t][b] = int32(angleLimit(c.tierBits(t), math.Acos(min(float64(b)/cosSteps-1, 1))))
		}
	}
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

// angleLimit is the largest number of differing bits (of nbits) of two
// codes whose vectors are at most theta apart: the binomial mean plus
// codeSigmas standard deviations.
func angleLimit(nbits int, theta float64) int {
	p := theta / math.Pi
	n := float64(nbits)
	lim := n*p + codeSigmas*math.Sqrt(n*p*(1-p)) + 1
	if lim >= n {
		return nbits
	}
	return int(lim)
}

// pairBucket returns the byCos column for a pair whose residual norms are
// r1 and r2 and whose residuals are at most √b2 apart: the cosine of their
// angle is at least (r1² + r2² − b2)/(2·r1·r2), rounded down to the
// table's step; 0 (any angle, the loosest column) when a norm vanishes.
func pairBucket(r1, r2, b2 float32) int {
	if r1 <= 1e-6 || r2 <= 1e-6 {
		return 0
	}
	f := (r1*r1 + r2*r2 - b2) / (2 * r1 * r2)
	if !(f > -1) {
		return 0
	}
	return min(int((f+1)*cosSteps), 2*cosSteps) // floor: f > −1
}
