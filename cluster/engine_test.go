package cluster

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"
)

// synth is a generated face set: identities are random directions in the
// positive orthant (the seed's features are non-negative), faces are noisy
// copies, L2-normalised; some photos hold two faces; distractors appear once.
type synth struct {
	items []Item
	truth []string
}

func genSet(seed uint64, identities, per, distractors, dim int, noise float64) synth {
	r := rand.New(rand.NewPCG(seed, 1))
	var s synth
	unit := func(v []float32) []float32 {
		var n float64
		for _, x := range v {
			n += float64(x) * float64(x)
		}
		n = math.Sqrt(n)
		for i := range v {
			v[i] = float32(float64(v[i]) / n)
		}
		return v
	}
	center := func() []float64 {
		c := make([]float64, dim)
		for i := range c {
			c[i] = r.ExpFloat64()
		}
		return c
	}
	sample := func(c []float64) []float32 {
		v := make([]float32, dim)
		for i := range v {
			v[i] = float32(max(0, c[i]+noise*r.NormFloat64()))
		}
		return unit(v)
	}
	id := int64(1000)
	photo := int64(1)
	for k := 0; k < identities; k++ {
		c := center()
		birth := 1950 + 60*r.Float64()
		for j := 0; j < per; j++ {
			year := 2010 + r.IntN(15)
			age := float64(year) - birth + 3*r.NormFloat64()
			s.items = append(s.items, Item{ID: id, Photo: photo, Features: sample(c), BirthYear: float64(year) - age, Year: year})
			s.truth = append(s.truth, fmt.Sprint("id", k))
			id += 7
			photo++
		}
	}
	// every fifth face shares its photo with a face of the next identity
	for i := 0; i+per < identities*per; i += 5 {
		s.items[i].Photo = s.items[i+per].Photo
	}
	for k := 0; k < distractors; k++ {
		s.items = append(s.items, Item{ID: id, Photo: photo, Features: sample(center()), BirthYear: 1980, Year: 2020})
		s.truth = append(s.truth, fmt.Sprint("distractor", k))
		id += 7
		photo++
	}
	// shuffle ids so that face ids do not follow identities
	r.Shuffle(len(s.items), func(i, j int) {
		s.items[i].ID, s.items[j].ID = s.items[j].ID, s.items[i].ID
	})
	return s
}

