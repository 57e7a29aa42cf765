package heads

import (
	"errors"
	"math"
	"path/filepath"
	"testing"
)

// cumulative returns ordinal thresholds (projection 0) whose P(age > k)
// follow the hand-made age distribution p (p[a] = P(age = a), a = 1..100).
func cumulative(p map[int]float64) []float64 {
	b := make([]float64, ageRanks-1)
	for k := 1; k < ageRanks; k++ {
		var above float64
		for a, pa := range p {
			if a > k {
				above += pa
			}
		}
		above = math.Min(math.Max(above, 1e-12), 1-1e-12)
		b[k-1] = math.Log(above / (1 - above))
	}
	return b
}

func TestDecodeMedianOfHandMadeDistribution(t *testing.T) {
	for _, c := range []struct {
		name           string
		p              map[int]float64
		median, expect float64 // median: the class where P(age > k) falls through 0.5
	}{
		// 60 % aged 20, 40 % aged 80: the mean is 44, the median 20 (the
		// absolute error 0.4·60 = 24 of guessing 20 beats 0.6·24 + 0.4·36 =
		// 28.8 of guessing 44).
		{"bimodal", map[int]float64{20: 0.6, 80: 0.4}, 20, 44},
		{"one age", map[int]float64{35: 1}, 35, 35},
		// skewed: 30 (50 %), 31 (10 %), 70 (40 %): median 30-31, mean 46.1.
		{"skewed", map[int]float64{30: 0.5, 31: 0.1, 70: 0.4}, 30, 46.1},
	} {
		b := cumulative(c.p)
		med := decodeOrdinal(0, b, DecodeMedian)
		exp := decodeOrdinal(0, b, DecodeExpectation)
		if math.Abs(exp-c.expect) > 1e-6 {
			t.Errorf("%s: expectation %.4f, want %.4f", c.name, exp, c.expect)
		}
		if med < c.median-0.5 || med > c.median+1 {
			t.Errorf("%s: median %.3f, want within [%v, %v]", c.name, med, c.median-0.5, c.median+1)
		}
		// Expected absolute error: the median rule must not lose to the mean.
		cost := func(g float64) (e float64) {
			for a, pa := range c.p {
				e += pa * math.Abs(float64(a)-g)
			}
			return e
		}
		if cost(med) > cost(exp)+1e-9 {
			t.Errorf("%s: expected |error| of median %.3f (%.3f) above the mean's %.3f (%.3f)", c.name, med, cost(med), exp, cost(exp))
		}
	}
	// The projection shifts the estimate: a larger score means older.
	b := cumulative(map[int]float64{40: 1})
	if a0, a1 := decodeOrdinal(0, b, DecodeMedian), decodeOrdinal(50, b, DecodeMedian); !(a1 > a0) {
		t.Errorf("score +50 gives %.2f, not above %.2f", a1, a0)
	}
}

// expertHeads are hand-made heads whose main age head always says 30 and
// whose expert always says 50 (weights zero, thresholds from one age).
func expertHeads(gate [2]float64) *Heads {
	return &Heads{Format: FormatVersion, Name: "x", Gender: GenderHead{W: make([]float64, InputDim)},
		Age: AgeHead{Decode: DecodeExpectation, W: make([]float64, InputDim), Thresholds: cumulative(map[int]float64{30: 1}),
			Expert: &AgeExpert{Range: [2]float64{13, 80}, Gate: gate, Decode: DecodeExpectation,
				W: make([]float64, InputDim), Thresholds: cumulative(map[int]float64{50: 1})}}}
}

func TestAgeExpertGate(t *testing.T) {
	in := synthSamples(1, 1)[0].In
	for _, c := range []struct {
		gate [2]float64
		want float64
	}{{[2]float64{18, 70}, 50}, {[2]float64{31, 70}, 30}, {[2]float64{15, 29}, 30}, {[2]float64{29.5, 30.5}, 50}} {
		h := expertHeads(c.gate)
		// The file round trip keeps the expert.
		p := filepath.Join(t.TempDir(), "heads-x.json")
		if err := h.Save(p); err != nil {
			t.Fatal(err)
		}
		l, err := Load(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, hh := range []*Heads{h, l} {
			age, _, err := hh.Apply(in)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(age-c.want) > 1e-6 {
				t.Errorf("gate %v: age %.3f, want %v", c.gate, age, c.want)
			}
		}
	}
	if n := expertHeads([2]float64{18, 70}).Size(); n != 3*InputDim+1+2*(ageRanks-1) {
		t.Errorf("Size %d counts the expert wrongly", n)
	}
}

func TestHeadsFileFormats(t *testing.T) {
	dir := t.TempDir()
	// A version-1 file (no expert) still loads and applies its one age head.
	v1 := expertHeads([2]float64{18, 70})
	v1.Format, v1.Age.Expert = FormatV1, nil
	p := filepath.Join(dir, "heads-v1.json")
	if err := v1.Save(p); err != nil {
		t.Fatal(err)
	}
	l, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if age, _, _ := l.Apply(synthSamples(1, 1)[0].In); math.Abs(age-30) > 1e-6 {
		t.Errorf("v1 heads: age %.3f, want 30", age)
	}
	// Bad experts are refused.
	for name, mod := range map[string]func(*Heads){
		"v1 with expert":    func(h *Heads) { h.Format = FormatV1 },
		"short expert":      func(h *Heads) { h.Age.Expert.W = h.Age.Expert.W[:5] },
		"thresholds":        func(h *Heads) { h.Age.Expert.Thresholds = nil },
		"decode":            func(h *Heads) { h.Age.Expert.Decode = "mode" },
		"empty gate":        func(h *Heads) { h.Age.Expert.Gate = [2]float64{70, 18} },
		"non-finite weight": func(h *Heads) { h.Age.Expert.W[3] = math.NaN() },
	} {
		h := expertHeads([2]float64{18, 70})
		mod(h)
		if err := h.Save(filepath.Join(dir, "heads-bad.json")); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: saved (err %v)", name, err)
		}
	}
}

func TestBestExpert(t *testing.T) {
	base := CVPoint{MAE: 4, BalancedMAE: 5.6, MAE2160: 5.4, BalancedMAE2160: 5.7}
	pts := []CVPoint{
		{Lambda: 1, MAE: 4, BalancedMAE: 6.0, MAE2160: 4.9, BalancedMAE2160: 5.5},  // best on 21-60, 7 % worse overall
		{Lambda: 2, MAE: 4, BalancedMAE: 5.64, MAE2160: 5.0, BalancedMAE2160: 5.6}, // within 1 %
		{Lambda: 3, MAE: 4, BalancedMAE: 5.5, MAE2160: 5.3, BalancedMAE2160: 5.65},
	}
	if b := bestExpert(pts, base, true); b == nil || b.Lambda != 2 {
		t.Errorf("balanced: chose %+v, want λ 2", b)
	}
	// Plain: overall MAE equal everywhere, so the best 21-60 wins.
	if b := bestExpert(pts, base, false); b == nil || b.Lambda != 1 {
		t.Errorf("plain: chose %+v, want λ 1", b)
	}
	// Nothing beats the age head alone on 21-60: no expert.
	if b := bestExpert(pts[2:], CVPoint{MAE: 4, BalancedMAE: 5.6, MAE2160: 5.2, BalancedMAE2160: 5.6}, true); b != nil {
		t.Errorf("chose %+v though it loses to the age head alone", b)
	}
	if b := bestExpert(nil, base, true); b != nil {
		t.Errorf("chose %+v from nothing", b)
	}
}
