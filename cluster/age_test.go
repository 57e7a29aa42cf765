package cluster

import (
	"math"
	"math/rand/v2"
	"testing"
)

// growing builds the photos of children photographed several times a year
// at ages 1..6. Features live on arcs: a child's face moves a fixed angle
// per year along its own arc (three photos of one year lie 0.60 apart (five a year),
// photos a year apart 0.83, two years apart 1.24), every photo has its own
// noise direction, and a sibling's arc is tilted towards a plane of its own
// so that the siblings' photos at one age lie sib apart.
type growing struct {
	dim   int
	items []Item
	who   []string
}

const (
	perYear   = 5
	photoR2   = 0.18  // share of a photo's own noise: same-year distance √(2·0.18) = 0.60
	yearAngle = 0.644 // arc step per year: adjacent-year distance 0.83
)

func (g *growing) child(name string, born float64, tilt float64, base int) {
	for age := 1; age <= 6; age++ {
		th := yearAngle * float64(age)
		for k := 0; k < perYear; k++ {
			f := make([]float32, g.dim)
			a := math.Sqrt(1 - photoR2)
			f[0] = float32(a * math.Cos(tilt) * math.Cos(th))
			f[1] = float32(a * math.Cos(tilt) * math.Sin(th))
			f[2] = float32(a * math.Sin(tilt) * math.Cos(th))
			f[3] = float32(a * math.Sin(tilt) * math.Sin(th))
			id := len(g.items) + 1
			f[4+id] = float32(math.Sqrt(photoR2))
			when := born + float64(age) + 0.1 + 0.15*float64(k)
			g.items = append(g.items, Item{ID: int64(id), Photo: int64(id), Features: f, Age: float64(age), When: when,
				Year: int(when), BirthYear: when - float64(age) + 0.5})
			g.who = append(g.who, name)
		}
	}
	_ = base
}

func clusterGrowing(t *testing.T, g *growing, opt Options) ([][]int, Scores) {
	t.Helper()
	cl, err := Batch(g.items, opt)
	if err != nil {
		t.Fatal(err)
	}
	return cl, Score(g.who, Assignment(cl, len(g.items)))
}

// One child photographed every year from 1 to 6: a year apart the photos
// lie just beyond Eps (children's faces change fastest), so without the
// age rules every year is a person of its own; with them the years chain
// into one person, whichever order the photos arrive in.
func TestAgeLinkChildPhotographedEveryYearIsOnePerson(t *testing.T) {
	g := &growing{dim: 4 + 1 + 6*perYear}
	g.child("A", 2000.3, 0, 0)
	off := DefaultOptions()
	off.AgeLink = 0
	if _, s := clusterGrowing(t, g, off); s.Persons != 6 {
		t.Fatalf("without age-aware linking: %d persons, want one per year (6): the construction is off", s.Persons)
	}
	on := DefaultOptions()
	cl, s := clusterGrowing(t, g, on)
	if len(cl) != 1 || len(cl[0]) != len(g.items) {
		t.Fatalf("with age-aware linking: persons %v, want one person of all %d photos", cl, len(g.items))
	}
	// incremental equals batch
	e := NewEngine(on)
	for _, i := range rand.New(rand.NewPCG(7, 1)).Perm(len(g.items)) {
		if _, _, err := e.Add(g.items[i]); err != nil {
			t.Fatal(err)
		}
	}
	if ps := e.Persons(); len(ps) != 1 || len(ps[0].Faces) != len(g.items) {
		t.Errorf("incremental: %d persons, want 1 (batch: %v)", len(ps), s)
	}
}

// Two siblings born three years apart, each photographed every year from
// 1 to 6: at one age they look as alike as one child a year apart
// (0.83-0.86), but their photos at one age are dated three years apart, so
// their birth years disagree and the radius does not widen for them.
func TestAgeLinkSiblingsStayApart(t *testing.T) {
	for _, sib := range []float64{0.86, 0.9} {
		g := &growing{dim: 4 + 1 + 12*perYear}
		// tilt for a same-age distance of sib: d² = 2r² + (1−r²)(2 − 2 cos ψ)
		psi := math.Acos(1 - (sib*sib-2*photoR2)/(2*(1-photoR2)))
		g.child("A", 2000.3, 0, 0)
		g.child("B", 2003.3, psi, 0)
		a, b := g.items[0], g.items[6*perYear]
		if d := l2(a.Features, b.Features); math.Abs(d-sib) > 1e-3 {
			t.Fatalf("siblings at age 1 lie %.3f apart, want %.3f", d, sib)
		}
		cl, s := clusterGrowing(t, g, DefaultOptions())
		if s.BCubedPrecision < 1 || len(cl) != 2 {
			t.Errorf("siblings %.2f apart at one age: %d persons, BCubed precision %.3f; want 2 persons, each one child", sib, len(cl), s.BCubedPrecision)
		}
	}
}

