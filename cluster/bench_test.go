package cluster

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"
)

func TestParallelScanEqualsSerial(t *testing.T) {
	s := genSet(8, 30, 8, 20, 32, 0.45)
	opt := Options{Eps: 0.7, MinPts: 3, Link: 0.2}
	want := batchPartition(t, s.items, opt)
	old := scanChunk
	scanChunk = 16
	defer func() { scanChunk = old }()
	prev := runtime.GOMAXPROCS(2)
	defer runtime.GOMAXPROCS(prev)
	e := NewEngine(opt)
	for _, it := range s.items {
		if _, _, err := e.Add(it); err != nil {
			t.Fatal(err)
		}
	}
	if got := partition(e.Persons()); !reflect.DeepEqual(got, want) {
		t.Fatalf("split scan differs from the serial one")
	}
}

func TestSketchKeepsLinks(t *testing.T) {
	s := genSet(9, 30, 8, 20, 300, 0.6)
	opt := Options{Eps: 0.7, MinPts: 3, Link: 0.2}
	old := sketchAfter
	sketchAfter = 1 << 30
	want := batchPartition(t, s.items, opt)
	plain := NewEngine(opt)
	plain.AddBatch(s.items)
	sketchAfter = 40
	defer func() { sketchAfter = old }()
	e := NewEngine(opt)
	for _, it := range s.items {
		if _, _, err := e.Add(it); err != nil {
			t.Fatal(err)
		}
	}
	if e.sk == nil {
		t.Fatal("no sketch learnt")
	}
	if len(want) < 5 {
		t.Fatalf("only %d persons", len(want))
	}
	if got := partition(e.Persons()); !reflect.DeepEqual(got, want) {
		t.Fatalf("sketch changed the clustering")
	}
	links := func(e *Engine) int {
		n := 0
		for _, nd := range e.nodes {
			n += len(nd.adj)
		}
		return n
	}
	if links(e) != links(plain) || links(e) == 0 {
		t.Fatalf("links with sketch %d, without %d", links(e), links(plain))
	}
}

// benchWorld generates n faces of dim dimensions in identities of per faces:
// identity centres are random directions, faces are the centre plus noise
// (intra-identity distances about 0.6, other identities far beyond Eps).
type benchWorld struct {
	r       *rand.Rand
	dim     int
	centres [][]float32
}

// unitVec returns the dim values x(0), x(1), ... (called in that order)
// divided by their L2 norm.
func unitVec(dim int, x func(i int) float64) []float32 {
	v := make([]float32, dim)
	var n float64
	for i := range v {
		xi := x(i)
		v[i] = float32(xi)
		n += xi * xi
	}
	n = math.Sqrt(n)
	for i := range v {
		v[i] = float32(float64(v[i]) / n)
	}
	return v
}

func (w *benchWorld) unitGauss() []float32 {
	return unitVec(w.dim, func(int) float64 { return w.r.NormFloat64() })
}

func (w *benchWorld) face(identity int) []float32 {
	c := w.centres[identity]
	u := w.unitGauss()
	return unitVec(w.dim, func(i int) float64 { return float64(c[i]) + 0.45*float64(u[i]) })
}

// newBenchEngine fills an Engine with n faces without the O(n²) link scan:
// links are computed inside each identity only, which is exact here because
// identities are far apart.
func newBenchEngine(b *testing.B, n, per, dim int, opt Options) (*Engine, *benchWorld) {
	w := &benchWorld{r: rand.New(rand.NewPCG(1, 2)), dim: dim}
	ids := n / per
	for k := 0; k < ids; k++ {
		w.centres = append(w.centres, w.unitGauss())
	}
	e := NewEngine(opt)
	e.dim = dim
	e.vecs = make([]int8, 0, (n+1024)*dim)
	for k := 0; k < ids; k++ {
		first := int32(len(e.nodes))
		for j := 0; j < per; j++ {
			f := w.face(k)
			id := int64(len(e.nodes) + 1)
			p := appendNode(e, id, id, f)
			e.sketchNorms()
			e.record(p, e.scan(p, first, p, nil))
		}
	}
	e.reclusterAll()
	return e, w
}

// benchAdd measures the exact scan (the default options would switch to
// the inverted lists at these sizes).
func benchAdd(b *testing.B, n int) {
	opt := DefaultOptions()
	opt.Index = IndexExact
	benchAddOpt(b, n, opt)
}

