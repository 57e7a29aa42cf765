package cluster

import (
	"errors"
	"reflect"
	"testing"
)

type addResult struct {
	person int64
	ch     Changes
}

func addAll(t *testing.T, e *Engine, items []Item) []addResult {
	t.Helper()
	var out []addResult
	for _, it := range items {
		p, ch, err := e.Add(it)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, addResult{p, ch})
	}
	return out
}

// userEdits names, splits and corrects persons so that a snapshot carries
// names, must-links and cannot-links.
func userEdits(t *testing.T, e *Engine) {
	t.Helper()
	ps := e.Persons()
	if len(ps) < 4 {
		t.Fatalf("only %d persons", len(ps))
	}
	if err := e.Name(ps[0].ID, "Alice"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Split(ps[1].ID, ps[1].Faces[:1]); err != nil {
		t.Fatal(err)
	}
	if _, err := e.NotPerson(ps[2].Faces[0], ps[2].ID); err != nil {
		t.Fatal(err)
	}
}

func TestRestoreThenAddEqualsLiveEngine(t *testing.T) {
	for _, sketch := range []bool{false, true} {
		old := sketchAfter
		if sketch {
			sketchAfter = 40
		}
		s := genSet(11, 25, 8, 20, 300, 0.6)
		opt := Options{Eps: 0.7, MinPts: 3, Link: 0.2}
		cut := len(s.items) * 7 / 10
		live := NewEngine(opt)
		if _, err := live.AddBatch(s.items[:cut]); err != nil {
			t.Fatal(err)
		}
		userEdits(t, live)
		snap, err := live.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if sketch != (live.sk != nil) {
			t.Fatalf("sketch %v but engine sketch %v", sketch, live.sk != nil)
		}
		// the index hands the faces back in another order
		back := append([]Item(nil), s.items[:cut]...)
		for i, j := 0, len(back)-1; i < j; i, j = i+1, j-1 {
			back[i], back[j] = back[j], back[i]
		}
		re, info, err := RestoreEngine(opt, back, snap)
		if err != nil {
			t.Fatal(err)
		}
		if info.Restored != cut || info.Added != 0 || info.Dropped != 0 || info.Relinked || info.Reclustered {
			t.Fatalf("restore info %+v", info)
		}
		if !reflect.DeepEqual(re.Persons(), live.Persons()) {
			t.Fatal("restored persons differ")
		}
		want := addAll(t, live, s.items[cut:])
		got := addAll(t, re, s.items[cut:])
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("sketch %v: Add after restore differs from Add on the live engine", sketch)
		}
		if !reflect.DeepEqual(re.Persons(), live.Persons()) {
			t.Fatal("persons differ after the adds")
		}
		sketchAfter = old
	}
}

func TestRestoreCatchesUpWithIndex(t *testing.T) {
	s := genSet(12, 25, 8, 20, 32, 0.45)
	opt := Options{Eps: 0.65, MinPts: 3, Link: 0.2}
	cut := len(s.items) * 8 / 10
	live := NewEngine(opt)
	if _, err := live.AddBatch(s.items[:cut]); err != nil {
		t.Fatal(err)
	}
	userEdits(t, live)
	snap, err := live.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	// since the snapshot: faces 0..4 deleted, face 5 re-analysed (same id,
	// new features: those of face cut), the rest new
	items := append([]Item(nil), s.items[6:]...)
	changed := s.items[5]
	changed.Features = s.items[cut].Features
	items = append(items, changed)
	re, info, err := RestoreEngine(opt, items, snap)
	if err != nil {
		t.Fatal(err)
	}
	if info.Dropped != 6 || info.Added != len(s.items)-cut+1 || info.Restored != cut-6 {
		t.Fatalf("restore info %+v", info)
	}
	for _, it := range s.items[:6] {
		if _, err := live.Remove(it.ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := live.AddBatch(append(append([]Item(nil), s.items[cut:]...), changed)); err != nil {
		t.Fatal(err)
	}
	if got, want := partition(re.Persons()), partition(live.Persons()); !reflect.DeepEqual(got, want) {
		t.Fatalf("restored engine after catching up:\n got %v\nwant %v", got, want)
	}
	// options with another radius: links are rebuilt, the clustering is
	// that of the new options, and the name stays
	opt2 := opt
	opt2.Eps = 0.6
	re2, info, err := RestoreEngine(opt2, items, snap)
	if err != nil {
		t.Fatal(err)
	}
	if !info.Relinked {
		t.Fatalf("restore with another eps did not relink: %+v", info)
	}
	live.SetOptions(opt2)
	if got, want := partition(re2.Persons()), partition(live.Persons()); !reflect.DeepEqual(got, want) {
		t.Fatalf("restore with other options:\n got %v\nwant %v", got, want)
	}
	named := false
	for _, p := range re2.Persons() {
		named = named || p.Name == "Alice"
	}
	if !named {
		t.Fatal("name lost by a relinking restore")
	}
}

func TestRestoreEmptyAndCorrupt(t *testing.T) {
	s := genSet(13, 10, 6, 5, 300, 0.6)
	opt := Options{Eps: 0.7, MinPts: 3, Link: 0.2}
	old := sketchAfter
	sketchAfter = 20
	defer func() { sketchAfter = old }()
	e, info, err := RestoreEngine(opt, s.items, nil)
	if err != nil {
		t.Fatal(err)
	}
	if info.Added != len(s.items) || !reflect.DeepEqual(partition(e.Persons()), batchPartition(t, s.items, opt)) {
		t.Fatalf("restore from nothing: %+v", info)
	}
	userEdits(t, e)
	snap, err := e.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if e.sk == nil {
		t.Fatal("no sketch")
	}
	// every truncation is an error, never a panic
	for n := 1; n < len(snap); n += 1 + n/50 {
		if _, _, err := RestoreEngine(opt, s.items, snap[:n]); !errors.Is(err, ErrBadSnapshot) {
			t.Fatalf("snapshot cut at %d/%d: err %v", n, len(snap), err)
		}
	}
	bad := append([]byte("XXXX"), snap[4:]...)
	if _, _, err := RestoreEngine(opt, s.items, bad); !errors.Is(err, ErrBadSnapshot) {
		t.Fatalf("bad magic: %v", err)
	}
	// flipped bytes anywhere: error or a valid engine, never a panic
	for i := 4; i < len(snap); i += 1 + i/20 {
		c := append([]byte(nil), snap...)
		c[i] ^= 0xa5
		RestoreEngine(opt, s.items, c)
	}
}

// A snapshot written before age-aware linking (version 1) is not an error:
// every face is linked afresh and the persons equal a batch run.
func TestRestoreVersion1Relinks(t *testing.T) {
	s := genSet(5, 8, 5, 4, 64, 0.6)
	opt := Options{Eps: 0.7, MinPts: 3, Link: 0.2}
	v1 := []byte("FCSN\x01rest of an old snapshot")
	e, info, err := RestoreEngine(opt, s.items, v1)
	if err != nil {
		t.Fatalf("version 1: %v", err)
	}
	if !info.Relinked || info.Added != len(s.items) || !reflect.DeepEqual(partition(e.Persons()), batchPartition(t, s.items, opt)) {
		t.Fatalf("version 1 restore: %+v", info)
	}
}