// The rules themselves: the widening is symmetric, largest for small
// children, zero without dates or ages, and turns into a narrowing when
// two faces' birth years disagree by many standard errors.
func TestAgeLinkWiden(t *testing.T) {
	k := DefaultOptions().AgeLink
	baby := ageLinkWiden(k, 1, 2000.5, 3, 2002.5)
	teen := ageLinkWiden(k, 14, 2000.5, 16, 2002.5)
	adult := ageLinkWiden(k, 40, 2000.5, 42, 2002.5)
	if !(baby > teen && teen > adult && adult >= 0) {
		t.Errorf("widening two years apart: baby %.4f, teen %.4f, adult %.4f: want decreasing", baby, teen, adult)
	}
	if w := ageLinkWiden(k, 3, 2002.5, 1, 2000.5); w != baby {
		t.Errorf("not symmetric: %v vs %v", w, baby)
	}
	if w := ageLinkWiden(k, 1, 0, 3, 2002.5); w != 0 {
		t.Errorf("undated face widens by %v", w)
	}
	// two babies photographed ten years apart are two babies
	if w := ageLinkWiden(k, 1, 1990.5, 1, 2000.5); w >= 0 {
		t.Errorf("babies ten years apart: radius change %v, want a narrowing", w)
	}
	// same time, different apparent ages: heavy-tailed noise, no narrowing
	if w := ageLinkWiden(k, 25, 2000.5, 50, 2000.5); w < 0 {
		t.Errorf("one date, apparent ages 25 and 50: radius change %v, want none", w)
	}
}

// babies builds three babies of different families, each photographed six
// times at apparent age 1, the families five years apart (1960, 1965,
// 1970). Photos of one baby lie 0.40 apart, of two babies 0.50: to the
// features all babies look alike.
func babies() ([]Item, []string) {
	const r2, s2 = 0.08, 0.045 // own noise, family direction
	var items []Item
	var who []string
	for b := 0; b < 3; b++ {
		for k := 0; k < 6; k++ {
			id := len(items) + 1
			f := make([]float32, 4+18)
			f[0] = float32(math.Sqrt(1 - r2 - s2))
			f[1+b] = float32(math.Sqrt(s2))
			f[3+id] = float32(math.Sqrt(r2))
			when := 1960 + 5*float64(b) + 0.5 + 0.1*float64(k)
			items = append(items, Item{ID: int64(id), Photo: int64(id), Features: f, Age: 1, When: when,
				Year: int(when), BirthYear: when - 1})
			who = append(who, string(rune('A'+b)))
		}
	}
	return items, who
}

