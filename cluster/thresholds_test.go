package cluster

import "testing"

func TestOptionsFromThresholds(t *testing.T) {
	def := DefaultOptions()
	if got := OptionsFromThresholds(nil); got != def {
		t.Fatalf("no thresholds: %+v, want the defaults %+v", got, def)
	}
	th := map[string]float64{ThresholdEps: 0.9, ThresholdJoinEps: 0.85, ThresholdMinPts: 3, ThresholdLink: 0.2, ThresholdAgeWeight: 0.1, ThresholdSeedCut: 0.7, "male": 0.6}
	got := OptionsFromThresholds(th)
	want := def
	want.Eps, want.JoinEps, want.MinPts, want.Link, want.AgeWeight = 0.9, 0.85, 3, 0.2, 0.1
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	// nonsense values keep the defaults
	bad := OptionsFromThresholds(map[string]float64{ThresholdEps: -1, ThresholdMinPts: 0, ThresholdLink: -0.5})
	if bad != def {
		t.Fatalf("bad thresholds: %+v", bad)
	}
	// the user's radius replaces eps; join-eps keeps its margin
	u := got.WithEps(0.7)
	if u.Eps != 0.7 || u.JoinEps < 0.649 || u.JoinEps > 0.651 || u.MinPts != 3 {
		t.Fatalf("WithEps(0.7): %+v", u)
	}
	if got.WithEps(0) != got {
		t.Fatal("WithEps(0) changed the options")
	}
}
