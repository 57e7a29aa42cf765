package cluster

import (
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// linkSet returns every link of e as "a-b" face id pairs (a < b).
func linkSet(e *Engine) map[[2]int64]bool {
	out := map[[2]int64]bool{}
	for i := range e.nodes {
		for _, ed := range e.nodes[i].adj {
			a, b := e.nodes[i].id, e.nodes[ed.to].id
			if a > b {
				a, b = b, a
			}
			out[[2]int64{a, b}] = true
		}
	}
	return out
}

// linkRecall is the share of the links of exact that approx also holds; it
// fails the test when approx holds a link exact lacks.
func linkRecall(t testing.TB, exact, approx *Engine) float64 {
	want, got := linkSet(exact), linkSet(approx)
	for l := range got {
		if !want[l] {
			t.Fatalf("ivf link %v is not an exact link", l)
		}
	}
	return float64(len(got)) / float64(len(want))
}

// withMaxLinks makes faces keep up to n links for the test.
func withMaxLinks(t testing.TB, n int) {
	old := maxLinks
	maxLinks = n
	t.Cleanup(func() { maxLinks = old })
}

func withIVFMin(t testing.TB, n, sketch int) {
	oldI, oldS := ivfMin, sketchAfter
	ivfMin, sketchAfter = n, sketch
	t.Cleanup(func() { ivfMin, sketchAfter = oldI, oldS })
}

// agreement is the BCubed F1 of got's persons against ref's over the same
// faces (candidates count as singletons).
func agreement(ref, got []Person, ids []int64) float64 {
	r, g := idsByFace(ref), idsByFace(got)
	var truth []string
	assign := make([]int, len(ids))
	idx := map[string]int{}
	for k, id := range ids {
		rs, gs := fmt.Sprint(r[id]), fmt.Sprint(g[id])
		if r[id] == 0 {
			rs = fmt.Sprint("s", id)
		}
		if g[id] == 0 {
			gs = fmt.Sprint("s", id)
		}
		truth = append(truth, rs)
		if _, ok := idx[gs]; !ok {
			idx[gs] = len(idx)
		}
		assign[k] = idx[gs]
	}
	return Score(truth, assign).BCubedF1
}

// TestIVFRecall: on 5 000 library-like faces (LFW-like distances) the ivf
// index, trained from 1 000 faces and re-trained at 2 000 and 4 000, scanning
// 8 of 64 lists, finds only true links, at least 97 % of all exact links and
// 99 % of the links between faces of one person, and the persons agree with
// the exact ones at BCubed F1 >= 0.97.
func TestIVFRecall(t *testing.T) {
	withIVFMin(t, 1000, 500)
	withMaxLinks(t, 1<<30) // the link sets are compared whole
	w := newLFWWorld(5, 1024)
	items, truth, _ := w.library(5000)
	exact := NewEngine(DefaultOptions())
	if _, err := exact.AddBatch(items); err != nil {
		t.Fatal(err)
	}
	if exact.ix != nil {
		t.Fatal("default options built an ivf index")
	}
	opt := DefaultOptions()
	opt.Index, opt.Lists, opt.Probe = IndexIVF, 64, 8
	approx := NewEngine(opt)
	if _, err := approx.AddBatch(items); err != nil {
		t.Fatal(err)
	}
	if approx.ix == nil || approx.ix.trainedAt != 4000 || approx.ix.nlist != 64 {
		t.Fatalf("index not re-trained at 4000 faces: %+v", approx.ix)
	}
	rec := linkRecall(t, exact, approx)
	var same, sameGot int
	got := linkSet(approx)
	for l := range linkSet(exact) {
		if truth[l[0]-1] == truth[l[1]-1] {
			same++
			if got[l] {
				sameGot++
			}
		}
	}
	sameRec := float64(sameGot) / float64(same)
	ids := make([]int64, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	f1 := agreement(exact.Persons(), approx.Persons(), ids)
	t.Logf("link recall %.4f, same-person links %.4f of %d, persons agreement BCubed F1 %.4f (%d lists, probe %d)", rec, sameRec, same, f1, approx.ix.nlist, opt.Probe)
	if rec < 0.97 {
		t.Errorf("link recall %.4f < 0.97", rec)
	}
	if sameRec < 0.99 {
		t.Errorf("same-person link recall %.4f < 0.99", sameRec)
	}
	if f1 < 0.97 {
		t.Errorf("agreement F1 %.4f < 0.97", f1)
	}
}

// TestIVFDeterministic: the same faces in the same order give the same
// links and persons, one by one or in a batch after a restore.
func TestIVFDeterministic(t *testing.T) {
	withIVFMin(t, 400, 300)
	w := newLFWWorld(6, 1024)
	items, _, _ := w.library(1500)
	opt := DefaultOptions()
	opt.Index = IndexIVF
	run := func() *Engine {
		e := NewEngine(opt)
		for _, it := range items {
			if _, _, err := e.Add(it); err != nil {
				t.Fatal(err)
			}
		}
		return e
	}
	a, b := run(), run()
	if a.ix == nil {
		t.Fatal("no ivf index trained")
	}
	checkListCodes(t, a)
	if !reflect.DeepEqual(linkSet(a), linkSet(b)) {
		t.Fatal("links differ between two identical runs")
	}
	if !reflect.DeepEqual(a.Persons(), b.Persons()) {
		t.Fatal("persons differ between two identical runs")
	}
	c := NewEngine(opt)
	if _, err := c.AddBatch(items); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(linkSet(a), linkSet(c)) {
		t.Fatal("batch links differ from one-by-one links")
	}
}

// checkListCodes fails the test unless every list member's code and
// residual norm (copied across re-trainings) are those of its features.
func checkListCodes(t *testing.T, e *Engine) {
	t.Helper()
	w := e.cd.words
	want := make([]uint64, w)
	got := make([]uint64, w)
	buf := make([]float32, e.dim+e.cd.pad)
	n := 0
	for c, l := range e.ix.lists {
		for m, j := range l {
			rn := e.codeOf(j, buf, want)
			e.ix.code(c, m, w, got)
			if !reflect.DeepEqual(got, want) || rn != e.ix.lrn[c][m] {
				t.Fatalf("list %d holds a wrong code for node %d", c, j)
			}
			n++
		}
	}
	if n != len(e.nodes) || e.ix.trainedAt == len(e.nodes) {
		t.Fatalf("%d of %d faces in the lists, trained at %d (want a re-training before the last face)", n, len(e.nodes), e.ix.trainedAt)
	}
}

// TestDefaultIndexAuto: the default options scan exactly below
// AutoIndexMin faces and build the inverted lists from there; IndexExact
// never builds them.
func TestDefaultIndexAuto(t *testing.T) {
	if o := DefaultOptions(); o.Index != IndexAuto {
		t.Fatalf("default index %q", o.Index)
	}
	withIVFMin(t, 100, 100)
	old := AutoIndexMin
	t.Cleanup(func() { AutoIndexMin = old })
	w := newLFWWorld(7, 1024)
	items, _, _ := w.library(400)
	for _, tc := range []struct {
		name     string
		index    string
		autoMin  int
		wantList bool
	}{
		{"auto below AutoIndexMin", IndexAuto, 401, false},
		{"auto from AutoIndexMin", IndexAuto, 300, true},
		{"exact", IndexExact, 300, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			AutoIndexMin = tc.autoMin
			opt := DefaultOptions()
			opt.Index = tc.index
			e := NewEngine(opt)
			if _, err := e.AddBatch(items); err != nil {
				t.Fatal(err)
			}
			if got := e.IndexLists() > 0; got != tc.wantList {
				t.Fatalf("inverted lists %d, want some: %v", e.IndexLists(), tc.wantList)
			}
		})
	}
}

// fillNoLinks puts items into e without computing links (for scan
// measurements).
func fillNoLinks(e *Engine, items []Item) {
	for _, it := range items {
		if e.dim == 0 {
			e.dim = len(it.Features)
		}
		appendNode(e, it.ID, it.Photo, it.Features)
	}
	e.sketchNorms()
}

// BenchmarkScanLFW100k: the link scan of one new face (of a known person)
// against 100 000 library-like faces (lfwWorld), exact and with the ivf
// index at several probe counts: CPU ms per scan and link recall against the
// exact scan. FACED_BENCH_LFW100K=1 (about 1.5 GB of memory).
func BenchmarkScanLFW100k(b *testing.B) {
	if os.Getenv("FACED_BENCH_LFW100K") == "" {
		b.Skip("set FACED_BENCH_LFW100K=1")
	}
	n := 100_000
	w := newLFWWorld(3, 1024)
	items, truth, centres := w.library(n)
	scanBench(b, items, truth, func() (int, []float32) {
		c := w.r.IntN(len(centres))
		return c, w.face(centres[c])
	})
}

// BenchmarkScanWorld is BenchmarkScanLFW100k on the faces of the Add
// benchmarks (benchWorld: 1024-d, identities of 20 faces far apart, a
// spread over all directions the PCA sketch cannot bound):
// FACED_BENCH_WORLD=n faces (1 000 000 needs about 5 GB of memory).
func BenchmarkScanWorld(b *testing.B) {
	n := 0
	fmt.Sscan(os.Getenv("FACED_BENCH_WORLD"), &n)
	if n <= 0 {
		b.Skip("set FACED_BENCH_WORLD=number of faces")
	}
	const per, dim = 20, 1024
	w := &benchWorld{r: rand.New(rand.NewPCG(1, 2)), dim: dim}
	for k := 0; k < n/per; k++ {
		w.centres = append(w.centres, w.unitGauss())
	}
	items := make([]Item, 0, n)
	truth := make([]int, 0, n)
	for k := range w.centres {
		for j := 0; j < per; j++ {
			id := int64(len(items) + 1)
			items = append(items, Item{ID: id, Photo: id, Features: w.face(k)})
			truth = append(truth, k)
		}
	}
	scanBench(b, items, truth, func() (int, []float32) {
		c := w.r.IntN(len(w.centres))
		return c, w.face(c)
	})
}

// scanBench measures the ivf scan of 200 new faces (from query: the person
// and the features) against items (of persons truth) for several probe
// counts (FACED_BENCH_PROBES, default 8,16,24,32,64; FACED_IVF_DIMS sets the
// coarse dimensions). "none" is the share of new faces with same-person
// links in the exact scan of which the index found none (such a face cannot
// join its person).
func scanBench(b *testing.B, items []Item, truth []int, query func() (int, []float32)) {
	n := len(items)
	if v := os.Getenv("FACED_IVF_DIMS"); v != "" {
		old := ivfDims
		fmt.Sscan(v, &ivfDims)
		defer func() { ivfDims = old }()
	}
	probes := []int{8, 16, 24, 32, 64}
	if v := os.Getenv("FACED_BENCH_PROBES"); v != "" {
		probes = nil
		for _, f := range strings.Split(v, ",") {
			var p int
			fmt.Sscan(f, &p)
			probes = append(probes, p)
		}
	}
	opt := DefaultOptions()
	opt.Index = IndexIVF
	e := NewEngine(opt)
	e.vecs = make([]int8, 0, (n+2000)*1024)
	fillNoLinks(e, items)
	e.ivfUpdate()
	const queries = 200
	var qs []int32
	var qp []int
	var exact [][]edge
	for q := 0; q < queries; q++ {
		c, f := query()
		qp = append(qp, c)
		id := int64(n + q + 1)
		fillNoLinks(e, []Item{{ID: id, Photo: id, Features: f}})
		qs = append(qs, int32(len(e.nodes)-1))
	}
	e.ivfUpdate()
	cpu0 := cpuTime()
	for _, p := range qs {
		exact = append(exact, e.scan(p, 0, int32(n), nil))
	}
	exactMS := (cpuTime() - cpu0).Seconds() * 1000 / queries
	for _, probe := range probes {
		b.Run(fmt.Sprint("probe", probe), func(b *testing.B) {
			e.opt.Probe = probe
			var found, total, sameFound, sameTotal, none int
			var ms, wall float64
			same := func(k int, l []edge) int {
				m := 0
				for _, ed := range l {
					if truth[ed.to] == qp[k] {
						m++
					}
				}
				return m
			}
			for b.Loop() {
				found, total, sameFound, sameTotal, none = 0, 0, 0, 0, 0
				cpu0, t0 := cpuTime(), time.Now()
				for k, p := range qs {
					got := e.ivfScan(e.ix, p, int32(n))
					found += len(got)
					total += len(exact[k])
					sf, st := same(k, got), same(k, exact[k])
					sameFound += sf
					sameTotal += st
					if sf == 0 && st > 0 {
						none++
					}
				}
				ms = (cpuTime() - cpu0).Seconds() * 1000 / queries
				wall = time.Since(t0).Seconds() * 1000 / queries
			}
			b.ReportMetric(float64(found)/float64(total), "recall")
			b.ReportMetric(float64(sameFound)/float64(sameTotal), "same-recall")
			b.ReportMetric(float64(none)/queries, "none")
			b.ReportMetric(float64(sameTotal)/queries, "same-links/face")
			b.ReportMetric(ms, "cpu-ms/scan")
			b.ReportMetric(wall, "wall-ms/scan")
			b.ReportMetric(exactMS, "exact-cpu-ms/scan")
			b.ReportMetric(float64(total)/queries, "links/face")
			b.ReportMetric(float64(e.ix.nlist), "lists")
		})
	}
}

// TestIVFAllListsExact: probing every list, the ivf scan (code filter,
// sketch bound, full distance; split over two goroutines) finds exactly the
// exact scan's links, on
// library-like faces (lfwWorld) and on faces spread over all directions
// (where the sketch bound skips nothing and the codes do the filtering).
func TestIVFAllListsExact(t *testing.T) {
	withIVFMin(t, 600, 500)
	// split every probe (and large re-check) over two goroutines
	oldPar, oldCheck := ivfParallel, ivfParallelCheck
	ivfParallel, ivfParallelCheck = 64, 4
	t.Cleanup(func() { ivfParallel, ivfParallelCheck = oldPar, oldCheck })
	prev := runtime.GOMAXPROCS(2)
	t.Cleanup(func() { runtime.GOMAXPROCS(prev) })
	w := newLFWWorld(8, 1024)
	lfw, _, _ := w.library(1500)
	bw := &benchWorld{r: rand.New(rand.NewPCG(3, 4)), dim: 1024}
	for k := 0; k < 60; k++ {
		bw.centres = append(bw.centres, bw.unitGauss())
	}
	var spread []Item
	for k := range bw.centres {
		for j := 0; j < 20; j++ {
			id := int64(len(spread) + 1)
			spread = append(spread, Item{ID: id, Photo: id, Features: bw.face(k)})
		}
	}
	for _, tc := range []struct {
		name  string
		items []Item
	}{{"lfwWorld", lfw}, {"spread", spread}} {
		t.Run(tc.name, func(t *testing.T) {
			exact := NewEngine(DefaultOptions())
			if _, err := exact.AddBatch(tc.items); err != nil {
				t.Fatal(err)
			}
			opt := DefaultOptions()
			opt.Index, opt.Probe = IndexIVF, 1<<20
			e := NewEngine(opt)
			if _, err := e.AddBatch(tc.items); err != nil {
				t.Fatal(err)
			}
			if e.ix == nil {
				t.Fatal("no index trained")
			}
			if got, want := linkSet(e), linkSet(exact); !reflect.DeepEqual(got, want) {
				t.Fatalf("ivf over all lists holds %d links, exact %d", len(got), len(want))
			}
			if len(linkSet(exact)) < len(tc.items) {
				t.Fatalf("only %d links", len(linkSet(exact)))
			}
			if !reflect.DeepEqual(partition(e.Persons()), partition(exact.Persons())) {
				t.Fatal("persons differ")
			}
		})
	}
}

// appendNode adds a face to e's arrays without linking it (the benchmark
// worlds link it themselves, or not at all) and returns its position.
func appendNode(e *Engine, id, photo int64, f []float32) int32 {
	p := int32(len(e.nodes))
	e.nodes = append(e.nodes, node{id: id, photo: photo})
	e.nodes[p].sum = itemSum(&Item{ID: id, Photo: photo, Features: f})
	e.store(f)
	e.byID[id] = p
	e.maybeSketch()
	return p
}

// TestIVFListsInSnapshot: a snapshot carries the inverted lists, so a
// restored engine has them without re-training (before, its first Add
// trained them: 28 s at 1 000 000 faces), with the same members and codes,
// and the next face gets the same links and person as in the live engine.
func TestIVFListsInSnapshot(t *testing.T) {
	withIVFMin(t, 400, 300)
	w := newLFWWorld(9, 1024)
	items, _, _ := w.library(1200)
	opt := DefaultOptions()
	opt.Index = IndexIVF
	e := NewEngine(opt)
	if _, err := e.AddBatch(items[:1100]); err != nil {
		t.Fatal(err)
	}
	e.ivfUpdate()
	if e.ix == nil {
		t.Fatal("no ivf index trained")
	}
	snap, err := e.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	r, info, err := RestoreEngine(opt, items[:1100], snap)
	if err != nil || info.Restored != 1100 {
		t.Fatalf("restore: %+v %v", info, err)
	}
	if r.ix == nil || r.ix.nlist != e.ix.nlist || !reflect.DeepEqual(r.ix.lists, e.ix.lists) || !reflect.DeepEqual(r.ix.lcode, e.ix.lcode) {
		t.Fatal("restored engine lacks the snapshot's inverted lists")
	}
	checkListCodes(t, r)
	for _, it := range items[1100:] {
		p1, _, err1 := e.Add(it)
		p2, _, err2 := r.Add(it)
		if err1 != nil || err2 != nil || p1 != p2 {
			t.Fatalf("face %d: live person %d, restored %d (%v, %v)", it.ID, p1, p2, err1, err2)
		}
	}
	if !reflect.DeepEqual(linkSet(e), linkSet(r)) {
		t.Fatal("links differ after the same Adds")
	}
}