// Babies of three families photographed five years apart look alike but
// were born five years apart: three persons, not one. Without the
// birth-year cannot-link they are one person (the construction merges
// them); a merge the user makes still holds.
func TestBirthConflictBabiesYearsApart(t *testing.T) {
	items, who := babies()
	if d := l2(items[0].Features, items[6].Features); math.Abs(d-0.5) > 1e-3 {
		t.Fatalf("babies of two families lie %.3f apart, want 0.50", d)
	}
	old := birthConflictZ
	birthConflictZ = 0 // the rule off
	cl, err := Batch(items, DefaultOptions())
	birthConflictZ = old
	if err != nil {
		t.Fatal(err)
	}
	if len(cl) != 1 {
		t.Fatalf("without the birth-year cannot-link: %d persons, want the three babies merged into one (the construction is off)", len(cl))
	}
	cl, err = Batch(items, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if s := Score(who, Assignment(cl, len(items))); len(cl) != 3 || s.BCubedF1 < 1 {
		t.Fatalf("with the birth-year cannot-link: %d persons (BCubed F1 %.3f), want 3 persons, one per baby", len(cl), s.BCubedF1)
	}
	// incremental equals batch, and the user's merge is absolute
	e := NewEngine(DefaultOptions())
	for _, i := range rand.New(rand.NewPCG(3, 9)).Perm(len(items)) {
		if _, _, err := e.Add(items[i]); err != nil {
			t.Fatal(err)
		}
	}
	if ps := e.Persons(); len(ps) != 3 {
		t.Fatalf("incremental: %d persons, want 3", len(ps))
	}
	pa, _ := e.PersonOf(1)
	pb, _ := e.PersonOf(7)
	if _, err := e.Merge(pa, pb); err != nil {
		t.Fatal(err)
	}
	e.Recluster()
	if qa, _ := e.PersonOf(1); qa != pa {
		t.Fatalf("after the user's merge and a re-cluster, baby A's photo is in person %d, want %d", qa, pa)
	}
	for id := int64(1); id <= 12; id++ {
		if p, _ := e.PersonOf(id); p != pa {
			t.Errorf("after the user's merge, photo %d is in person %d, want %d (the merge is absolute)", id, p, pa)
		}
	}
}

// adult builds one adult photographed five times a year at 30..35 (photos
// of one year 0.60 apart, a year apart 0.66, two years 0.80, three 0.99:
// every photo links to two years either side, one person) and one more
// photo of age 32 that lies 0.81 from that year's photos (beyond JoinEps,
// within Eps) and 0.85 from the others: it links to five photos of its
// person, far fewer than the Link share asks of a 30-photo person. With
// oneTime every photo carries one date (a collection of one time).
func adult(oneTime bool) ([]Item, []string) {
	const r2, step = 0.18, 0.3
	const lone2 = 0.4494 // own noise of the extra photo: 0.81 from its year
	var items []Item
	var who []string
	add := func(th, own float64, age int, when float64) {
		id := len(items) + 1
		f := make([]float32, 2+32)
		a := math.Sqrt(1 - own)
		f[0], f[1] = float32(a*math.Cos(th)), float32(a*math.Sin(th))
		f[1+id] = float32(math.Sqrt(own))
		if oneTime {
			when = 2005.5
		}
		items = append(items, Item{ID: int64(id), Photo: int64(id), Features: f, Age: float64(age), When: when,
			Year: int(when), BirthYear: when - float64(age)})
		who = append(who, "A")
	}
	for age := 30; age < 36; age++ {
		for k := 0; k < 5; k++ {
			add(step*float64(age-30), r2, age, 1970+float64(age)+0.1+0.12*float64(k))
		}
	}
	add(step*2, lone2, 32, 2002.9)
	return items, who
}

// A lone photo of a person photographed over years joins that person when
// the person is the only cluster it links to at least twice and their
// birth years agree; without the rule it stays alone (the construction).
// In a collection of one time, the same photo stays alone: there a lone
// face is a stranger.
func TestLoneFaceJoinsPersonPhotographedOverYears(t *testing.T) {
	items, _ := adult(false)
	lone := len(items) - 1
	for i, want := range []float64{0.81, 0.846} {
		if d := l2(items[lone].Features, items[10+5*i].Features); math.Abs(d-want) > 2e-3 {
			t.Fatalf("the lone photo lies %.3f from a photo %d year(s) away, want %.3f", d, i, want)
		}
	}
	alone := func(cl [][]int) bool {
		for _, c := range cl {
			for _, i := range c {
				if i == lone {
					return false
				}
			}
		}
		return true
	}
	old := loneLinks
	loneLinks = 0 // the rule off
	cl, err := Batch(items, DefaultOptions())
	loneLinks = old
	if err != nil {
		t.Fatal(err)
	}
	if len(cl) != 1 || len(cl[0]) != len(items)-1 || !alone(cl) {
		t.Fatalf("without the rule: persons %v, want one person of the 30 yearly photos and the lone photo alone (the construction is off)", cl)
	}
	cl, err = Batch(items, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if len(cl) != 1 || len(cl[0]) != len(items) {
		t.Fatalf("with the rule: persons %v, want one person of all %d photos", cl, len(items))
	}
	e := NewEngine(DefaultOptions())
	for _, i := range rand.New(rand.NewPCG(5, 2)).Perm(len(items)) {
		if _, _, err := e.Add(items[i]); err != nil {
			t.Fatal(err)
		}
	}
	if ps := e.Persons(); len(ps) != 1 || len(ps[0].Faces) != len(items) {
		t.Errorf("incremental: persons %v, want one of all %d photos", ps, len(items))
	}
	items, _ = adult(true)
	cl, err = Batch(items, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if !alone(cl) {
		t.Errorf("one date for every photo: the lone photo joined a person (%v); want it alone", cl)
	}
}

// FitAgeCalib: per bin the mean apparent age, the true mean made
// non-decreasing, the spread; thin bins dropped.
func TestFitAgeCalib(t *testing.T) {
	var app, truth []float64
	for i := 0; i < 20; i++ {
		app = append(app, 1, 30, 33) // bins [0,2), [28,31), [31,35)
		truth = append(truth, 1+float64(i%2), 26, 24)
	}
	app, truth = append(app, 50), append(truth, 50) // a bin of one: dropped
	got := FitAgeCalib(app, truth)
	if len(got) != 3 {
		t.Fatalf("FitAgeCalib = %v, want 3 bins", got)
	}
	if got[0][0] != 1 || got[0][1] != 1.5 || math.Abs(got[0][2]-0.5) > 1e-9 {
		t.Errorf("first bin %v, want {1, 1.5, 0.5}", got[0])
	}
	// 26 then 24 violate monotonicity: both pooled to 25
	if got[1][1] != 25 || got[2][1] != 25 || got[1][0] != 30 || got[2][0] != 33 {
		t.Errorf("bins %v %v, want true means pooled to 25", got[1], got[2])
	}
}
