package heads

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// expertSetting is one adult-expert fit: training range and config.
type expertSetting struct {
	rng [2]float64
	cfg config
}

// crossValidateExpert cross-validates the adult expert on top of the chosen
// age head, whose fold models (trained without their held-out fold) are
// main and whose decoding is mainDecode. For every fold, range, power and λ
// it fits the expert on the fold's training samples aged inside the range,
// then scores every held-out face under every gate and decoding: the
// expert's estimate where the main head's held-out estimate falls inside
// the gate, else the main head's. Folds run concurrently and are pooled in
// fold order, as in crossValidate.
func (t *trainer) crossValidateExpert(ctx context.Context, main []linear, mainDecode string) ([]CVPoint, error) {
	lams := append([]float64(nil), t.opt.ExpertLambdas...)
	sort.Sort(sort.Reverse(sort.Float64Slice(lams))) // strong to weak: warm starts
	var sets []expertSetting
	for _, rng := range t.opt.ExpertRanges {
		for _, pw := range t.opt.ExpertPowers {
			for _, lam := range lams {
				sets = append(sets, expertSetting{rng, config{lam, pw}})
			}
		}
	}
	decodes := []string{DecodeMedian, DecodeExpectation}
	type key struct{ set, gate, dec int }
	var keys []key
	for si, st := range sets {
		for gi, g := range t.opt.ExpertGates {
			if g[0] < st.rng[0] || g[1] > st.rng[1] {
				continue // the expert never saw faces the gate lets in
			}
			for di := range decodes {
				keys = append(keys, key{si, gi, di})
			}
		}
	}
	slot := make(map[key]int, len(keys))
	for k, kk := range keys {
		slot[kk] = k
	}

	perFold := make([][]cvAcc, t.opt.Folds)
	errs := make([]error, t.opt.Folds)
	runFold := func(f int) {
		acc := make([]cvAcc, len(keys))
		var held []int
		for i, fi := range t.fold {
			if fi == f {
				held = append(held, i)
			}
		}
		held = t.labelled("age", held)
		mainAge := make([]float64, len(held))
		for r, i := range held {
			mainAge[r] = decodeOrdinal(main[f].score(t.x[i]), main[f].b, mainDecode)
		}
		var warm []float64
		for si, st := range sets {
			if si > 0 && (sets[si-1].rng != st.rng || sets[si-1].cfg.power != st.cfg.power) {
				warm = nil
			}
			var train []int
			for i, fi := range t.fold {
				if fi != f && t.inRange(i, st.rng) {
					train = append(train, i)
				}
			}
			t0 := time.Now()
			m, sol, err := t.fit(ctx, "expert", f, train, st.cfg, warm)
			if err != nil {
				errs[f] = fmt.Errorf("heads: age expert fold %d range %v λ=%g: %w", f, st.rng, st.cfg.lambda, err)
				return
			}
			warm = sol
			for gi, g := range t.opt.ExpertGates {
				for di, dec := range decodes {
					k, ok := slot[key{si, gi, di}]
					if !ok {
						continue
					}
					a := &acc[k]
					for r, i := range held {
						est := mainAge[r]
						if est >= g[0] && est <= g[1] {
							est = decodeOrdinal(m.score(t.x[i]), m.b, dec)
						}
						t.scoreAge(i, est, a)
					}
				}
			}
			t.opt.Logger.Debug("cv fit", "head", "expert", "fold", f, "range", st.rng, "lambda", st.cfg.lambda, "power", st.cfg.power, "time", time.Since(t0))
		}
		perFold[f] = acc
	}
	t.forFolds(runFold)
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	pts := make([]CVPoint, 0, len(keys))
	for k, kk := range keys {
		var a cvAcc
		for f := range perFold { // fixed order: deterministic sums
			a.add(perFold[f][k])
		}
		st := sets[kk.set]
		rng, gate := st.rng, t.opt.ExpertGates[kk.gate]
		p := CVPoint{Lambda: st.cfg.lambda, Weighted: st.cfg.power > 0, WeightPower: st.cfg.power,
			Decode: decodes[kk.dec], Range: &rng, Gate: &gate}
		a.ageFigures(&p)
		pts = append(pts, p)
		t.opt.Logger.Info("cv", "head", "expert", "range", rng, "gate", gate, "lambda", p.Lambda, "power", p.WeightPower,
			"decode", p.Decode, "mae", p.MAE, "balanced_mae", p.BalancedMAE, "mae_21_60", p.MAE2160, "balanced_mae_21_60", p.BalancedMAE2160)
	}
	return pts, nil
}

// inRange reports whether sample i has an age inside rng.
func (t *trainer) inRange(i int, rng [2]float64) bool {
	s := t.samples[i]
	return s.hasAge() && s.Age >= rng[0] && s.Age <= rng[1]
}

// crit2160 is the expert criterion: MAE on ages 21-60, clipped.
func crit2160(p CVPoint, balanced bool) float64 {
	if balanced {
		return p.BalancedMAE2160
	}
	return p.MAE2160
}

// expertTolerance is how much worse (relative) than the age head alone an
// expert may make the overall cross-validated MAE (the age head's own
// criterion) and still be chosen for its 21-60 figure.
const expertTolerance = 0.01

// bestExpert returns the expert setting with the lowest 21-60 criterion
// among those whose overall MAE (balanced or plain, as the age head was
// chosen) stays within expertTolerance of the age head alone (base), or nil
// when none of them beats base on ages 21-60.
func bestExpert(pts []CVPoint, base CVPoint, balanced bool) *CVPoint {
	overall := func(p CVPoint) float64 {
		if balanced {
			return p.BalancedMAE
		}
		return p.MAE
	}
	var best *CVPoint
	for k := range pts {
		if overall(pts[k]) > overall(base)*(1+expertTolerance) {
			continue
		}
		if best == nil || crit2160(pts[k], balanced) < crit2160(*best, balanced) {
			best = &pts[k]
		}
	}
	if best == nil || !(crit2160(*best, balanced) < crit2160(base, balanced)) {
		return nil
	}
	p := *best
	return &p
}