func benchAddOpt(b *testing.B, n int, opt Options) {
	const per, dim = 20, 1024
	e, w := newBenchEngine(b, n, per, dim, opt)
	// train the index (if any) before timing: what the first Add after a
	// restart pays (k-means, the faces' codes)
	e.sketchNorms()
	t0 := time.Now()
	e.ivfUpdate()
	build := time.Since(t0)
	if len(e.Persons()) < n/per/2 {
		b.Fatalf("only %d persons among %d faces", len(e.Persons()), n)
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	heap := float64(ms.HeapAlloc) / float64(n)
	next := int64(n + 1)
	joined := 0
	faces := make([][]float32, 0, 64)
	var walls []time.Duration
	var cpu time.Duration
	b.ResetTimer()
	for b.Loop() {
		if len(faces) == 0 {
			b.StopTimer()
			for len(faces) < cap(faces) {
				faces = append(faces, w.face(w.r.IntN(len(w.centres))))
			}
			b.StartTimer()
		}
		f := faces[len(faces)-1]
		faces = faces[:len(faces)-1]
		t0, c0 := time.Now(), cpuTime()
		p, _, err := e.Add(Item{ID: next, Photo: next, Features: f})
		walls = append(walls, time.Since(t0))
		cpu += cpuTime() - c0
		if err != nil {
			b.Fatal(err)
		}
		if p != 0 {
			joined++
		}
		next++
	}
	b.StopTimer()
	b.ReportMetric(float64(joined)/float64(b.N), "joined/op")
	b.ReportMetric(heap, "heapB/face")
	if e.ix != nil {
		b.ReportMetric(build.Seconds(), "index-build-s")
	}
	// CPU time (user+system, all threads of the process) per Add, less
	// sensitive than wall time to other processes on a shared machine
	b.ReportMetric(cpu.Seconds()*1000/float64(b.N), "cpu-ms/op")
	// wall time of single Adds: the median and the 90th percentile leave
	// out the rare Add that grows an array of all faces (a copy of up to
	// the whole feature array, amortised over the next quarter of the
	// collection) or re-trains the inverted lists
	slices.Sort(walls)
	b.ReportMetric(walls[len(walls)/2].Seconds()*1000, "p50-ms")
	b.ReportMetric(walls[len(walls)*9/10].Seconds()*1000, "p90-ms")
	b.ReportMetric(walls[len(walls)-1].Seconds()*1000, "max-ms")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkAdd100k: one new face into an Engine holding 100 000 faces of
// 1024 dimensions (5 000 persons of 20).
func BenchmarkAdd100k(b *testing.B) { benchAdd(b, 100_000) }

// BenchmarkAdd1M needs about 5 GB of memory: set FACED_BENCH_1M=1.
func BenchmarkAdd1M(b *testing.B) {
	if os.Getenv("FACED_BENCH_1M") == "" {
		b.Skip("set FACED_BENCH_1M=1 (needs about 5 GB of memory)")
	}
	benchAdd(b, 1_000_000)
}

// BenchmarkAddIVF100k is BenchmarkAdd100k with the ivf link scan
// (default lists and probe).
func BenchmarkAddIVF100k(b *testing.B) {
	opt := DefaultOptions()
	opt.Index = IndexIVF
	benchAddOpt(b, 100_000, opt)
}

// BenchmarkAddIVF1M is BenchmarkAdd1M with the ivf link scan:
// FACED_BENCH_1M=1.
func BenchmarkAddIVF1M(b *testing.B) {
	if os.Getenv("FACED_BENCH_1M") == "" {
		b.Skip("set FACED_BENCH_1M=1 (needs about 5 GB of memory)")
	}
	opt := DefaultOptions()
	opt.Index = IndexIVF
	// FACED_BENCH_PROBE=N scans N lists instead of DefaultProbeShare of the faces
	if v := os.Getenv("FACED_BENCH_PROBE"); v != "" {
		fmt.Sscan(v, &opt.Probe)
	}
	benchAddOpt(b, 1_000_000, opt)
}

// BenchmarkRestore100k: RestoreEngine of 100 000 faces (5 000 persons of
// 20) from a Snapshot, against the quadratic AddBatch it replaces.
func BenchmarkRestore100k(b *testing.B) {
	const n, per, dim = 100_000, 20, 1024
	e, _ := newBenchEngine(b, n, per, dim, DefaultOptions())
	snap, err := e.Snapshot()
	if err != nil {
		b.Fatal(err)
	}
	items := make([]Item, 0, n)
	links := 0
	for i := range e.nodes {
		items = append(items, e.nodeItem(int32(i)))
		links += len(e.nodes[i].adj)
	}
	want := e.Persons()
	cpu0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		re, info, err := RestoreEngine(DefaultOptions(), items, snap)
		if err != nil {
			b.Fatal(err)
		}
		if info.Restored != n {
			b.Fatalf("restored %d of %d", info.Restored, n)
		}
		if len(re.Persons()) != len(want) {
			b.Fatal("persons differ")
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(len(snap))/n, "snapB/face")
	b.ReportMetric(float64(links)/2/n, "links/face")
	b.ReportMetric((cpuTime()-cpu0).Seconds()*1000/float64(b.N), "cpu-ms/op")
}

// lfwEngine is a library-like Engine of n lfwWorld faces, built once per
// test binary (AddBatch is quadratic) and handed out as snapshots.
var lfwEngines = map[int]struct {
	items []Item
	snap  []byte
	w     *lfwWorld
	cent  [][]float64
	build time.Duration
}{}

func lfwEngine(b *testing.B, n int) ([]Item, []byte, *lfwWorld, [][]float64, time.Duration) {
	if c, ok := lfwEngines[n]; ok {
		return c.items, c.snap, c.w, c.cent, c.build
	}
	w := newLFWWorld(3, 1024)
	items, _, centres := w.library(n)
	e := NewEngine(DefaultOptions())
	t0 := time.Now()
	if _, err := e.AddBatch(items); err != nil {
		b.Fatal(err)
	}
	build := time.Since(t0)
	snap, err := e.Snapshot()
	if err != nil {
		b.Fatal(err)
	}
	lfwEngines[n] = struct {
		items []Item
		snap  []byte
		w     *lfwWorld
		cent  [][]float64
		build time.Duration
	}{items, snap, w, centres, build}
	return items, snap, w, centres, build
}

// benchAddLFW: one new face (of a random known person) into an Engine
// holding n faces of a library-like lfwWorld (LFW-like distances, 30 % of
// faces strangers, persons of 2 to 400 photos), with exact updates
// (maxRegion 0) or local ones. It reports the largest region, the share of
// local updates and, for local updates, the agreement (BCubed F1) of the
// persons after b.N adds with an exact re-cluster of the same faces.
func benchAddLFW(b *testing.B, n, maxRegion int) {
	items, snap, w, centres, build := lfwEngine(b, n)
	opt := DefaultOptions()
	opt.MaxRegion = maxRegion
	e, _, err := RestoreEngine(opt, items, snap)
	if err != nil {
		b.Fatal(err)
	}
	largest := len(e.region([]int32{0}))
	links := 0
	for i := range e.nodes {
		links += len(e.nodes[i].adj)
	}
	next := int64(len(items) + 1)
	cpu0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		f := w.face(centres[w.r.IntN(len(centres))])
		b.StartTimer()
		if _, _, err := e.Add(Item{ID: next, Photo: next, Features: f}); err != nil {
			b.Fatal(err)
		}
		next++
	}
	b.StopTimer()
	b.ReportMetric((cpuTime()-cpu0).Seconds()*1000/float64(b.N), "cpu-ms/op")
	b.ReportMetric(build.Seconds(), "build-s")
	b.ReportMetric(float64(links)/float64(len(items)), "links/face")
	b.ReportMetric(float64(largest), "region")
	b.ReportMetric(float64(e.LocalUpdates())/float64(b.N), "local/op")
	if maxRegion > 0 {
		before := idsByFace(e.Persons())
		e.Recluster()
		after := idsByFace(e.Persons())
		var ref, got []string
		k := 0
		for id := int64(1); id < next; id++ {
			k++
			r, g := fmt.Sprint(after[id]), fmt.Sprint(before[id])
			if after[id] == 0 {
				r = fmt.Sprint("s", k)
			}
			if before[id] == 0 {
				g = fmt.Sprint("s", k)
			}
			ref, got = append(ref, r), append(got, g)
		}
		assign := make([]int, len(got))
		idx := map[string]int{}
		for i, g := range got {
			if _, ok := idx[g]; !ok {
				idx[g] = len(idx)
			}
			assign[i] = idx[g]
		}
		b.ReportMetric(Score(ref, assign).BCubedF1, "agreeF1")
	}
}

func BenchmarkAddLFW10k(b *testing.B) {
	b.Run("exact", func(b *testing.B) { benchAddLFW(b, 10_000, 0) })
	b.Run("local2000", func(b *testing.B) { benchAddLFW(b, 10_000, 2000) })
}
