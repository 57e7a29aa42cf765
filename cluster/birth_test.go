package cluster

import (
	"math"
	"testing"
)

func TestEstimateBirth(t *testing.T) {
	// a person born in mid 1990 (true birth 1990.5), photographed with
	// apparent ages the network gives children and adults
	child := func(age float64) BirthObs { return BirthObs{When: 1990.5 + age + 0.5, Age: age} }
	for _, c := range []struct {
		name    string
		obs     []BirthObs
		want    int // floor of the estimate
		tol     float64
		outlier int
	}{
		{"children's ages are trusted", []BirthObs{child(2), child(3), child(5)}, 1990, 1, 0},
		// the median of (child 1990, adult photos made ten years older)
		// would be 1981; the children's reliable ages weigh more
		{"adults made older weigh less", []BirthObs{child(2), child(4), {When: 2020.5, Age: 40}, {When: 2025.5, Age: 45}}, 1990, 1.5, 0},
		{"a stranger's face is an outlier", []BirthObs{child(1), child(2), child(3), child(4), {When: 1996, Age: 45}}, 1990, 1, 1},
	} {
		b, ok := EstimateBirth(c.obs)
		if !ok || math.Abs(b.Year-1990.5) > c.tol || b.Outliers != c.outlier {
			t.Errorf("%s: %+v, want %d ± %.1f with %d outliers", c.name, b, c.want, c.tol, c.outlier)
		}
		if b.Confidence <= 0 || b.Confidence > 1 {
			t.Errorf("%s: confidence %v outside (0, 1]", c.name, b.Confidence)
		}
	}
	// dates that are only mtimes make the estimate less sure
	exif := []BirthObs{{When: 2000.5, Age: 9}, {When: 2003.5, Age: 13}}
	mt := []BirthObs{{When: 2000.5, Age: 9, MtimeOnly: true}, {When: 2003.5, Age: 13, MtimeOnly: true}}
	be, _ := EstimateBirth(exif)
	bm, _ := EstimateBirth(mt)
	if !(bm.Sigma > be.Sigma && bm.Confidence < be.Confidence) {
		t.Errorf("mtime dates: sigma %.2f confidence %.2f, exif: %.2f %.2f; want mtime less sure", bm.Sigma, bm.Confidence, be.Sigma, be.Confidence)
	}
	if _, ok := EstimateBirth([]BirthObs{{When: 0, Age: 30}}); ok {
		t.Error("undated faces gave an estimate")
	}
}
