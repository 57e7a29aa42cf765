package heads

import (
	"context"
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// design is a z-scored design matrix: n rows of d values, row-major.
type design struct {
	n, d int
	x    []float64
}

func (m design) gemv(dst, w []float64) { // dst = X w
	blas64.Gemv(blas.NoTrans, 1, blas64.General{Rows: m.n, Cols: m.d, Stride: m.d, Data: m.x},
		blas64.Vector{N: m.d, Inc: 1, Data: w}, 0, blas64.Vector{N: m.n, Inc: 1, Data: dst})
}

func (m design) gemvT(dst, r []float64) { // dst = Xᵀ r
	blas64.Gemv(blas.Trans, 1, blas64.General{Rows: m.n, Cols: m.d, Stride: m.d, Data: m.x},
		blas64.Vector{N: m.n, Inc: 1, Data: r}, 0, blas64.Vector{N: m.d, Inc: 1, Data: dst})
}

// softplus returns log(1+e^z) without overflow.
func softplus(z float64) float64 {
	if z > 0 {
		return z + math.Log1p(math.Exp(-z))
	}
	return math.Log1p(math.Exp(z))
}

func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// penalised returns how many leading inputs carry the L2 penalty: the
// identity features. The network's own outputs (gender logit, log ages,
// decade masses) are few and strong, and stay unpenalised, so that a strong
// λ shrinks the head towards a recalibration of the network's own heads.
func penalised(d int) int { return min(d, FeatureDim) }

// fitLogistic minimises mean_i s_i·[softplus(z_i) − y_i z_i] + λ/2‖w_feat‖²,
// z = Xw + b. Returns w (d) and b.
func fitLogistic(ctx context.Context, m design, y, sw []float64, lambda float64, init []float64) ([]float64, error) {
	n, d := m.n, m.d
	z := make([]float64, n)
	r := make([]float64, n)
	var sumW float64
	for _, s := range sw {
		sumW += s
	}
	eval := func(x, g []float64) float64 {
		w, b := x[:d], x[d]
		m.gemv(z, w)
		var f, gb float64
		for i := 0; i < n; i++ {
			zi := z[i] + b
			f += sw[i] * (softplus(zi) - y[i]*zi)
			r[i] = sw[i] * (sigmoid(zi) - y[i]) / sumW
			gb += r[i]
		}
		f /= sumW
		m.gemvT(g[:d], r)
		for j := 0; j < penalised(d); j++ {
			f += 0.5 * lambda * w[j] * w[j]
			g[j] += lambda * w[j]
		}
		g[d] = gb
		return f
	}
	x0 := make([]float64, d+1)
	if init != nil {
		copy(x0, init)
	} else {
		var py float64
		for i := range y {
			py += sw[i] * y[i]
		}
		x0[d] = logit(py / sumW)
	}
	x, err := lbfgs(ctx, eval, x0, maxIter)
	if err != nil {
		return nil, err
	}
	return x, nil
}

// maxIter bounds the optimiser's iterations per fit.
const maxIter = 300

// ageRanks is the number of ordinal classes (ages 1..100); the ordinal head
// has ageRanks-1 thresholds, threshold k separating age ≤ k from age > k.
const ageRanks = 100

func ageRank(age float64) int {
	r := int(math.Round(age))
	if r < 1 {
		r = 1
	}
	if r > ageRanks {
		r = ageRanks
	}
	return r
}

// fitOrdinal minimises mean_i s_i Σ_k [softplus(z_ik) − t_ik z_ik] + λ/2‖w‖²
// with z_ik = w·x_i + b_k and t_ik = [age_i > k], k = 1..ageRanks-1.
// Returns the solution [w (d), b (ageRanks-1)] in z-scored space.
func fitOrdinal(ctx context.Context, m design, age, sw []float64, lambda float64, init []float64) ([]float64, error) {
	n, d := m.n, m.d
	const nk = ageRanks - 1
	rank := make([]int, n)
	for i, a := range age {
		rank[i] = ageRank(a)
	}
	s := make([]float64, n)
	r := make([]float64, n)
	var sumW float64
	for _, v := range sw {
		sumW += v
	}
	eval := func(x, g []float64) float64 {
		w, b := x[:d], x[d:]
		gb := g[d:]
		for k := range gb {
			gb[k] = 0
		}
		m.gemv(s, w)
		var f float64
		for i := 0; i < n; i++ {
			var fi, ri float64
			for k := 0; k < nk; k++ {
				zik := s[i] + b[k]
				t := 0.0
				if rank[i] > k+1 {
					t = 1
				}
				// softplus and sigmoid from one exponential; far from the
				// boundary they are exact to 1e-15 without it.
				var sp, sg float64
				switch {
				case zik > 35:
					sp, sg = zik, 1
				case zik < -35:
					sp, sg = 0, 0
				default:
					e := math.Exp(-math.Abs(zik))
					sp, sg = math.Log1p(e), 1/(1+e)
					if zik > 0 {
						sp += zik
					} else {
						sg = e / (1 + e)
					}
				}
				fi += sp - t*zik
				gk := sg - t
				ri += gk
				gb[k] += sw[i] * gk / sumW
			}
			f += sw[i] * fi
			r[i] = sw[i] * ri / sumW
		}
		f /= sumW
		m.gemvT(g[:d], r)
		for j := 0; j < penalised(d); j++ {
			f += 0.5 * lambda * w[j] * w[j]
			g[j] += lambda * w[j]
		}
		return f
	}
	x0 := make([]float64, d+nk)
	if init != nil {
		copy(x0, init)
	} else {
		for k := 0; k < nk; k++ {
			var above float64
			for i := 0; i < n; i++ {
				if rank[i] > k+1 {
					above += sw[i]
				}
			}
			x0[d+k] = logit((above + 0.5) / (sumW + 1))
		}
	}
	x, err := lbfgs(ctx, eval, x0, maxIter)
	if err != nil {
		return nil, err
	}
	return x, nil
}

// Age decoding rules of the ordinal head.
const (
	DecodeMedian      = "median"      // 1 + #{k : P(age > k) > 0.5}, interpolated
	DecodeExpectation = "expectation" // 1 + Σ_k P(age > k)
)

// decodeOrdinal turns the projection s and thresholds b into an age.
func decodeOrdinal(s float64, b []float64, rule string) float64 {
	if rule == DecodeExpectation {
		age := 1.0
		for _, bk := range b {
			age += sigmoid(s + bk)
		}
		return age
	}
	// Median: the cumulative P(age > k) falls through 0.5 between two
	// boundaries; interpolate linearly between them. Thresholds are not
	// forced monotone, so count the boundaries above 0.5 and interpolate
	// at the last crossing.
	age := 1.0
	for k, bk := range b {
		z := s + bk
		if z > 0 {
			age = float64(k + 2)
			// fraction into the next class
			if k+1 < len(b) {
				z2 := s + b[k+1]
				if z2 <= 0 {
					p1, p2 := sigmoid(z), sigmoid(z2)
					age += (p1-0.5)/(p1-p2) - 0.5
				}
			}
		}
	}
	return age
}
