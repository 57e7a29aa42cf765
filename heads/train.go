package heads

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"sort"
	"sync"
	"time"
)

// Options control training. The zero value gives the defaults.
type Options struct {
	Folds int    // cross-validation folds; default 5
	Seed  uint64 // fold assignment seed; default 1
	// L2 strengths tried per head; Lambdas, when set, replaces both.
	// Defaults: gender 0.01, 0.1, 1; age 1, 10, 100 (the ordinal loss sums
	// 99 boundaries per face, so its data term is that much larger).
	Lambdas       []float64
	GenderLambdas []float64
	AgeLambdas    []float64
	Weighting     []bool // group re-weighting settings tried; default off and on
	Logger        *slog.Logger
	// Plain selects hyper-parameters by the plain cross-validated figures;
	// by default they are chosen by the balanced ones, where every (decade,
	// gender) group counts the same (weights as for Weighting, computed on
	// the training data): a prior uniform over ages and genders rather than
	// the training set's own mix.
	Plain bool
	// Workers bounds the folds trained at once; default GOMAXPROCS. The
	// result does not depend on it.
	Workers int

	// Adult expert (AgeExpert): a second age head trained only on faces
	// aged inside one of ExpertRanges, gated by the chosen age head's
	// estimate, cross-validated on top of that head's held-out estimates
	// over ranges × powers × λ × gates × decodings. The setting with the
	// lowest cross-validated MAE on ages 21-60 (estimates clipped to
	// [21, 60], balanced unless Plain) among those that keep the overall
	// MAE within 1 % of the age head alone is kept if it beats the age head
	// alone on ages 21-60. NoExpert skips it.
	NoExpert      bool
	ExpertRanges  [][2]float64 // default {16, 70}, {18, 65}
	ExpertGates   [][2]float64 // default {18, 70}, {18, 65}, {20, 65}, {20, 60}; gates outside a range are skipped
	ExpertLambdas []float64    // default 3, 10
	ExpertPowers  []float64    // group re-weighting powers; default 0, 0.5

	// onFit, when set (tests), sees every fit: the head ("gender"/"age"),
	// the fold (-1 = final fit on everything) and the sample indices (into
	// the key-ordered samples) the fit reads.
	onFit func(head string, fold int, train []int)
}

