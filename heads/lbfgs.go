package heads

import (
	"context"
	"math"
)

// lbfgs minimises a smooth convex function with limited-memory BFGS and a
// backtracking (Armijo) line search. eval returns f(x) and writes ∇f(x) into
// g. Everything runs in a fixed order on the calling goroutine, so the result
// is bit-for-bit reproducible. It returns the best point found; it stops at
// maxIter iterations, when the gradient vanishes or when f stops improving.
func lbfgs(ctx context.Context, eval func(x, g []float64) float64, x0 []float64, maxIter int) ([]float64, error) {
	const (
		mem     = 20
		c1      = 1e-4
		gradTol = 1e-6
		relTol  = 1e-8
	)
	n := len(x0)
	x := append([]float64(nil), x0...)
	g := make([]float64, n)
	f := eval(x, g)
	xn := make([]float64, n)
	gn := make([]float64, n)
	dir := make([]float64, n)
	alpha := make([]float64, mem)
	var ss, ys [][]float64
	var rho []float64
	stall := 0
	for it := 0; it < maxIter; it++ {
		if it%16 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if normInf(g) < gradTol {
			break
		}
		// Two-loop recursion: dir = −H g.
		for i := range dir {
			dir[i] = -g[i]
		}
		for j := len(ss) - 1; j >= 0; j-- {
			alpha[j] = rho[j] * dot(ss[j], dir)
			axpy(-alpha[j], ys[j], dir)
		}
		if k := len(ss) - 1; k >= 0 {
			gamma := dot(ss[k], ys[k]) / dot(ys[k], ys[k])
			for i := range dir {
				dir[i] *= gamma
			}
		}
		for j := 0; j < len(ss); j++ {
			beta := rho[j] * dot(ys[j], dir)
			axpy(alpha[j]-beta, ss[j], dir)
		}
		gd := dot(g, dir)
		if !(gd < 0) {
			// Not a descent direction: restart from steepest descent.
			ss, ys, rho = ss[:0], ys[:0], rho[:0]
			for i := range dir {
				dir[i] = -g[i]
			}
			gd = dot(g, dir)
		}
		t := 1.0
		if len(ss) == 0 {
			t = math.Min(1, 1/math.Sqrt(-gd))
		}
		var fn float64
		ok := false
		for ls := 0; ls < 50; ls++ {
			for i := range x {
				xn[i] = x[i] + t*dir[i]
			}
			fn = eval(xn, gn)
			if fn <= f+c1*t*gd && !math.IsNaN(fn) {
				ok = true
				break
			}
			t *= 0.5
		}
		if !ok {
			break
		}
		s := make([]float64, n)
		y := make([]float64, n)
		for i := range s {
			s[i] = xn[i] - x[i]
			y[i] = gn[i] - g[i]
		}
		if sy := dot(s, y); sy > 1e-12 {
			if len(ss) == mem {
				ss, ys, rho = ss[1:], ys[1:], rho[1:]
			}
			ss, ys, rho = append(ss, s), append(ys, y), append(rho, 1/sy)
		}
		improved := f - fn
		x, xn = xn, x
		g, gn = gn, g
		f = fn
		if improved <= relTol*math.Max(1, math.Abs(f)) {
			stall++
			if stall >= 5 {
				break
			}
		} else {
			stall = 0
		}
	}
	return x, nil
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func axpy(a float64, x, y []float64) {
	for i := range x {
		y[i] += a * x[i]
	}
}

func normInf(a []float64) float64 {
	var m float64
	for _, v := range a {
		m = math.Max(m, math.Abs(v))
	}
	return m
}
