package utkface

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"sort"
	"testing"

	"github.com/faced/faced/agegender"
	"github.com/faced/faced/internal/shared"
	"github.com/faced/faced/models"
)

func TestParseLabel(t *testing.T) {
	for _, tc := range []struct {
		name string
		want Label
		err  bool
	}{
		{"100_1_2_20170105174847679.jpg.chip.jpg", Label{Age: 100, Male: false}, false},
		{"10_0_0_20170110220033115.jpg.chip.jpg", Label{Age: 10, Male: true}, false},
		{"/x/y/26_0_1_2017.jpg", Label{Age: 26, Male: true}, false},
		{"26_2_1_2017.jpg", Label{}, true},
		{"abc_0_1_2017.jpg", Label{}, true},
		{"26.jpg", Label{}, true},
	} {
		got, err := ParseLabel(tc.name)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseLabel(%q) = %v, %v", tc.name, got, err)
		}
		if err != nil && !errors.Is(err, ErrBadName) {
			t.Errorf("ParseLabel(%q): error %v is not ErrBadName", tc.name, err)
		}
	}
}

func TestAdienceGroup(t *testing.T) {
	for _, tc := range []struct {
		age  float64
		want int
	}{{0, 0}, {2, 0}, {3, 1}, {6, 1}, {8, 2}, {12, 2}, {15, 3}, {20, 3}, {25, 4}, {32, 4}, {38, 5}, {43, 5}, {48, 6}, {53, 6}, {60, 7}, {99, 7}} {
		if got := AdienceGroup(tc.age); got != tc.want {
			t.Errorf("AdienceGroup(%v) = %d, want %d", tc.age, got, tc.want)
		}
	}
}

func TestScore(t *testing.T) {
	s := []Sample{{Label: Label{Age: 30, Male: true}}, {Label: Label{Age: 10, Male: false}}, {Label: Label{Age: 70, Male: true}}, {Label: Label{Age: 21, Male: false}}}
	r := Score(s, []float64{33, 20, 62, 15}, []float64{0.6, 0.7, 0.59, 0.1})
	// gender: 0.6 male ok, 0.7 wrong (female), 0.59 wrong (male), 0.1 ok.
	if r.N != 4 || r.GenderAccuracy != 0.5 {
		t.Errorf("gender accuracy %v", r.GenderAccuracy)
	}
	if want := (3.0 + 10 + 8 + 6) / 4; math.Abs(r.AgeMAE-want) > 1e-12 {
		t.Errorf("MAE %v, want %v", r.AgeMAE, want)
	}
	if r.Within5 != 0.25 {
		t.Errorf("within5 %v", r.Within5)
	}
	// 21-60 subset: ages 30 and 21; prediction 15 clipped to 21.
	if r.Ages2160.N != 2 || r.Ages2160.AgeMAE != 1.5 || r.Ages2160.GenderAccuracy != 1 {
		t.Errorf("21-60 subset %+v", r.Ages2160)
	}
}

// TestEvaluateRealChips runs the protocol on every 8th chip of the real
// evaluation set and checks the network is far better than trivial
// predictors on the same chips (majority gender, median age).
func TestEvaluateRealChips(t *testing.T) {
	dir := shared.Dir(t, "testdata/utkface")
	data := shared.DataDir(t)
	all, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	var samples []Sample
	for i := 0; i < len(all); i += 8 {
		samples = append(samples, all[i])
	}
	lib, err := models.FindORTLibrary(filepath.Join(shared.VarDir(), "lib", models.ORTLibName))
	if err != nil {
		t.Skip(err)
	}
	if err := models.InitRuntime(lib); err != nil {
		t.Fatal(err)
	}
	reg, err := models.OpenRegistry(data)
	if err != nil {
		t.Fatal(err)
	}
	net, err := agegender.Open(reg, "", models.SessionOptions{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	done := 0
	r, err := Evaluate(context.Background(), samples, net, 8, func(n int) { done = n })
	if err != nil {
		t.Fatal(err)
	}
	if r.N != len(samples) || done != len(samples) {
		t.Fatalf("evaluated %d (progress %d) of %d", r.N, done, len(samples))
	}
	// Trivial predictors on the same chips.
	males := 0
	ages := make([]float64, len(samples))
	for i, s := range samples {
		if s.Male {
			males++
		}
		ages[i] = float64(s.Age)
	}
	majority := math.Max(float64(males), float64(len(samples)-males)) / float64(len(samples))
	sort.Float64s(ages)
	median := ages[len(ages)/2]
	var trivialMAE float64
	for _, a := range ages {
		trivialMAE += math.Abs(a - median)
	}
	trivialMAE /= float64(len(ages))
	t.Logf("n=%d gender %.3f (majority %.3f) MAE %.2f (median predictor %.2f) within5 %.3f", r.N, r.GenderAccuracy, majority, r.AgeMAE, trivialMAE, r.Within5)
	if r.GenderAccuracy < majority+0.2 {
		t.Errorf("gender accuracy %.3f not well above the majority rule %.3f", r.GenderAccuracy, majority)
	}
	if r.AgeMAE > 0.7*trivialMAE {
		t.Errorf("age MAE %.2f not well below the median predictor's %.2f", r.AgeMAE, trivialMAE)
	}
}
