package cluster

import (
	"reflect"
	"slices"
	"testing"
)

// trueLinks counts the faces within Eps of node x by brute force.
func trueLinks(e *Engine, x int32) int32 {
	var n int32
	for j := range e.nodes {
		y := int32(j)
		if y != x && !e.nodes[y].deleted && e.distDot(x, y, e.dot8(x, y)) <= e.opt.Eps {
			n++
		}
	}
	return n
}

// checkLinks fails the test unless every face keeps at most maxLinks links,
// its nearest ones, and (for a sample) counts all of them.
func checkLinks(t *testing.T, e *Engine) {
	t.Helper()
	for i := range e.nodes {
		n := &e.nodes[i]
		if n.deleted {
			continue
		}
		if len(n.adj) > maxLinks || int(n.nb) < len(n.adj) {
			t.Fatalf("face %d keeps %d links of %d (bound %d)", n.id, len(n.adj), n.nb, maxLinks)
		}
		if i%97 == 0 {
			if want := trueLinks(e, int32(i)); n.nb != want {
				t.Fatalf("face %d counts %d links, has %d", n.id, n.nb, want)
			}
		}
	}
}

// TestDensePersonBoundedLinks: a person of 5 000 faces at LFW's
// same-person distances (every face linked to thousands of others) keeps
// at most maxLinks links per face, still counts them all for the core
// rule, and still forms one person apart from a second person and from
// strangers; a snapshot restores the same lists and persons; removing
// faces keeps the counts right.
func TestDensePersonBoundedLinks(t *testing.T) {
	w := newLFWWorld(42, 1024)
	var items []Item
	var truth []int
	var denseCentre []float64
	add := func(p, n int) {
		c := w.person()
		if p == 0 {
			denseCentre = c
		}
		for j := 0; j < n; j++ {
			id := int64(len(items) + 1)
			items = append(items, Item{ID: id, Photo: id, Features: w.face(c)})
			truth = append(truth, p)
		}
	}
	add(0, 5000)
	add(1, 300)
	for s := 0; s < 100; s++ {
		add(2+s, 1)
	}
	e := NewEngine(DefaultOptions())
	if _, err := e.AddBatch(items); err != nil {
		t.Fatal(err)
	}
	checkLinks(t, e)
	if e.nodes[0].nb < 1000 {
		t.Fatalf("first face has %d links: not a dense person", e.nodes[0].nb)
	}
	ps := e.Persons()
	byFace := idsByFace(ps)
	largest := ps[0]
	inBig := 0
	for _, f := range largest.Faces {
		if truth[f-1] == 0 {
			inBig++
		}
	}
	t.Logf("%d persons; largest %d faces, %d of them the dense person's; links of face 1: %d kept of %d",
		len(ps), len(largest.Faces), inBig, len(e.nodes[0].adj), e.nodes[0].nb)
	// the rules leave the poorest photos out (an engine keeping every link
	// puts 1 853 of a 2 000-face person together, this one 1 878)
	if inBig < 4500 || len(largest.Faces)-inBig > 10 {
		t.Fatalf("dense person split or impure: largest person %d faces, %d of 5000 its own", len(largest.Faces), inBig)
	}
	if byFace[5001] == 0 || byFace[5001] == largest.ID {
		t.Fatalf("second person's first face in person %d (dense %d)", byFace[5001], largest.ID)
	}

	// a new face next to the dense person: no re-cluster of its 5 000
	// faces (attach), it joins the person, unless the person holds a face
	// of its photo; a stranger's face joins no person
	local := e.LocalUpdates()
	dense := w.face(denseCentre)
	if p, _, err := e.Add(Item{ID: 9001, Photo: 9001, Features: dense}); err != nil || p != largest.ID {
		t.Fatalf("new face of the dense person: person %d (want %d), %v", p, largest.ID, err)
	}
	if p, _, err := e.Add(Item{ID: 9002, Photo: largest.Faces[7], Features: w.face(denseCentre)}); err != nil || p == largest.ID {
		t.Fatalf("new face sharing a photo with the dense person joined it (%v)", err)
	}
	if p, _, err := e.Add(Item{ID: 9003, Photo: 9003, Features: w.face(w.person())}); err != nil || p == largest.ID {
		t.Fatalf("stranger joined the dense person (%v)", err)
	}
	if e.LocalUpdates() < local+2 {
		t.Fatalf("%d updates attached locally, want ≥ 2", e.LocalUpdates()-local)
	}
	for _, id := range []int64{9001, 9002, 9003} {
		if _, err := e.Remove(id); err != nil {
			t.Fatal(err)
		}
	}

	snap, err := e.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	r, info, err := RestoreEngine(DefaultOptions(), items, snap)
	if err != nil || info.Restored != len(items) {
		t.Fatalf("restore: %+v, %v", info, err)
	}
	for i := range r.nodes { // e's removed faces are its last nodes
		if e.nodes[i].nb != r.nodes[i].nb || !slices.Equal(e.nodes[i].adj, r.nodes[i].adj) {
			t.Fatalf("face %d: restored links differ", e.nodes[i].id)
		}
	}
	if !reflect.DeepEqual(partition(e.Persons()), partition(r.Persons())) {
		t.Fatal("restored persons differ")
	}
	for id := int64(1); id <= 5000; id += 500 {
		if _, err := r.Remove(id); err != nil {
			t.Fatal(err)
		}
	}
	checkLinks(t, r)
}

// TestBoundedLinksAgree: on a library-like world whose largest persons have
// hundreds of faces (more links than a face keeps), the persons agree with
// those of an engine keeping every link, and incremental equals batch
// (exact updates: MaxRegion 0).
func TestBoundedLinksAgree(t *testing.T) {
	w := newLFWWorld(8, 1024)
	items, _, _ := w.library(1500)
	opt := DefaultOptions()
	opt.MaxRegion = 0
	capped := NewEngine(opt)
	if _, err := capped.AddBatch(items); err != nil {
		t.Fatal(err)
	}
	cut := 0
	for i := range capped.nodes {
		if capped.truncated(int32(i)) {
			cut++
		}
	}
	if cut < 50 {
		t.Fatalf("only %d faces have more than %d links: nothing tested", cut, maxLinks)
	}
	one := NewEngine(opt)
	for _, it := range items {
		if _, _, err := one.Add(it); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(partition(capped.Persons()), partition(one.Persons())) {
		t.Fatal("one by one differs from batch")
	}
	kept := maxLinks
	withMaxLinks(t, 1<<30)
	full := NewEngine(opt)
	if _, err := full.AddBatch(items); err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	f1 := agreement(full.Persons(), capped.Persons(), ids)
	t.Logf("%d of %d faces keep %d of their links; agreement with every link kept: BCubed F1 %.4f", cut, len(items), kept, f1)
	if f1 < 0.99 {
		t.Fatalf("agreement F1 %.4f < 0.99", f1)
	}
}
