package cluster

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/faced/faced/face"
)

// it1 makes an item with a one-dimensional feature and no age information
// (age term 0), so distances are |x_i − x_j|.
func it1(id, photo int64, x float32) Item {
	return Item{ID: id, Photo: photo, Features: []float32{x}}
}

func TestSeedDistance(t *testing.T) {
	e1 := []float32{1, 0}
	e2 := []float32{0, 1}
	tests := []struct {
		name string
		a, b Item
		want float64
	}{
		{"identical", Item{Features: e1, BirthYear: 1990, Year: 2020}, Item{Features: e1, BirthYear: 1990, Year: 2020}, 0},
		{"orthogonal same age", Item{Features: e1, BirthYear: 1990, Year: 2020}, Item{Features: e2, BirthYear: 1990, Year: 2020}, math.Sqrt2},
		// ages at 2020: 20 and 30 → 0.1·100/50 = 0.2
		{"age term", Item{Features: e1, BirthYear: 2000, Year: 2020}, Item{Features: e1, BirthYear: 1990, Year: 2020}, 0.2},
		// common year is the later one: ages at 2020 are 10 and 20 → 0.1·100/30
		{"common year is max", Item{Features: e1, BirthYear: 2010, Year: 2012}, Item{Features: e1, BirthYear: 2000, Year: 2020}, 10.0 / 30},
		{"age sum not positive drops term", Item{Features: e1, BirthYear: 2030, Year: 2020}, Item{Features: e1, BirthYear: 2021, Year: 2020}, 0},
		{"unknown age", Item{Features: e1}, Item{Features: e2}, math.Sqrt2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := SeedDistance(tc.a, tc.b)
			if math.Abs(got-tc.want) > 1e-6 {
				t.Fatalf("SeedDistance = %v, want %v", got, tc.want)
			}
			if back := SeedDistance(tc.b, tc.a); math.Abs(back-got) > 1e-12 {
				t.Fatalf("not symmetric: %v vs %v", got, back)
			}
		})
	}
}

