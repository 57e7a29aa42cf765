package heads

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"
)

func quickOpts() Options {
	return Options{Folds: 3, Seed: 42, Lambdas: []float64{0.1, 1}, Weighting: []bool{false, true},
		ExpertRanges: [][2]float64{{13, 80}}, ExpertLambdas: []float64{1}, ExpertPowers: []float64{0, 0.5}}
}

func TestTrainDeterministic(t *testing.T) {
	ctx := context.Background()
	s := synthSamples(100, 1)
	optN := quickOpts()
	optN.Workers = 3
	h1, err := Train(ctx, s, optN)
	if err != nil {
		t.Fatal(err)
	}
	// Same data handed over in another order, folds trained one at a time
	// instead of concurrently.
	shuf := append([]Sample(nil), s...)
	rand.New(rand.NewPCG(9, 9)).Shuffle(len(shuf), func(i, j int) { shuf[i], shuf[j] = shuf[j], shuf[i] })
	opt1 := quickOpts()
	opt1.Workers = 1
	h2, err := Train(ctx, shuf, opt1)
	if err != nil {
		t.Fatal(err)
	}
	if h1.Age.Expert == nil {
		t.Fatal("no adult expert chosen on this data: the check below would not cover its bytes")
	}
	b1, _ := h1.Marshal()
	b2, _ := h2.Marshal()
	if !bytes.Equal(b1, b2) {
		t.Fatalf("same data gave different heads files (%d vs %d bytes)", len(b1), len(b2))
	}
	// A one-label change must change the data hash and the bytes.
	s[3].Age++
	h3, err := Train(ctx, s, quickOpts())
	if err != nil {
		t.Fatal(err)
	}
	if h3.Data.SHA256 == h1.Data.SHA256 {
		t.Fatal("data hash ignores labels")
	}
}

func TestCrossValidationNeverSeesHeldOutFold(t *testing.T) {
	s := synthSamples(120, 2)
	opt := quickOpts()
	fold := assignFolds(len(s), opt.Folds, opt.Seed)
	rng := opt.ExpertRanges[0]
	// The expert reads only faces aged inside its range.
	wanted := func(head string, i int) bool {
		return head != "expert" || (s[i].Age >= rng[0] && s[i].Age <= rng[1])
	}
	fits := map[int]int{}
	expertFits := map[int]int{}
	opt.onFit = func(head string, f int, train []int) {
		fits[f]++
		if head == "expert" {
			expertFits[f]++
		}
		want := 0
		for i, fi := range fold {
			if (f < 0 || fi != f) && wanted(head, i) {
				want++
			}
		}
		for _, i := range train {
			if f >= 0 && fold[i] == f {
				t.Fatalf("%s fit for fold %d read sample %d of its held-out fold", head, f, i)
			}
			if !wanted(head, i) {
				t.Fatalf("%s fit for fold %d read sample %d aged %v, outside %v", head, f, i, s[i].Age, rng)
			}
		}
		if len(train) != want {
			t.Errorf("%s fit for fold %d read %d samples, want all %d outside the fold", head, f, len(train), want)
		}
	}
	h, err := Train(context.Background(), s, opt)
	if err != nil {
		t.Fatal(err)
	}
	for f := 0; f < opt.Folds; f++ {
		// 2 heads × |λ| × |weighting| fits per fold, and the expert's
		// |ranges| × |powers| × |λ|.
		want := 2*len(opt.Lambdas)*len(opt.Weighting) + len(opt.ExpertPowers)*len(opt.ExpertLambdas)
		if fits[f] != want || expertFits[f] != len(opt.ExpertPowers)*len(opt.ExpertLambdas) {
			t.Errorf("fold %d: %d fits (%d expert), want %d", f, fits[f], expertFits[f], want)
		}
	}
	wantFinal := 2
	if h.Age.Expert != nil {
		wantFinal = 3
	}
	if fits[-1] != wantFinal || (expertFits[-1] == 1) != (h.Age.Expert != nil) {
		t.Errorf("%d final fits (%d expert), want %d", fits[-1], expertFits[-1], wantFinal)
	}
	// Every sample is held out exactly once and folds are balanced.
	count := make([]int, opt.Folds)
	for _, f := range fold {
		count[f]++
	}
	for f, c := range count {
		if c != len(s)/opt.Folds {
			t.Errorf("fold %d has %d samples", f, c)
		}
	}
}

func TestHeadsLearnAndRoundTrip(t *testing.T) {
	ctx := context.Background()
	train := synthSamples(400, 3)
	test := synthSamples(200, 4)
	h, err := Train(ctx, train, quickOpts())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "heads-x.json")
	h.Name = "x"
	if err := h.Save(path); err != nil {
		t.Fatal(err)
	}
	l, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var maeHead, maeSeed float64
	var accHead, accSeed int
	for _, s := range test {
		age, pm, err := l.Apply(s.In)
		if err != nil {
			t.Fatal(err)
		}
		a2, p2, _ := h.Apply(s.In)
		if a2 != age || p2 != pm {
			t.Fatalf("loaded heads disagree: %v/%v vs %v/%v", age, pm, a2, p2)
		}
		maeHead += math.Abs(age - s.Age)
		maeSeed += math.Abs(SeedAge(s.In.AgeProbs) - s.Age)
		if (pm >= 0.6) == (s.Gender == Male) {
			accHead++
		}
		if (s.In.MaleProb >= 0.6) == (s.Gender == Male) {
			accSeed++
		}
	}
	n := float64(len(test))
	t.Logf("held-out synthetic: MAE head %.2f seed %.2f; gender head %.3f seed %.3f",
		maeHead/n, maeSeed/n, float64(accHead)/n, float64(accSeed)/n)
	if maeHead >= maeSeed {
		t.Errorf("head MAE %.2f not below the network's own %.2f", maeHead/n, maeSeed/n)
	}
	if accHead <= accSeed {
		t.Errorf("head gender accuracy %d/%d not above the network's own %d", accHead, len(test), accSeed)
	}
}

func TestTrainRejectsBadInput(t *testing.T) {
	s := synthSamples(40, 5)
	s[7].In.Features = s[7].In.Features[:10]
	_, err := Train(context.Background(), s, quickOpts())
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte(s[7].Key)) {
		t.Fatalf("want an error naming %s, got %v", s[7].Key, err)
	}
	s = synthSamples(4, 5)
	if _, err := Train(context.Background(), s, quickOpts()); err == nil {
		t.Fatal("trained on 4 samples with 3 folds")
	}
}