func (o *Options) defaults() {
	if o.Folds == 0 {
		o.Folds = 5
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if len(o.Lambdas) > 0 {
		o.GenderLambdas, o.AgeLambdas = o.Lambdas, o.Lambdas
	}
	if len(o.GenderLambdas) == 0 {
		o.GenderLambdas = []float64{0.01, 0.1, 1}
	}
	if len(o.AgeLambdas) == 0 {
		o.AgeLambdas = []float64{1, 10, 100}
	}
	if len(o.Weighting) == 0 {
		o.Weighting = []bool{false, true}
	}
	if len(o.ExpertRanges) == 0 {
		o.ExpertRanges = [][2]float64{{16, 70}, {18, 65}}
	}
	if len(o.ExpertGates) == 0 {
		o.ExpertGates = [][2]float64{{18, 70}, {18, 65}, {20, 65}, {20, 60}}
	}
	if len(o.ExpertLambdas) == 0 {
		o.ExpertLambdas = []float64{3, 10}
	}
	if len(o.ExpertPowers) == 0 {
		o.ExpertPowers = []float64{0, 0.5}
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// ErrTooFew reports too little labelled data to cross-validate.
var ErrTooFew = errors.New("heads: too few labelled samples")

// CVPoint is the cross-validated figure of one hyper-parameter setting,
// pooled over all held-out folds.
type CVPoint struct {
	Lambda   float64 `json:"lambda"`
	Weighted bool    `json:"weighted"`
	Decode   string  `json:"decode,omitempty"`
	N        int     `json:"n"`
	Accuracy float64 `json:"accuracy,omitempty"` // gender, cut at the head's 0.5
	LogLoss  float64 `json:"log_loss,omitempty"` // gender
	MAE      float64 `json:"mae,omitempty"`      // age
	Within5  float64 `json:"within5,omitempty"`  // age
	// Balanced figures: every (decade, gender) group weighted the same.
	BalancedAccuracy float64 `json:"balanced_accuracy,omitempty"`
	BalancedMAE      float64 `json:"balanced_mae,omitempty"`
	BalancedWithin5  float64 `json:"balanced_within5,omitempty"`
	// Age, faces aged 21-60 only with estimates clipped to [21, 60] (how
	// the seed and CORAL-CNN report UTKFace): N2160 faces, plain and
	// balanced MAE.
	N2160           int     `json:"n_21_60,omitempty"`
	MAE2160         float64 `json:"mae_21_60,omitempty"`
	BalancedMAE2160 float64 `json:"balanced_mae_21_60,omitempty"`
	// Adult expert settings (CVInfo.Expert).
	Range       *[2]float64 `json:"range,omitempty"`
	Gate        *[2]float64 `json:"gate,omitempty"`
	WeightPower float64     `json:"weight_power,omitempty"`
}

type config struct {
	lambda float64
	// power of the group re-weighting: weights ∝ (group count)^-power;
	// 0 = none, 1 = every (decade, gender) group counts the same.
	power float64
}

func powerOf(weighted bool) float64 {
	if weighted {
		return 1
	}
	return 0
}

type trainer struct {
	opt     Options
	samples []Sample
	x       [][]float64 // vectorized inputs, one per sample
	fold    []int
	evalW   []float64 // balanced weight of each sample (CV figures)
	hookMu  sync.Mutex
}

// Train fits both heads on samples (any order; they are ordered by key),
// choosing hyper-parameters by k-fold cross-validation. Name, model and
// licence fields of the result are left for the caller.
func Train(ctx context.Context, samples []Sample, opt Options) (*Heads, error) {
	opt.defaults()
	s := append([]Sample(nil), samples...)
	if err := sortSamples(s); err != nil {
		return nil, err
	}
	t := &trainer{opt: opt, samples: s, x: make([][]float64, len(s))}
	var nAge, nGender int
	for i, smp := range s {
		t.x[i] = make([]float64, InputDim)
		if err := vectorize(smp.In, t.x[i]); err != nil {
			return nil, fmt.Errorf("heads: sample %s: %w", smp.Key, err)
		}
		if smp.hasAge() {
			nAge++
		}
		if smp.Gender != GenderUnknown {
			nGender++
		}
	}
	if opt.Folds < 2 {
		return nil, fmt.Errorf("heads: %d folds: need at least 2", opt.Folds)
	}
	if nAge < 2*opt.Folds || nGender < 2*opt.Folds {
		return nil, fmt.Errorf("%w: %d with age, %d with gender, %d folds", ErrTooFew, nAge, nGender, opt.Folds)
	}
	t.fold = assignFolds(len(s), opt.Folds, opt.Seed)
	all := make([]int, len(s))
	for i := range all {
		all[i] = i
	}
	t.evalW = t.weights(all, 1)

	h := &Heads{Format: FormatVersion, CreatedBy: CreatedBy}
	h.Data = DataInfo{SHA256: DataHash(s), N: len(s), NAge: nAge, NGender: nGender}
	h.CV = CVInfo{Folds: opt.Folds, Seed: opt.Seed, Criterion: "balanced"}
	if opt.Plain {
		h.CV.Criterion = "plain"
	}

	gPts, _, err := t.crossValidate(ctx, "gender")
	if err != nil {
		return nil, err
	}
	aPts, aModels, err := t.crossValidate(ctx, "age")
	if err != nil {
		return nil, err
	}
	h.CV.Gender, h.CV.Age = gPts, aPts
	gBest := bestGender(gPts, !opt.Plain)
	aBest := bestAge(aPts, !opt.Plain)
	h.CV.GenderChosen, h.CV.AgeChosen = gBest, aBest

	gm, _, err := t.fit(ctx, "gender", -1, all, config{gBest.Lambda, powerOf(gBest.Weighted)}, nil)
	if err != nil {
		return nil, err
	}
	am, _, err := t.fit(ctx, "age", -1, all, config{aBest.Lambda, powerOf(aBest.Weighted)}, nil)
	if err != nil {
		return nil, err
	}
	h.Gender = GenderHead{Lambda: gBest.Lambda, Weighted: gBest.Weighted, Shift: logit(seedMaleCut), W: gm.w, B: gm.b[0]}
	h.Age = AgeHead{Lambda: aBest.Lambda, Weighted: aBest.Weighted, Decode: aBest.Decode, W: am.w, Thresholds: am.b}
	if opt.NoExpert {
		return h, nil
	}
	h.CV.ExpertCriterion = "mae_21_60"
	if !opt.Plain {
		h.CV.ExpertCriterion = "balanced_mae_21_60"
	}
	// Ranges with too few faces to cross-validate are left out.
	var ranges [][2]float64
	for _, rng := range t.opt.ExpertRanges {
		n := 0
		for i := range s {
			if t.inRange(i, rng) {
				n++
			}
		}
		if n >= 2*opt.Folds {
			ranges = append(ranges, rng)
		}
	}
	t.opt.ExpertRanges = ranges
	if len(ranges) == 0 {
		return h, nil
	}
	ePts, err := t.crossValidateExpert(ctx, aModels[config{aBest.Lambda, powerOf(aBest.Weighted)}], aBest.Decode)
	if err != nil {
		return nil, err
	}
	h.CV.Expert = ePts
	eBest := bestExpert(ePts, aBest, !opt.Plain)
	h.CV.ExpertChosen = eBest
	if eBest == nil {
		return h, nil
	}
	var inRange []int
	for i := range s {
		if t.inRange(i, *eBest.Range) {
			inRange = append(inRange, i)
		}
	}
	em, _, err := t.fit(ctx, "expert", -1, inRange, config{eBest.Lambda, eBest.WeightPower}, nil)
	if err != nil {
		return nil, err
	}
	h.Age.Expert = &AgeExpert{Range: *eBest.Range, Gate: *eBest.Gate, Lambda: eBest.Lambda, WeightPower: eBest.WeightPower,
		Decode: eBest.Decode, W: em.w, Thresholds: em.b}
	return h, nil
}

// seedMaleCut is the seed's display rule male iff P ≥ 0.6.
const seedMaleCut = 0.6

// assignFolds deals n key-ordered samples into k folds of near-equal size
// after a Fisher–Yates shuffle driven by splitmix64(seed).
func assignFolds(n, k int, seed uint64) []int {
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	st := seed
	next := func() uint64 {
		st += 0x9e3779b97f4a7c15
		z := st
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		return z ^ (z >> 31)
	}
	for i := n - 1; i > 0; i-- {
		j := int(next() % uint64(i+1))
		perm[i], perm[j] = perm[j], perm[i]
	}
	fold := make([]int, n)
	for pos, i := range perm {
		fold[i] = pos % k
	}
	return fold
}

// linear is a fitted head in raw-input space: w·x + b (gender, len(b) = 1)
// or w·x + b_k (age thresholds).
type linear struct {
	w []float64
	b []float64
}

func (l linear) score(x []float64) float64 {
	var s float64
	for j, v := range x {
		s += l.w[j] * v
	}
	return s
}

func (t *trainer) labelled(head string, idx []int) []int {
	var out []int
	for _, i := range idx {
		s := t.samples[i]
		if (head == "gender" && s.Gender != GenderUnknown) || (head != "gender" && s.hasAge()) {
			out = append(out, i)
		}
	}
	return out
}

// fit trains one head on the samples idx (only those labelled for the head
// are read) with z-scoring and group weights computed on them alone, and
// returns it folded back into raw-input space.
func (t *trainer) fit(ctx context.Context, head string, fold int, idx []int, cfg config, init []float64) (linear, []float64, error) {
	idx = t.labelled(head, idx)
	if len(idx) == 0 {
		return linear{}, nil, fmt.Errorf("%w: no labelled samples for the %s head", ErrTooFew, head)
	}
	if t.opt.onFit != nil {
		t.hookMu.Lock()
		t.opt.onFit(head, fold, append([]int(nil), idx...))
		t.hookMu.Unlock()
	}
	n, d := len(idx), InputDim
	mean := make([]float64, d)
	scale := make([]float64, d)
	for _, i := range idx {
		for j, v := range t.x[i] {
			mean[j] += v
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	for _, i := range idx {
		for j, v := range t.x[i] {
			dv := v - mean[j]
			scale[j] += dv * dv
		}
	}
	for j := range scale {
		scale[j] = math.Sqrt(scale[j] / float64(n))
		if scale[j] < 1e-9 {
			scale[j] = 1
		}
	}
	m := design{n: n, d: d, x: make([]float64, n*d)}
	for r, i := range idx {
		row := m.x[r*d : (r+1)*d]
		for j, v := range t.x[i] {
			row[j] = (v - mean[j]) / scale[j]
		}
	}
	sw := t.weights(idx, cfg.power)
	var (
		sol []float64
		err error
	)
	if head == "gender" {
		y := make([]float64, n)
		for r, i := range idx {
			if t.samples[i].Gender == Male {
				y[r] = 1
			}
		}
		sol, err = fitLogistic(ctx, m, y, sw, cfg.lambda, init)
	} else {
		age := make([]float64, n)
		for r, i := range idx {
			age[r] = t.samples[i].Age
		}
		sol, err = fitOrdinal(ctx, m, age, sw, cfg.lambda, init)
	}
	if err != nil {
		return linear{}, nil, err
	}
	w, b := sol[:d], sol[d:]
	// Fold the z-scoring into the weights: w'·x + b' = w·(x−μ)/σ + b.
	out := linear{w: make([]float64, d), b: append([]float64(nil), b...)}
	var shift float64
	for j := range w {
		out.w[j] = w[j] / scale[j]
		shift += out.w[j] * mean[j]
	}
	for k := range out.b {
		out.b[k] -= shift
	}
	return out, sol, nil
}

// weights returns per-sample training weights for idx: all 1 (power 0),
// or ∝ the frequency of the sample's (decade, gender) group to the power
// −power (1: inverse to it), capped at 10× the mean and renormalised to
// mean 1.
func (t *trainer) weights(idx []int, power float64) []float64 {
	sw := make([]float64, len(idx))
	for r := range sw {
		sw[r] = 1
	}
	if power == 0 {
		return sw
	}
	group := func(s Sample) int {
		dec := 10 // unknown age
		if s.hasAge() {
			dec = min(int(s.Age)/10, 9)
		}
		return dec*3 + int(s.Gender)
	}
	var count [33]int
	for _, i := range idx {
		count[group(t.samples[i])]++
	}
	groups := 0
	for _, c := range count {
		if c > 0 {
			groups++
		}
	}
	var sum float64
	for r, i := range idx {
		w := float64(len(idx)) / (float64(groups) * float64(count[group(t.samples[i])]))
		if power != 1 {
			w = math.Pow(w, power)
		}
		sw[r] = math.Min(w, 10)
		sum += sw[r]
	}
	for r := range sw {
		sw[r] *= float64(len(idx)) / sum
	}
	return sw
}

// crossValidate runs every hyper-parameter setting on every fold and pools
// the held-out predictions per setting. Folds run concurrently (up to
// Options.Workers); each fold fills its own accumulators, which are summed
// in fold order afterwards, so the figures do not depend on scheduling.
func (t *trainer) crossValidate(ctx context.Context, head string) ([]CVPoint, map[config][]linear, error) {
	lams := append([]float64(nil), t.opt.GenderLambdas...)
	if head == "age" {
		lams = append([]float64(nil), t.opt.AgeLambdas...)
	}
	sort.Sort(sort.Reverse(sort.Float64Slice(lams))) // strong to weak: warm starts
	decodes := []string{""}
	if head == "age" {
		decodes = []string{DecodeMedian, DecodeExpectation}
	}
	nl, nd := len(lams), len(decodes)
	nkeys := len(t.opt.Weighting) * nl * nd
	slot := func(wi, li, di int) int { return (wi*nl+li)*nd + di }

	perFold := make([][]cvAcc, t.opt.Folds)
	models := make(map[config][]linear)
	for _, weighted := range t.opt.Weighting {
		for _, lam := range lams {
			models[config{lam, powerOf(weighted)}] = make([]linear, t.opt.Folds)
		}
	}
	errs := make([]error, t.opt.Folds)
	runFold := func(f int) {
		acc := make([]cvAcc, nkeys)
		var train, held []int
		for i, fi := range t.fold {
			if fi == f {
				held = append(held, i)
			} else {
				train = append(train, i)
			}
		}
		held = t.labelled(head, held)
		for wi, weighted := range t.opt.Weighting {
			var warm []float64 // previous (stronger) λ's solution
			for li, lam := range lams {
				t0 := time.Now()
				m, sol, err := t.fit(ctx, head, f, train, config{lam, powerOf(weighted)}, warm)
				if err != nil {
					errs[f] = fmt.Errorf("heads: %s fold %d λ=%g: %w", head, f, lam, err)
					return
				}
				warm = sol
				models[config{lam, powerOf(weighted)}][f] = m // own slot: no race
				for di, dec := range decodes {
					a := &acc[slot(wi, li, di)]
					for _, i := range held {
						t.score(head, m, dec, i, a)
					}
				}
				t.opt.Logger.Debug("cv fit", "head", head, "fold", f, "lambda", lam, "weighted", weighted, "time", time.Since(t0))
			}
		}
		perFold[f] = acc
	}
	t.forFolds(runFold)
	for _, err := range errs {
		if err != nil {
			return nil, nil, err
		}
	}
	var pts []CVPoint
	for wi := range t.opt.Weighting {
		for li := range lams {
			for di := range decodes {
				var a cvAcc
				for f := range perFold { // fixed order: deterministic sums
					a.add(perFold[f][slot(wi, li, di)])
				}
				p := CVPoint{Lambda: lams[li], Weighted: t.opt.Weighting[wi], Decode: decodes[di], N: a.n}
				if head == "gender" {
					if a.n > 0 {
						p.Accuracy = a.correct / float64(a.n)
						p.LogLoss = a.logLoss / float64(a.n)
						p.BalancedAccuracy = a.wcorrect / a.wn
					}
				} else {
					a.ageFigures(&p)
				}
				pts = append(pts, p)
				t.opt.Logger.Info("cv", "head", head, "lambda", p.Lambda, "weighted", p.Weighted, "decode", p.Decode,
					"accuracy", p.Accuracy, "log_loss", p.LogLoss, "mae", p.MAE, "within5", p.Within5,
					"balanced_accuracy", p.BalancedAccuracy, "balanced_mae", p.BalancedMAE)
			}
		}
	}
	return pts, models, nil
}

type cvAcc struct {
	n                int
	correct, logLoss float64
	absErr, within5  float64
	// weighted by the balanced weights
	wn, wcorrect, wabsErr, wwithin5 float64
	// ages 21-60, estimates clipped
	n2160               int
	absErr2160          float64
	wn2160, wabsErr2160 float64
}

func (a *cvAcc) add(b cvAcc) {
	a.n += b.n
	a.correct += b.correct
	a.logLoss += b.logLoss
	a.absErr += b.absErr
	a.within5 += b.within5
	a.wn += b.wn
	a.wcorrect += b.wcorrect
	a.wabsErr += b.wabsErr
	a.wwithin5 += b.wwithin5
	a.n2160 += b.n2160
	a.absErr2160 += b.absErr2160
	a.wn2160 += b.wn2160
	a.wabsErr2160 += b.wabsErr2160
}

// ageFigures fills p's age figures from a.
func (a cvAcc) ageFigures(p *CVPoint) {
	p.N = a.n
	if a.n == 0 {
		return
	}
	p.MAE = a.absErr / float64(a.n)
	p.Within5 = a.within5 / float64(a.n)
	p.BalancedMAE = a.wabsErr / a.wn
	p.BalancedWithin5 = a.wwithin5 / a.wn
	p.N2160 = a.n2160
	if a.n2160 > 0 {
		p.MAE2160 = a.absErr2160 / float64(a.n2160)
		p.BalancedMAE2160 = a.wabsErr2160 / a.wn2160
	}
}

func (t *trainer) score(head string, m linear, decode string, i int, a *cvAcc) {
	z := m.score(t.x[i])
	if head != "gender" {
		t.scoreAge(i, decodeOrdinal(z, m.b, decode), a)
		return
	}
	s := t.samples[i]
	w := t.evalW[i]
	a.n++
	a.wn += w
	z += m.b[0]
	male := s.Gender == Male
	if (z >= 0) == male {
		a.correct++
		a.wcorrect += w
	}
	y := 0.0
	if male {
		y = 1
	}
	a.logLoss += softplus(z) - y*z
}

// scoreAge adds the age estimate est of sample i to a.
func (t *trainer) scoreAge(i int, est float64, a *cvAcc) {
	age, w := t.samples[i].Age, t.evalW[i]
	a.n++
	a.wn += w
	e := math.Abs(est - age)
	a.absErr += e
	a.wabsErr += w * e
	if e <= 5 {
		a.within5++
		a.wwithin5 += w
	}
	if age >= 21 && age <= 60 {
		e := math.Abs(min(60, max(21, est)) - age)
		a.n2160++
		a.absErr2160 += e
		a.wn2160 += w
		a.wabsErr2160 += w * e
	}
}

func bestGender(pts []CVPoint, balanced bool) CVPoint {
	acc := func(p CVPoint) float64 {
		if balanced {
			return p.BalancedAccuracy
		}
		return p.Accuracy
	}
	best := pts[0]
	for _, p := range pts[1:] {
		if acc(p) > acc(best) || (acc(p) == acc(best) && p.LogLoss < best.LogLoss) {
			best = p
		}
	}
	return best
}

func bestAge(pts []CVPoint, balanced bool) CVPoint {
	mae := func(p CVPoint) float64 {
		if balanced {
			return p.BalancedMAE
		}
		return p.MAE
	}
	best := pts[0]
	for _, p := range pts[1:] {
		if mae(p) < mae(best) {
			best = p
		}
	}
	return best
}

// forFolds runs run(f) for every cross-validation fold, at most
// t.opt.Workers folds at a time, and returns when all are done.
func (t *trainer) forFolds(run func(f int)) {
	sem := make(chan struct{}, t.opt.Workers)
	var wg sync.WaitGroup
	for f := 0; f < t.opt.Folds; f++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			run(f)
		}()
	}
	wg.Wait()
}