// partition returns the persons as sorted lists of face ids.
func partition(ps []Person) [][]int64 {
	var out [][]int64
	for _, p := range ps {
		out = append(out, append([]int64(nil), p.Faces...))
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

func batchPartition(t *testing.T, items []Item, opt Options) [][]int64 {
	t.Helper()
	cl, err := Batch(items, opt)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]int64
	for _, g := range cl {
		var f []int64
		for _, i := range g {
			f = append(f, items[i].ID)
		}
		sort.Slice(f, func(i, j int) bool { return f[i] < f[j] })
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

var testOptions = []Options{
	{Eps: 0.6, MinPts: 1, AgeWeight: 0.1},
	{Eps: 0.65, MinPts: 3, AgeWeight: 0.1},
	{Eps: 0.7, MinPts: 3, Link: 0.2},
	{Eps: 0.75, MinPts: 1, Link: 0.2, AgeWeight: 0.1},
	{Eps: 0.7, MinPts: 5, Link: 0.35},
	{Eps: 0.7, JoinEps: 0.6, MinPts: 5, Link: 0.35},
}

func TestIncrementalEqualsBatch(t *testing.T) {
	s := genSet(1, 25, 8, 20, 32, 0.45)
	for _, opt := range testOptions {
		t.Run(fmt.Sprintf("%+v", opt), func(t *testing.T) {
			want := batchPartition(t, s.items, opt)
			if len(want) < 5 {
				t.Fatalf("generated set gives only %d persons: the test would prove nothing", len(want))
			}
			for order := uint64(0); order < 3; order++ {
				items := append([]Item(nil), s.items...)
				rand.New(rand.NewPCG(order, 99)).Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
				e := NewEngine(opt)
				for _, it := range items {
					if _, _, err := e.Add(it); err != nil {
						t.Fatal(err)
					}
				}
				if got := partition(e.Persons()); !reflect.DeepEqual(got, want) {
					t.Fatalf("order %d: incremental persons differ from batch:\n got %v\nwant %v", order, got, want)
				}
			}
		})
	}
}

// sharedPhoto returns the first person (in persons' order) holding two
// faces of one photo of items, and that photo.
func sharedPhoto(items []Item, persons []Person) (person, photo int64, found bool) {
	photoOf := map[int64]int64{}
	for _, it := range items {
		photoOf[it.ID] = it.Photo
	}
	for _, p := range persons {
		seen := map[int64]bool{}
		for _, f := range p.Faces {
			if seen[photoOf[f]] {
				return p.ID, photoOf[f], true
			}
			seen[photoOf[f]] = true
		}
	}
	return 0, 0, false
}

func TestSamePhotoNeverShared(t *testing.T) {
	s := genSet(2, 20, 8, 0, 32, 0.45)
	for _, opt := range testOptions {
		e := NewEngine(opt)
		if _, err := e.AddBatch(s.items); err != nil {
			t.Fatal(err)
		}
		if person, ph, ok := sharedPhoto(s.items, e.Persons()); ok {
			t.Fatalf("%+v: person %d holds two faces of photo %d", opt, person, ph)
		}
	}
}

func TestRemoveEqualsBatch(t *testing.T) {
	s := genSet(3, 20, 8, 10, 32, 0.45)
	opt := testOptions[1]
	e := NewEngine(opt)
	if _, err := e.AddBatch(s.items); err != nil {
		t.Fatal(err)
	}
	var kept []Item
	for i, it := range s.items {
		if i%5 == 0 {
			if _, err := e.Remove(it.ID); err != nil {
				t.Fatal(err)
			}
		} else {
			kept = append(kept, it)
		}
	}
	if got, want := partition(e.Persons()), batchPartition(t, kept, opt); !reflect.DeepEqual(got, want) {
		t.Fatalf("after removals:\n got %v\nwant %v", got, want)
	}
	if _, err := e.Remove(s.items[0].ID); err == nil {
		t.Fatal("removing a removed face succeeded")
	}
}

func idsByFace(ps []Person) map[int64]int64 {
	m := map[int64]int64{}
	for _, p := range ps {
		for _, f := range p.Faces {
			m[f] = p.ID
		}
	}
	return m
}

func TestStableIDsAcrossRecluster(t *testing.T) {
	s := genSet(4, 20, 8, 10, 32, 0.45)
	opt := testOptions[1]
	e := NewEngine(opt)
	// first half, then the second half one by one
	half := len(s.items) / 2
	if _, err := e.AddBatch(s.items[:half]); err != nil {
		t.Fatal(err)
	}
	before := e.Persons()
	for _, it := range s.items[half:] {
		if _, _, err := e.Add(it); err != nil {
			t.Fatal(err)
		}
	}
	after := idsByFace(e.Persons())
	// every earlier person keeps its id on the majority of its old faces
	for _, p := range before {
		n := 0
		for _, f := range p.Faces {
			if after[f] == p.ID {
				n++
			}
		}
		if 2*n <= len(p.Faces) {
			t.Errorf("person %d kept only %d of its %d faces after new arrivals", p.ID, n, len(p.Faces))
		}
	}
	snap := e.Persons()
	e.Recluster()
	if got := e.Persons(); !reflect.DeepEqual(got, snap) {
		t.Fatalf("full re-cluster changed persons or ids")
	}
	// a different threshold keeps ids by overlap
	opt2 := opt
	opt2.Eps -= 0.05
	e.SetOptions(opt2)
	moved := idsByFace(e.Persons())
	kept := 0
	for _, p := range snap {
		n := 0
		for _, f := range p.Faces {
			if moved[f] == p.ID {
				n++
			}
		}
		if 2*n > len(p.Faces) {
			kept++
		}
	}
	if kept < len(snap)*3/4 {
		t.Fatalf("only %d of %d persons kept their id after re-clustering with new options", kept, len(snap))
	}
}

func TestNameSurvives(t *testing.T) {
	s := genSet(5, 10, 8, 0, 32, 0.45)
	e := NewEngine(testOptions[0])
	if _, err := e.AddBatch(s.items); err != nil {
		t.Fatal(err)
	}
	ps := e.Persons()
	if len(ps) < 3 {
		t.Fatalf("only %d persons", len(ps))
	}
	alice, bob := ps[0].ID, ps[1].ID
	if err := e.Name(alice, "Alice"); err != nil {
		t.Fatal(err)
	}
	if err := e.Name(bob, "Bob"); err != nil {
		t.Fatal(err)
	}
	if err := e.Name(987654, "Nobody"); err == nil {
		t.Fatal("naming an unknown person succeeded")
	}
	name := func(id int64) string {
		for _, p := range e.Persons() {
			if p.ID == id {
				return p.Name
			}
		}
		return "<gone>"
	}
	e.Recluster()
	if name(alice) != "Alice" || name(bob) != "Bob" {
		t.Fatalf("names after re-cluster: %q %q", name(alice), name(bob))
	}
	// split: the name stays with the original person
	faces := ps[0].Faces
	newID, _, err := e.Split(alice, faces[:2])
	if err != nil {
		t.Fatal(err)
	}
	if name(alice) != "Alice" || name(newID) != "" {
		t.Fatalf("after split: %q / %q", name(alice), name(newID))
	}
	pf := idsByFace(e.Persons())
	if pf[faces[0]] != newID || pf[faces[1]] != newID || pf[faces[2]] != alice {
		t.Fatalf("split faces not where asked: %d %d %d", pf[faces[0]], pf[faces[1]], pf[faces[2]])
	}
	// the split part does not fall back into Alice after a re-cluster
	e.Recluster()
	if pf := idsByFace(e.Persons()); pf[faces[0]] != newID || pf[faces[2]] != alice {
		t.Fatalf("split undone by re-cluster")
	}
	// merge Bob into Alice: Alice keeps her name, Bob's faces are hers
	bobFaces := ps[1].Faces
	if _, err := e.Merge(alice, bob); err != nil {
		t.Fatal(err)
	}
	pf = idsByFace(e.Persons())
	for _, f := range bobFaces {
		if pf[f] != alice {
			t.Fatalf("Bob's face %d is in %d after merge into %d", f, pf[f], alice)
		}
	}
	if name(alice) != "Alice" || name(bob) != "<gone>" {
		t.Fatalf("after merge: %q %q", name(alice), name(bob))
	}
	// merging an unnamed person into... the name of the merged-in one is kept
	if _, err := e.Merge(newID, alice); err != nil {
		t.Fatal(err)
	}
	if name(newID) != "Alice" {
		t.Fatalf("unnamed target did not inherit the name: %q", name(newID))
	}
}

func TestCannotLinkAndAssign(t *testing.T) {
	s := genSet(6, 6, 8, 3, 32, 0.45)
	e := NewEngine(testOptions[1])
	if _, err := e.AddBatch(s.items); err != nil {
		t.Fatal(err)
	}
	ps := e.Persons()
	x := ps[0]
	f := x.Faces[0]
	if _, err := e.NotPerson(f, x.ID); err != nil {
		t.Fatal(err)
	}
	pf := idsByFace(e.Persons())
	if pf[f] == x.ID {
		t.Fatalf("face %d still in person %d after 'not this person'", f, x.ID)
	}
	if pf[x.Faces[1]] != x.ID {
		t.Fatalf("person %d lost its id after removing one face", x.ID)
	}
	e.Recluster()
	if idsByFace(e.Persons())[f] == x.ID {
		t.Fatal("cannot-link lost in re-cluster")
	}
	// user assignment of a distractor (a face far from everyone) is a must-link
	var distractor int64
	for i, it := range s.items {
		if s.truth[i][:3] == "dis" {
			distractor = it.ID
		}
	}
	y := ps[1].ID
	if _, _, err := e.Assign(distractor, y); err != nil {
		t.Fatal(err)
	}
	e.Recluster()
	if p, _ := e.PersonOf(distractor); p != y {
		t.Fatalf("assigned face is in %d, want %d", p, y)
	}
	// two faces made cannot-link never share a person
	a, b := ps[2].Faces[0], ps[2].Faces[1]
	if _, err := e.CannotLink(a, b); err != nil {
		t.Fatal(err)
	}
	pa, _ := e.PersonOf(a)
	pb, _ := e.PersonOf(b)
	if pa != 0 && pa == pb {
		t.Fatalf("cannot-linked faces %d and %d share person %d", a, b, pa)
	}
	// errors
	if _, _, err := e.Assign(123456789, y); err == nil {
		t.Fatal("assigning an unknown face succeeded")
	}
	if _, err := e.Merge(y, 123456789); err == nil {
		t.Fatal("merging an unknown person succeeded")
	}
	if _, _, err := e.Add(s.items[0]); err == nil {
		t.Fatal("adding a face twice succeeded")
	}
	if _, _, err := e.Add(Item{ID: 1, Features: []float32{1}}); err == nil {
		t.Fatal("adding a face with the wrong feature length succeeded")
	}
}

func TestSingleLinkageMatchesSeedComponents(t *testing.T) {
	// With MinPts 1, no age term and no same-photo faces, the Engine's
	// clusters are the connected components of d ≤ eps, like SeedCluster.
	s := genSet(7, 15, 6, 10, 32, 0.45)
	items := make([]Item, len(s.items))
	for i, it := range s.items {
		it.Photo = int64(i + 1)
		it.BirthYear, it.Year = 0, 0
		items[i] = it
	}
	const eps = 0.6
	seed := SeedCluster(items, eps, 2)
	got, err := Batch(items, Options{Eps: eps, MinPts: 1})
	if err != nil {
		t.Fatal(err)
	}
	norm := func(c [][]int) [][]int {
		sort.Slice(c, func(i, j int) bool { return c[i][0] < c[j][0] })
		return c
	}
	if len(seed) < 3 {
		t.Fatalf("only %d seed clusters", len(seed))
	}
	if !reflect.DeepEqual(norm(got), norm(seed)) {
		t.Fatalf("engine %v\nseed %v", got, seed)
	}
}

func TestSmallPersonFormsBelowMinPts(t *testing.T) {
	// three photos of one person, all close, and one stranger: with MinPts 5
	// no face is core, yet the three still form a person
	f := func(x, y float32) []float32 {
		n := float32(math.Sqrt(float64(x*x + y*y)))
		return []float32{x / n, y / n}
	}
	items := []Item{
		{ID: 1, Photo: 1, Features: f(1, 0.1)},
		{ID: 2, Photo: 2, Features: f(1, 0.15)},
		{ID: 3, Photo: 3, Features: f(1, 0.2)},
		{ID: 4, Photo: 4, Features: f(0.1, 1)},
	}
	got, err := Batch(items, Options{Eps: 0.3, MinPts: 5, Link: 0.35})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, [][]int{{0, 1, 2}}) {
		t.Fatalf("Batch = %v, want [[0 1 2]]", got)
	}
}

func TestLocalUpdates(t *testing.T) {
	// faces of this 32-d world have up to 38 links; a face keeping only
	// its nearest (maxLinks) makes its region not known to be closed, so
	// every update there would be local
	withMaxLinks(t, 1<<30)
	s := genSet(21, 25, 8, 20, 32, 0.5)
	opt := Options{Eps: 0.75, MinPts: 5, Link: 0.35}
	want := batchPartition(t, s.items, opt)
	big := NewEngine(opt)
	big.AddBatch(s.items)
	largest := 0
	for i := range big.nodes {
		largest = max(largest, len(big.region([]int32{int32(i)})))
	}
	if largest < 40 {
		t.Fatalf("largest region %d: too small to test local updates", largest)
	}
	// a bound above every region keeps updates exact
	exact := opt
	exact.MaxRegion = largest
	e := NewEngine(exact)
	addAll(t, e, s.items)
	if e.LocalUpdates() != 0 || !reflect.DeepEqual(partition(e.Persons()), want) {
		t.Fatalf("MaxRegion %d (largest region): %d local updates", largest, e.LocalUpdates())
	}
	// a bound below: local updates, same-photo rule kept, and a full
	// re-cluster gives the batch result again
	local := opt
	local.MaxRegion = 10
	local.LocalLinks = 4
	e = NewEngine(local)
	addAll(t, e, s.items)
	if e.LocalUpdates() == 0 {
		t.Fatal("no local update")
	}
	if person, ph, ok := sharedPhoto(s.items, e.Persons()); ok {
		t.Fatalf("local updates put two faces of photo %d into person %d", ph, person)
	}
	for i, it := range s.items {
		if i%7 == 0 {
			if _, err := e.Remove(it.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	e.Recluster()
	var kept []Item
	for i, it := range s.items {
		if i%7 != 0 {
			kept = append(kept, it)
		}
	}
	if got, want := partition(e.Persons()), batchPartition(t, kept, local); !reflect.DeepEqual(got, want) {
		t.Fatal("Recluster after local updates differs from Batch")
	}
}

func TestJoinEpsKeepsStrangerOut(t *testing.T) {
	// four photos of one person around (1, 0) and a stranger 0.35 from the
	// nearest of them: within Eps 0.4, outside JoinEps 0.3
	f := func(angle float64) []float32 {
		return []float32{float32(math.Cos(angle)), float32(math.Sin(angle))}
	}
	items := []Item{
		{ID: 1, Photo: 1, Features: f(0)},
		{ID: 2, Photo: 2, Features: f(-0.05)},
		{ID: 3, Photo: 3, Features: f(0.1)},
		{ID: 4, Photo: 4, Features: f(-0.1)},
		{ID: 5, Photo: 5, Features: f(0.45)}, // one link only: not a core face
	}
	if d := l2(items[2].Features, items[4].Features); d < 0.3 || d > 0.4 {
		t.Fatalf("stranger at %.3f", d)
	}
	opt := Options{Eps: 0.4, MinPts: 3, Link: 0.35}
	with, err := Batch(items, opt)
	if err != nil {
		t.Fatal(err)
	}
	opt.JoinEps = 0.3
	without, err := Batch(items, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(with, [][]int{{0, 1, 2, 3, 4}}) || !reflect.DeepEqual(without, [][]int{{0, 1, 2, 3}}) {
		t.Fatalf("JoinEps 0: %v, JoinEps 0.3: %v", with, without)
	}
}

func TestDot32Symmetric(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	buf := make([]float32, 1100)
	for i := range buf {
		buf[i] = float32(r.NormFloat64())
	}
	for _, n := range []int{1, 3, 4, 7, 16, 128, 1024} {
		for oa := 0; oa < 4; oa++ {
			for ob := 0; ob < 4; ob++ {
				a, b := buf[oa:oa+n], buf[40+ob:40+ob+n]
				if x, y := dot32(a, b), dot32(b, a); x != y {
					t.Fatalf("n %d offsets %d/%d: %v != %v", n, oa, ob, x, y)
				}
				var want float64
				for i := range a {
					want += float64(a[i]) * float64(b[i])
				}
				if d := math.Abs(float64(dot32(a, b)) - want); d > 1e-4*(1+math.Abs(want)) {
					t.Fatalf("n %d: dot %v, want %v", n, dot32(a, b), want)
				}
			}
		}
	}
}