func TestSeedCluster(t *testing.T) {
	tests := []struct {
		name      string
		items     []Item
		threshold float64
		minSize   int
		want      [][]int
	}{
		{"empty", nil, 0.82, 1, nil},
		{"fewer than min size", []Item{it1(1, 1, 0)}, 0.82, 2, nil},
		{"chain is one cluster, outlier alone",
			[]Item{it1(1, 1, 0), it1(2, 2, 0.5), it1(3, 3, 1.0), it1(4, 4, 3)}, 0.82, 1,
			[][]int{{0, 1, 2}, {3}}},
		{"threshold is inclusive",
			[]Item{it1(1, 1, 0), it1(2, 2, 0.5)}, 0.5, 1, [][]int{{0, 1}}},
		{"just above threshold splits",
			[]Item{it1(1, 1, 0), it1(2, 2, 0.5)}, 0.49, 1, [][]int{{0}, {1}}},
		{"min size drops singletons",
			[]Item{it1(1, 1, 0), it1(2, 2, 0.5), it1(3, 3, 5)}, 0.82, 2, [][]int{{0, 1}}},
		// a,b share a photo: c joins the closer a, b is split off
		{"same photo split",
			[]Item{it1(1, 7, 0), it1(2, 7, 0.3), it1(3, 8, 0.1)}, 0.82, 1,
			[][]int{{0, 2}, {1}}},
		// equal sizes: scipy's pre-order puts the cluster formed first (smaller
		// id) left, so {0,1} (merged at 0.1) precedes {2,3} (merged at 0.3)
		{"equal sizes: earlier merge first",
			[]Item{it1(1, 1, 0), it1(2, 2, 0.1), it1(3, 3, 10), it1(4, 4, 10.3)}, 0.82, 1,
			[][]int{{0, 1}, {2, 3}}},
		{"equal sizes: earlier merge first (reversed)",
			[]Item{it1(1, 1, 0), it1(2, 2, 0.3), it1(3, 3, 10), it1(4, 4, 10.1)}, 0.82, 1,
			[][]int{{2, 3}, {0, 1}}},
		{"bigger cluster first",
			[]Item{it1(1, 1, 10), it1(2, 2, 0), it1(3, 3, 0.1), it1(4, 4, 0.2)}, 0.82, 1,
			[][]int{{1, 2, 3}, {0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := SeedCluster(tc.items, tc.threshold, tc.minSize)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("SeedCluster = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSeedClusterAgeSeparates(t *testing.T) {
	f := []float32{1, 0}
	items := []Item{
		{ID: 1, Photo: 1, Features: f, BirthYear: 2015, Year: 2020}, // child, 5
		{ID: 2, Photo: 2, Features: f, BirthYear: 1980, Year: 2020}, // parent, 40
	}
	// age term: 0.1·35²/45 ≈ 2.72 > 0.82
	if got := SeedCluster(items, 0.82, 1); len(got) != 2 {
		t.Fatalf("child and parent with identical features clustered together: %v", got)
	}
}

func TestSeedClusterNoSamePhotoPairs(t *testing.T) {
	// 30 faces on a line, photos cycling through 3 ids: every cluster must
	// hold at most one face per photo.
	var items []Item
	for i := 0; i < 30; i++ {
		items = append(items, it1(int64(i), int64(i%3), float32(i)*0.05))
	}
	got := SeedCluster(items, 0.82, 1)
	total := 0
	for _, g := range got {
		seen := map[int64]bool{}
		for _, i := range g {
			if seen[items[i].Photo] {
				t.Fatalf("cluster %v has two faces of photo %d", g, items[i].Photo)
			}
			seen[items[i].Photo] = true
		}
		total += len(g)
	}
	if total != 30 {
		t.Fatalf("clusters cover %d faces, want 30", total)
	}
}

func TestFaceBirthYear(t *testing.T) {
	got := FaceBirthYear(time.Date(2020, 7, 15, 12, 0, 0, 0, time.UTC), 30)
	if want := 2020 + 6.0/12 - 29.5; math.Abs(got-want) > 1e-9 {
		t.Fatalf("FaceBirthYear = %v, want %v", got, want)
	}
}

func TestBirthYear(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{[]float64{1990}, 1990},
		{[]float64{1995, 1990, 2000}, 1995},
		{[]float64{1990, 2000, 1980, 1996}, 1993},
	}
	for _, tc := range tests {
		if got := BirthYear(tc.in...); got != tc.want {
			t.Errorf("BirthYear(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if !math.IsNaN(BirthYear()) {
		t.Errorf("BirthYear() of nothing should be NaN")
	}
}

func TestGenderDS(t *testing.T) {
	tests := []struct {
		name  string
		probs []float64
		male  bool
	}{
		{"empty is female", nil, false},
		{"clear male", []float64{0.95}, true},
		{"clear female", []float64{0.05}, false},
		// single-face crossover is at p = (0.875+0.353)/2 = 0.614
		{"just above crossover", []float64{0.62}, true},
		{"just below crossover", []float64{0.61}, false},
		// sigmoid ≥ 0.6 would call this male; DS does not
		{"0.6 is female", []float64{0.6}, false},
		// ln(1.7736/1.0354) + ln(1.3578/2.0960) ≈ 0.538 − 0.434 > 0
		{"confident male outweighs confident female", []float64{0.9, 0.1}, true},
		{"two females outweigh one male", []float64{0.9, 0.1, 0.1}, false},
	}
	for _, tc := range tests {
		if got := GenderDS(tc.probs); got != tc.male {
			t.Errorf("%s: GenderDS(%v) = %v, want %v", tc.name, tc.probs, got, tc.male)
		}
	}
}

func TestPrivate(t *testing.T) {
	big := face.Box{X1: 100, Y1: 100, X2: 150, Y2: 150}     // 90..160 → 70 px
	small := face.Box{X1: 100, Y1: 100, X2: 149.5, Y2: 150} // 90..159 → 69 px
	edge := face.Box{X1: 2, Y1: 0, X2: 60.9, Y2: 50}        // 0..70 clamped → 70 px
	tests := []struct {
		name     string
		faces    []face.Box
		inPerson []bool
		width    int
		want     bool
	}{
		{"no faces", nil, nil, 1000, false},
		{"7% wide face", []face.Box{big}, nil, 1000, true},
		{"6.9% wide face", []face.Box{small}, nil, 1000, false},
		{"clamped at the left edge", []face.Box{edge}, nil, 1000, true},
		{"small face of a person", []face.Box{small}, []bool{true}, 1000, true},
		{"second face is a person", []face.Box{small, small}, []bool{false, true}, 1000, true},
		{"bad width", []face.Box{big}, nil, 0, false},
	}
	for _, tc := range tests {
		if got := Private(tc.faces, tc.inPerson, tc.width, 7); got != tc.want {
			t.Errorf("%s: Private = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestPersonRule(t *testing.T) {
	day := func(d int, h int) time.Time { return time.Date(2020, 1, 1+d, h, 0, 0, 0, time.UTC) }
	tests := []struct {
		name  string
		rule  PersonRule
		times []time.Time
		want  bool
	}{
		{"too few photos", PersonRule{MinNoPhotos: 2}, []time.Time{day(0, 0)}, false},
		{"enough photos, no date rule", PersonRule{MinNoPhotos: 2}, []time.Time{day(0, 0), day(0, 1)}, true},
		{"span of 2 days", PersonRule{MinNoPhotos: 2, MinDays: 2}, []time.Time{day(2, 0), day(0, 0)}, true},
		{"1 day 23 h is 1 whole day", PersonRule{MinNoPhotos: 2, MinDays: 2}, []time.Time{day(0, 1), day(2, 0)}, false},
	}
	for _, tc := range tests {
		if got := tc.rule.IsPerson(tc.times); got != tc.want {
			t.Errorf("%s: IsPerson = %v, want %v", tc.name, got, tc.want)
		}
	}
	times := []time.Time{day(0, 0), day(3, 0), day(0, 0), day(0, 5)}
	got := PersonRule{MinNoPhotos: 2, MinDays: 2}.FilterPersons([][]int{{0, 1}, {2, 3}, {1}}, times)
	if !reflect.DeepEqual(got, [][]int{{0, 1}}) {
		t.Fatalf("FilterPersons = %v", got)
	}
}
