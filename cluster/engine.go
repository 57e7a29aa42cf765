package cluster

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"sync"
	"unsafe"

	"gonum.org/v1/gonum/blas/blas32"

	"github.com/faced/faced/internal/quant"
)

// Options configure an Engine. The clustering the Engine maintains is a
// function of the set of faces and the user's constraints only, never of the
// order in which faces arrived (see Engine).
type Options struct {
	// Eps is the neighbour radius: faces i and j are linked when their
	// distance (feature L2 plus the weighted age term, see Distance) is ≤ Eps.
	Eps float64
	// MinPts is the core rule: a face is a core face when it has at least
	// MinPts−1 linked neighbours. Only core faces link clusters together;
	// other faces with a core neighbour join the nearest core's cluster.
	// MinPts ≤ 2 gives single linkage (the seed's method).
	MinPts int
	// AgeWeight weighs the seed's age term 0.1·(a_i−a_j)²/(a_i+a_j); the seed
	// uses 0.1, 0 turns the term off.
	AgeWeight float64
	// AgeLink, when > 0, widens the link radius of two faces by AgeLink
	// times the facial change expected between their ages (see age.go),
	// at most AgeLinkMax; it needs the items' Age and When. 0 turns it off.
	AgeLink float64
	// Link is the share of linked pairs two groups need before they merge
	// (the number of links between groups A and B must be at least
	// Link·|A|·|B|). 0 merges on any link (single linkage); larger values
	// stop chains of faces from joining two people.
	Link float64
	// JoinEps, when > 0, is a tighter radius for faces that are not core
	// faces: such a face joins a cluster (as a border face of a core, or
	// along links with other non-core faces) only through a link ≤ JoinEps.
	// It keeps one-photo strangers out of persons. 0 means Eps.
	JoinEps float64
	// MaxRegion bounds the work of Add, AddBatch and Remove. The faces a new
	// face can affect are its region: everything connected to it by links.
	// With real features the links of a large collection form one giant
	// region (on LFW 0.12 % of the pairs of different persons lie within
	// 0.82, so at 100 000 faces every face has about 120 such links), and
	// re-clustering it costs O(collection) per Add. When MaxRegion > 0 and
	// the region holds more than MaxRegion faces, only the faces around the
	// change are re-clustered: the new (or removed) face's LocalLinks
	// nearest linked faces and every face of their persons. The result may
	// then differ from Batch (measured in the package benchmarks and in
	// `faced-lab eval cluster --max-region`); Recluster restores it. 0 keeps
	// every update exact.
	MaxRegion int
	// LocalLinks is the number of nearest linked faces whose persons a
	// local update re-clusters (default 16).
	LocalLinks int
	// MinSize is the number of faces a cluster needs to become a person
	// (default 2). Smaller clusters are candidates that wait for more faces.
	// A cluster holding a face the user assigned is always a person.
	MinSize int
	// Index selects how a new face's links are found. IndexExact compares
	// it with every face (exact links). IndexIVF scans only the inverted
	// lists nearest to it (approximate: a link to a face in a list not
	// scanned is missed; see ivf.go and the package benchmarks for the
	// measured recall and cost). "" (IndexAuto, the default) is exact
	// until the Engine holds AutoIndexMin faces (or IndexMin, when set) and
	// IndexIVF from there.
	Index string
	// Lists is the number of inverted lists of IndexIVF (0: √n, re-chosen
	// whenever the index is re-trained).
	Lists int
	// Probe is the number of lists IndexIVF scans per new face (0:
	// ProbeShare of the lists).
	Probe int
	// ProbeShare is the share of the lists a scan covers when Probe is 0
	// (0: DefaultProbeShare).
	ProbeShare float64
	// IndexMin is the number of faces from which the inverted lists are
	// trained (0: 4096 for IndexIVF, AutoIndexMin for IndexAuto; below it
	// scans are exact). Values below 2000 also make the sketches start
	// earlier (for evaluating the index on small sets).
	IndexMin int
}

// JoinEps 0.80 (LFW dev set, batch): BCubed F1 0.9602 -> 0.9624 (P 0.972
// -> 0.984, R 0.948 -> 0.942) and one-photo distractors left alone 70 -> 75
// of 82; 0.78 keeps 77 alone at F1 0.957.
//
// DefaultOptions are the values tuned on the LFW dev set
// (../shared/testdata/lfw/images, features of the seed's int8 age/gender
// network through faced's analyzer): BCubed F1 0.960 there, against 0.843
// for the seed's single linkage at its best cut. They belong to the model:
// the model registry's thresholds override them when present. The age term
// is off because it lowered F1 on LFW (capture years unknown there); set
// AgeWeight 0.1 for the seed's distance.
//
// MaxRegion 2000: on a library-like synthetic set of 10 000 faces with
// LFW-like distances (BenchmarkAddLFW10k) the exact update re-clusters a
// region of 8 439 faces (~500 ms CPU per Add); local updates cost ~8 ms and
// agree with the exact persons at BCubed F1 0.998 after 30 Adds. Regions up
// to 2 000 faces (all of LFW's) stay exact.
func DefaultOptions() Options {
	return Options{Eps: 0.82, JoinEps: 0.80, MinPts: 5, Link: 0.35, AgeWeight: 0, AgeLink: 0.2, MinSize: 2, MaxRegion: 2000, LocalLinks: 16}
}

// Errors returned by the Engine's editing methods.
var (
	ErrUnknownFace   = errors.New("cluster: unknown face")
	ErrUnknownPerson = errors.New("cluster: unknown person")
	ErrDuplicateFace = errors.New("cluster: face already added")
	ErrBadFeatures   = errors.New("cluster: feature vector length differs from the first face's")
)

// Person is one cluster that counts as a person.
type Person struct {
	ID    int64
	Name  string
	Faces []int64 // face ids, ascending
}

// Changes lists the persons whose faces changed (created, grown, shrunk or
// gone) in one operation.
type Changes struct {
	Persons []int64
}

type edge struct {
	to int32
	d  float32
}

type node struct {
	id      int64
	photo   int64
	birth   float64
	year    int
	age     float64 // apparent age, 0 unknown
	when    float64 // capture time in decimal years, 0 unknown
	deleted bool
	sum     uint64 // itemSum of the item the face came from (see Snapshot)
	label   int64  // person the user assigned this face to (must-link), 0 none
	person  int64  // current person, 0 none (candidate)
	// adj holds the face's maxLinks nearest links (distance, then face id:
	// the same set whatever the arrival order); nb counts all its links,
	// for the core rule. A face of a dense person has thousands of links,
	// which would not fit in memory (see maxLinks).
	adj    []edge
	nb     int32
	cannot []int32 // faces this face must never share a cluster with
}

// Engine keeps faces, the links between them and the persons they form. It
// maintains exactly the clustering that Batch computes on the same faces and
// constraints: after every Add only the connected region of the link graph
// around the new face is re-clustered, so the result never depends on the
// arrival order. The exception is a region larger than Options.MaxRegion,
// where only the persons around the new face are re-clustered (fast, and
// nearly always the same; Recluster restores the exact result). Person ids
// are kept stable by matching old to new clusters by overlap; faces the
// user assigned fix their person's id. Snapshot and RestoreEngine save and
// restore the whole state without recomputing links.
//
// An Engine is safe for concurrent use.
type Engine struct {
	mu  sync.Mutex
	opt Options
	dim int
	// features as int8 (quant, the index's quantisation): dim values and
	// one scale per node, a quarter of float32's memory; distances are
	// computed on them (exact integer dot products)
	vecs   []int8
	scale  []float32
	norms  []float64 // squared norm of every node's (quantised) features
	nodes  []node
	byID   map[int64]int32
	names  map[int64]string
	labels map[int64][]int32 // user person -> faces
	nextID int64
	sk     *sketcher
	sketch []float32 // sk.k floats per node once sk is learnt
	sknorm []float32 // squared norm of every sketch of skFor
	skFor  *sketcher
	pm     map[int64]map[int32]struct{} // person -> nodes
	// Local counts the updates that re-clustered locally (see MaxRegion).
	local   int
	ix      *ivfIndex // with Options.Index IndexIVF or IndexAuto, once trained
	cd      *coder    // binary codes of the ivf scan (see code.go)
	codeBuf []float32 // scratch space of cd
}

// NewEngine returns an empty Engine.
func NewEngine(opt Options) *Engine {
	if opt.MinSize <= 0 {
		opt.MinSize = 2
	}
	return &Engine{opt: opt, byID: map[int64]int32{}, names: map[int64]string{}, labels: map[int64][]int32{}, nextID: 1,
		pm: map[int64]map[int32]struct{}{}}
}

// setPerson moves node x to person p (0: none), keeping the person index.
func (e *Engine) setPerson(x int32, p int64) {
	n := &e.nodes[x]
	if n.person == p {
		return
	}
	if m := e.pm[n.person]; m != nil {
		delete(m, x)
		if len(m) == 0 {
			delete(e.pm, n.person)
		}
	}
	n.person = p
	if p != 0 {
		m := e.pm[p]
		if m == nil {
			m = map[int32]struct{}{}
			e.pm[p] = m
		}
		m[x] = struct{}{}
	}
}

// LocalUpdates returns how many updates re-clustered locally instead of
// exactly (see Options.MaxRegion).
func (e *Engine) LocalUpdates() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.local
}

// area returns the region of seeds, or with MaxRegion set and a region
// larger than that, the local area around them: the seeds' persons and
// those of their LocalLinks nearest neighbours.
func (e *Engine) area(seeds []int32) []int32 {
	k := e.opt.LocalLinks
	if k <= 0 {
		k = 16
	}
	return e.localArea(seeds, k)
}

// areaRemove is area for the neighbours of a removed face: with a region
// too large, the seeds' persons (not their neighbours) are re-clustered.
func (e *Engine) areaRemove(seeds []int32) []int32 { return e.localArea(seeds, 0) }

// localArea is the region of seeds, or with MaxRegion set and a region
// larger than that, the faces of the seeds' persons (and same-label faces)
// plus those of each seed's k nearest linked faces, in id order.
func (e *Engine) localArea(seeds []int32, k int) []int32 {
	if e.opt.MaxRegion <= 0 {
		return e.region(seeds)
	}
	if reg, ok := e.regionLimit(seeds, e.opt.MaxRegion); ok {
		return reg
	}
	e.local++
	seen := map[int32]bool{}
	var out []int32
	add := func(x int32) {
		if !seen[x] && !e.nodes[x].deleted {
			seen[x] = true
			out = append(out, x)
		}
	}
	addPerson := func(x int32) {
		add(x)
		if p := e.nodes[x].person; p != 0 {
			for y := range e.pm[p] {
				add(y)
			}
		}
		if l := e.nodes[x].label; l != 0 {
			for _, y := range e.labels[l] {
				add(y)
			}
		}
	}
	for _, s := range seeds {
		if e.nodes[s].deleted {
			continue
		}
		addPerson(s)
		if k == 0 {
			continue
		}
		adj := append([]edge(nil), e.nodes[s].adj...)
		sort.Slice(adj, func(i, j int) bool {
			if adj[i].d != adj[j].d {
				return adj[i].d < adj[j].d
			}
			return e.nodes[adj[i].to].id < e.nodes[adj[j].to].id
		})
		for i := 0; i < len(adj) && i < k; i++ {
			addPerson(adj[i].to)
		}
	}
	sort.Slice(out, func(i, j int) bool { return e.nodes[out[i]].id < e.nodes[out[j]].id })
	return out
}

// regionLimit is region, giving up (false) once more than limit faces are
// reached, or (with a limit) at a face that keeps only its nearest links:
// a face may keep a link to the region that no face of the region keeps
// (see maxLinks), so such a region is not known to be closed.
func (e *Engine) regionLimit(seeds []int32, limit int) ([]int32, bool) {
	seen := map[int32]bool{}
	var out, stack []int32
	push := func(x int32) {
		if !seen[x] && !e.nodes[x].deleted {
			seen[x] = true
			out = append(out, x)
			stack = append(stack, x)
		}
	}
	for _, s := range seeds {
		push(s)
	}
	for len(stack) > 0 {
		if len(out) > limit {
			return nil, false
		}
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if limit < math.MaxInt && e.truncated(x) {
			return nil, false
		}
		for _, ed := range e.nodes[x].adj {
			push(ed.to)
		}
		if l := e.nodes[x].label; l != 0 {
			for _, y := range e.labels[l] {
				push(y)
			}
		}
	}
	if len(out) > limit {
		return nil, false
	}
	// face ids, not arrival positions, break every tie downstream
	sort.Slice(out, func(i, j int) bool { return e.nodes[out[i]].id < e.nodes[out[j]].id })
	return out, true
}

// Options returns the engine's options.
func (e *Engine) Options() Options { return e.opt }

// Len returns the number of faces held.
func (e *Engine) Len() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.byID)
}

// Distance is the Engine's face distance: the features' L2 distance plus
// ageWeight times the seed's age term (SeedDistance with ageWeight 0.1).
func Distance(a, b Item, ageWeight float64) float64 {
	d := l2(a.Features, b.Features)
	if ageWeight != 0 {
		d += ageWeight / AgeWeight * ageTerm(a, b)
	}
	return clip0(d)
}

// row returns node i's int8 features.
func (e *Engine) row(i int32) []int8 {
	return e.vecs[int(i)*e.dim : int(i+1)*e.dim]
}

// vec returns node i's features, decoded (a new slice).
func (e *Engine) vec(i int32) []float32 {
	return e.decode(i, make([]float32, e.dim))
}

// decode writes node i's features to buf (len ≥ dim) and returns them.
func (e *Engine) decode(i int32, buf []float32) []float32 {
	return quant.Decode(buf, e.row(i), e.scale[i])
}

// store appends features f as the last node's row, quantised.
func (e *Engine) store(f []float32) {
	o := len(e.vecs)
	e.vecs = slices.Grow(e.vecs, e.dim)[:o+e.dim]
	q := e.vecs[o:]
	s := quant.Int8(q, f)
	e.scale = append(e.scale, s)
	e.norms = append(e.norms, float64(s)*float64(s)*float64(quant.Dot(q, q)))
}

// dot8 is the dot product of nodes i and j's features; it is the same for
// (i, j) and (j, i), so links do not depend on which face arrived first.
func (e *Engine) dot8(i, j int32) float64 {
	return float64(e.scale[i]) * float64(e.scale[j]) * float64(quant.Dot(e.row(i), e.row(j)))
}

// decodeRows returns the decoded features of at most sketchRows of the
// first n nodes (all of them when n ≤ sketchRows, else evenly strided) and
// their count, for learning the sketch directions.
func (e *Engine) decodeRows(n int) ([]float32, int) {
	step := max(1, (n+sketchRows-1)/sketchRows)
	m := (n + step - 1) / step
	out := make([]float32, m*e.dim)
	for k := 0; k < m; k++ {
		e.decode(int32(k*step), out[k*e.dim:(k+1)*e.dim])
	}
	return out, m
}

// sketchRows bounds the faces the sketch directions are learnt from (a
// restore of a large engine without sketches learns them from a sample).
const sketchRows = 16384

// learn learns the sketch directions from the first n nodes.
func (e *Engine) learn(n int) *sketcher {
	rows, m := e.decodeRows(n)
	return learnSketch(rows, m, e.dim, SketchDims)
}

// projectAll appends the sketches of nodes [from, to).
func (e *Engine) projectAll(from, to int) {
	buf := make([]float32, e.dim)
	for i := from; i < to; i++ {
		e.sketch = e.sk.project(e.decode(int32(i), buf), e.sketch)
	}
}

// distDot is the distance of nodes i and j given their feature dot product.
func (e *Engine) distDot(i, j int32, dot float64) float64 {
	d2 := e.norms[i] + e.norms[j] - 2*dot
	d := math.Sqrt(max(0, d2))
	if e.opt.AgeWeight != 0 {
		a, b := &e.nodes[i], &e.nodes[j]
		d += e.opt.AgeWeight / AgeWeight * ageTerm(Item{BirthYear: a.birth, Year: a.year}, Item{BirthYear: b.birth, Year: b.year})
	}
	if e.opt.AgeLink > 0 {
		// a widened radius is stored as a distance scaled to Eps, so the
		// core rule, JoinEps and the merge order see it like any link
		a, b := &e.nodes[i], &e.nodes[j]
		if w := ageLinkWiden(e.opt.AgeLink, a.age, a.when, b.age, b.when); w != 0 {
			d *= e.opt.Eps / (e.opt.Eps + w)
		}
	}
	return d
}

// itemNode is the node of a new face.
func itemNode(it *Item) node {
	return node{id: it.ID, photo: it.Photo, birth: it.BirthYear, year: it.Year, age: it.Age, when: it.When}
}

// scanEps is the feature distance up to which a pair can link.
func (e *Engine) scanEps() float64 {
	if e.opt.AgeLink > 0 {
		return e.opt.Eps + AgeLinkMax
	}
	return e.opt.Eps
}

// dot32 is the dot product of a and b[:len(a)]. It must give the same bits
// for (a, b) and (b, a), so that links do not depend on which face arrived
// first. gonum's assembly kernel (SSE on amd64, three times the pure Go
// loop on 1024-d features) sums in an order that depends on b's address
// modulo 16, so it is used only when both vectors are 16-byte aligned and a
// multiple of 4 long: always the case for the Engine's rows when the
// feature length is a multiple of 4 (Go aligns allocations of 16 bytes and
// more to 16), never otherwise.
func dot32(a, b []float32) float32 {
	b = b[:len(a)]
	if len(a)%4 == 0 && len(a) > 0 && uintptr(unsafe.Pointer(&a[0]))%16 == 0 && uintptr(unsafe.Pointer(&b[0]))%16 == 0 {
		return blas32.Dot(blas32.Vector{N: len(a), Inc: 1, Data: a}, blas32.Vector{N: len(a), Inc: 1, Data: b})
	}
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return s0 + s1 + s2 + s3
}

// sketchNorms brings the sketch norms up to date (before a scan, which
// reads them from several goroutines).
func (e *Engine) sketchNorms() {
	if e.skFor != e.sk {
		e.sknorm, e.skFor = e.sknorm[:0], e.sk
	}
	if e.sk == nil {
		return
	}
	k := e.sk.k
	for i := len(e.sknorm); i < len(e.sketch)/k; i++ {
		row := e.sketch[i*k : (i+1)*k]
		e.sknorm = append(e.sknorm, dot32(row, row))
	}
}

// insert stores it as a new node and links it to its neighbours; it
// returns the node index.
func (e *Engine) insert(it Item) (int32, error) {
	if _, ok := e.byID[it.ID]; ok {
		return 0, fmt.Errorf("%w: %d", ErrDuplicateFace, it.ID)
	}
	if e.dim == 0 {
		if len(it.Features) == 0 {
			return 0, fmt.Errorf("%w: face %d has no features", ErrBadFeatures, it.ID)
		}
		e.dim = len(it.Features)
	}
	if len(it.Features) != e.dim {
		return 0, fmt.Errorf("%w: face %d has %d, want %d", ErrBadFeatures, it.ID, len(it.Features), e.dim)
	}
	p := int32(len(e.nodes))
	nd := itemNode(&it)
	nd.sum = itemSum(&it)
	e.nodes = append(e.nodes, nd)
	e.store(it.Features)
	e.byID[it.ID] = p
	e.maybeSketch()
	e.link(p, p)
	return p, nil
}

// scanChunk is the number of faces one goroutine scans when a link scan is
// split over the CPUs.
var scanChunk = 16384

// link computes the links of node p to nodes [0, upto) and records them on
// both ends. Large scans are split over the CPUs; links are recorded in
// ascending node order either way.
func (e *Engine) link(p, upto int32) {
	e.record(p, e.links(p, upto))
}

// links returns the links of node p to nodes [0, upto), in ascending node
// order.
func (e *Engine) links(p, upto int32) []edge {
	e.sketchNorms()
	if ix := e.ivfUpdate(); ix != nil {
		return e.ivfScan(ix, p, upto)
	}
	chunk := int32(scanChunk)
	if upto <= chunk || runtime.GOMAXPROCS(0) == 1 {
		return e.scan(p, 0, upto, nil)
	}
	parts := make([][]edge, (upto+chunk-1)/chunk)
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for c := range parts {
		wg.Add(1)
		sem <- struct{}{}
		go func(c int) {
			defer wg.Done()
			lo := int32(c) * chunk
			parts[c] = e.scan(p, lo, min(lo+chunk, upto), nil)
			<-sem
		}(c)
	}
	wg.Wait()
	var out []edge
	for _, part := range parts {
		out = append(out, part...)
	}
	return out
}

// maybeSketch learns the sketch directions once enough faces are held and
// keeps every face's sketch up to date.
func (e *Engine) maybeSketch() {
	n := len(e.nodes)
	switch {
	case e.sk != nil:
		e.projectAll(n-1, n)
	case n >= e.sketchFrom() && e.dim > 2*SketchDims:
		e.sk = e.learn(n)
		e.sketch = make([]float32, 0, n*SketchDims)
		e.projectAll(0, n)
	}
}

// scanner tests the nodes of one link scan against face p.
type scanner struct {
	e    *Engine
	p    int32
	qs   []float32
	k    int
	skip float32
	qn   float32
}

func (e *Engine) scanner(p int32) scanner {
	eps := e.scanEps()
	s := scanner{e: e, p: p,
		// sketch distances bound the full distance from below; the margin
		// covers float32 rounding
		skip: float32(eps*eps*(1+1e-4) + 1e-4)}
	if e.sk != nil {
		s.k = e.sk.k
		s.qs = e.sketch[int(p)*s.k : int(p+1)*s.k]
		s.qn = e.sknorm[p]
	}
	return s
}

// test appends the link p–j to out when there is one.
func (s *scanner) test(j int32, out []edge) []edge {
	e := s.e
	if e.nodes[j].deleted {
		return out
	}
	if k := s.k; k > 0 {
		// |qs − sj|² from the norms and one (vectorised) dot product
		d := s.qn + e.sknorm[j] - 2*dot32(s.qs, e.sketch[int(j)*k:int(j+1)*k])
		if d > s.skip {
			return out
		}
	}
	return s.testFull(j, out)
}

// testFull is test without the sketch bound.
func (s *scanner) testFull(j int32, out []edge) []edge {
	e := s.e
	if e.nodes[j].deleted {
		return out
	}
	if d := e.distDot(s.p, j, e.dot8(s.p, j)); d <= e.opt.Eps {
		out = append(out, edge{j, float32(d)})
	}
	return out
}

// scan returns the links of p to the live nodes in [lo, hi).
func (e *Engine) scan(p, lo, hi int32, out []edge) []edge {
	s := e.scanner(p)
	for j := lo; j < hi; j++ {
		out = s.test(j, out)
	}
	return out
}

func (e *Engine) record(p int32, links []edge) {
	for _, l := range links {
		e.keep(l.to, edge{p, l.d})
		e.keep(p, l)
	}
}

// maxLinks is the number of links a face keeps (its nearest ones; every
// link is counted, see node). On LFW and FG-NET no face has that many
// links, so nothing changes there; in a dense person of thousands of faces
// it bounds the adjacency to maxLinks·8 bytes per face instead of growing
// with the person (a 50 000-face person at LFW's same-person distances has
// about 30 000 links per face).
var maxLinks = 32

// edgeLess orders links by distance, then by node (the face ids' order is
// the nodes' order for faces added in id order; either way it is a total
// order, so the links kept do not depend on arrival order).
func (e *Engine) edgeLess(a, b edge) bool {
	if a.d != b.d {
		return a.d < b.d
	}
	return e.nodes[a.to].id < e.nodes[b.to].id
}

// keep counts the link ed of node x and stores it when it is among x's
// maxLinks nearest. The list is kept in edgeLess order, so a link farther
// than a full list's last is dismissed at once (the common case in a dense
// person).
func (e *Engine) keep(x int32, ed edge) {
	n := &e.nodes[x]
	n.nb++
	l := n.adj
	if len(l) >= maxLinks && !e.edgeLess(ed, l[len(l)-1]) {
		return
	}
	i := sort.Search(len(l), func(i int) bool { return e.edgeLess(ed, l[i]) })
	if len(l) < maxLinks {
		l = append(l, edge{})
	}
	copy(l[i+1:], l[i:len(l)-1])
	l[i] = ed
	n.adj = l
}

// truncated reports whether node x has more links than it stores.
func (e *Engine) truncated(x int32) bool { return int(e.nodes[x].nb) > len(e.nodes[x].adj) }

// Add inserts one face and re-clusters the region it touches. It returns
// the face's person (0 when it waits as a candidate) and the persons whose
// faces changed.
func (e *Engine) Add(it Item) (person int64, ch Changes, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, err := e.insert(it)
	if err != nil {
		return 0, Changes{}, err
	}
	if e.opt.MaxRegion > 0 {
		if reg, ok := e.regionLimit([]int32{p}, e.opt.MaxRegion); ok {
			return e.nodes[p].person, e.recluster(reg), nil
		}
		if e.localSize(p) > e.opt.MaxRegion {
			e.local++
			ch = e.attach(p)
			return e.nodes[p].person, ch, nil
		}
	}
	ch = e.recluster(e.area([]int32{p}))
	return e.nodes[p].person, ch, nil
}

// localSize is the number of faces a local update around the new face p
// would re-cluster (see localArea): those of the persons of p's
// LocalLinks nearest linked faces.
func (e *Engine) localSize(p int32) int {
	k := e.opt.LocalLinks
	if k <= 0 {
		k = 16
	}
	n, seen := 1, map[int64]bool{}
	for i, ed := range e.nodes[p].adj {
		if i == k {
			break
		}
		if q := e.nodes[ed.to].person; q == 0 {
			n++
		} else if !seen[q] {
			seen[q] = true
			n += len(e.pm[q]) + len(e.labels[q])
		}
	}
	return n
}

// attach places the new face p when even a local update would re-cluster
// more than MaxRegion faces (p next to persons of thousands of faces):
// the other faces keep their persons and p takes the one the rules give it
// against them, nearest link first. A core face joins the person of a core
// neighbour when its links to that person pass the Link rule (their count
// estimated from its kept links: links·share of them to the person); a
// face that is not core joins the person of its nearest core neighbour
// within JoinEps; never a person holding a face of the same photo. With no
// such person, p and its linked faces that are in no person are
// re-clustered together (a new person may form). What attach does not do
// is merge or split persons through p, or make p's neighbours core faces
// (an exact re-cluster, Recluster, does); MaxRegion says when that is
// worth its cost.
func (e *Engine) attach(p int32) Changes {
	n := &e.nodes[p]
	minNb := int32(max(e.opt.MinPts-1, 0))
	core := n.nb >= minNb
	join := float32(math.Inf(1))
	if e.opt.JoinEps > 0 {
		join = float32(e.opt.JoinEps)
	}
	// links kept to each person, for the Link rule estimate
	to := map[int64]int{}
	for _, ed := range n.adj {
		if q := e.nodes[ed.to].person; q != 0 {
			to[q]++
		}
	}
	tried := map[int64]bool{}
	for _, ed := range n.adj { // nearest first (edgeLess order)
		if !core && ed.d > join {
			break
		}
		y := &e.nodes[ed.to]
		q := y.person
		if q == 0 || y.nb < minNb || tried[q] {
			continue
		}
		tried[q] = true
		if e.samePhotoIn(q, n.photo) {
			continue
		}
		if core && e.opt.Link > 0 {
			est := float64(to[q]) / float64(len(n.adj)) * float64(n.nb)
			if est < e.opt.Link*float64(len(e.pm[q])) {
				continue
			}
		}
		e.setPerson(p, q)
		return Changes{Persons: []int64{q}}
	}
	reg := []int32{p}
	for _, ed := range n.adj {
		if e.nodes[ed.to].person == 0 {
			reg = append(reg, ed.to)
		}
	}
	sort.Slice(reg, func(i, j int) bool { return e.nodes[reg[i]].id < e.nodes[reg[j]].id })
	return e.recluster(reg)
}

// samePhotoIn reports whether person q holds a face of photo.
func (e *Engine) samePhotoIn(q, photo int64) bool {
	for x := range e.pm[q] {
		if e.nodes[x].photo == photo {
			return true
		}
	}
	return false
}

// AddBatch inserts many faces and clusters once at the end; the result is
// the same as adding them one by one (exact when at least MaxRegion faces
// are added).
func (e *Engine) AddBatch(items []Item) (Changes, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var added []int32
	for _, it := range items {
		p, err := e.insert(it)
		if err != nil {
			return e.recluster(e.area(added)), err
		}
		added = append(added, p)
	}
	if len(added) >= e.opt.MaxRegion {
		// a batch this large pays for an exact re-cluster
		return e.recluster(e.region(added)), nil
	}
	return e.recluster(e.area(added)), nil
}

// Remove deletes a face (its file was deleted or re-analysed) and
// re-clusters the region it was part of.
func (e *Engine) Remove(id int64) (Changes, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, ok := e.byID[id]
	if !ok {
		return Changes{}, fmt.Errorf("%w: %d", ErrUnknownFace, id)
	}
	seeds := []int32{}
	n := &e.nodes[p]
	nbs := n.adj
	if e.truncated(p) {
		// the links it does not store are found again (with the inverted
		// lists, a link missed there leaves its face's count one too high
		// and a link to a removed face, which nothing follows)
		nbs = e.links(p, int32(len(e.nodes)))
		for _, ed := range n.adj {
			if !slices.ContainsFunc(nbs, func(x edge) bool { return x.to == ed.to }) {
				nbs = append(nbs, ed)
			}
		}
	}
	for _, ed := range nbs {
		if ed.to == p || e.nodes[ed.to].deleted {
			continue
		}
		seeds = append(seeds, ed.to)
		e.nodes[ed.to].nb--
		e.nodes[ed.to].adj = dropEdge(e.nodes[ed.to].adj, p)
	}
	for _, c := range n.cannot {
		e.nodes[c].cannot = dropIdx(e.nodes[c].cannot, p)
	}
	if n.label != 0 {
		e.labels[n.label] = dropIdx(e.labels[n.label], p)
		seeds = append(seeds, e.labels[n.label]...)
		if len(e.labels[n.label]) == 0 {
			delete(e.labels, n.label)
		}
	}
	old := n.person
	// the removed face leaves its person: record it as changed
	e.setPerson(p, 0)
	n.adj, n.nb, n.cannot, n.label, n.deleted = nil, 0, nil, 0, true
	delete(e.byID, id)
	if old != 0 {
		// the person's other faces are re-clustered with the rest
		for y := range e.pm[old] {
			seeds = append(seeds, y)
		}
	}
	ch := e.recluster(e.areaRemove(seeds))
	if old != 0 {
		ch.Persons = addUnique(ch.Persons, old)
	}
	return ch, nil
}

func dropEdge(a []edge, p int32) []edge {
	out := a[:0]
	for _, x := range a {
		if x.to != p {
			out = append(out, x)
		}
	}
	return out
}

func dropIdx(a []int32, p int32) []int32 {
	out := a[:0]
	for _, x := range a {
		if x != p {
			out = append(out, x)
		}
	}
	return out
}

func addUnique(a []int64, v int64) []int64 {
	for _, x := range a {
		if x == v {
			return a
		}
	}
	return append(a, v)
}

// region returns the live nodes connected to seeds through links and
// must-links (faces assigned to one person), sorted ascending. No cluster
// reaches outside such a region, so re-clustering it alone is exact.
func (e *Engine) region(seeds []int32) []int32 {
	out, _ := e.regionLimit(seeds, math.MaxInt)
	return out
}

// estSample is the number of faces of each side estLinks compares.
const estSample = 24

// estLinks estimates the number of links between the faces A and B
// (positions in reg; with coreOnly, only links to core faces of B count)
// by computing the distances of up to estSample faces of A (evenly spread)
// to up to estSample of B, scaled to |A|·|B|. It serves faces that keep only
// their nearest links (maxLinks), whose links to a group cannot be counted
// from their lists.
func (e *Engine) estLinks(reg []int32, A, B []int32, coreOnly bool, core []bool) float64 {
	if len(A) == 0 || len(B) == 0 {
		return 0
	}
	sa, sb := min(len(A), estSample), min(len(B), estSample)
	n := 0
	for i := 0; i < sa; i++ {
		x := reg[A[i*len(A)/sa]]
		for j := 0; j < sb; j++ {
			k := B[j*len(B)/sb]
			if coreOnly && !core[k] {
				continue
			}
			y := reg[k]
			if e.distDot(x, y, e.dot8(x, y)) <= e.opt.Eps {
				n++
			}
		}
	}
	return float64(n) * float64(len(A)) * float64(len(B)) / float64(sa*sb)
}

// symmetric makes the region's link lists symmetric: a link one end keeps
// among its nearest and the other does not (see maxLinks) is added to the
// other's list; the lists are then in ascending node order.
func symmetric(ladj [][]edge) {
	for k := range ladj {
		for _, ed := range ladj[k] {
			if int(ed.to) != k {
				ladj[ed.to] = append(ladj[ed.to], edge{int32(k), ed.d})
			}
		}
	}
	for k := range ladj {
		l := ladj[k]
		slices.SortFunc(l, func(a, b edge) int { return int(a.to) - int(b.to) })
		ladj[k] = slices.CompactFunc(l, func(a, b edge) bool { return a.to == b.to })
	}
}

// group is a cluster under construction.
type group struct {
	members []int32
	photos  map[int64]struct{}
	label   int64
}

// clusterRegion computes the canonical clustering of the nodes in reg (a
// closed region, sorted by face id): every result lists node indices;
// nodes in no list are singletons. Ties are broken by position in reg, that
// is by face id, so the result does not depend on arrival order.
func (e *Engine) clusterRegion(reg []int32) [][]int32 {
	in := make(map[int32]int32, len(reg)) // node -> position in reg
	for k, x := range reg {
		in[x] = int32(k)
	}
	// links inside the region (a region re-clustered locally, see
	// Options.MaxRegion, is not closed: links leaving it are ignored)
	ladj := make([][]edge, len(reg))
	trunc := false
	for k, x := range reg {
		trunc = trunc || e.truncated(x)
		for _, ed := range e.nodes[x].adj {
			if j, ok := in[ed.to]; ok {
				ladj[k] = append(ladj[k], edge{j, ed.d})
			}
		}
	}
	if trunc {
		symmetric(ladj)
	}
	minNb := max(e.opt.MinPts-1, 0)
	core := make([]bool, len(reg))
	for k, x := range reg {
		core[k] = int(e.nodes[x].nb) >= minNb
	}
	parent := make([]int32, len(reg))
	groups := make([]*group, len(reg))
	for k, x := range reg {
		parent[k] = int32(k)
		groups[k] = &group{members: []int32{int32(k)}, photos: map[int64]struct{}{e.nodes[x].photo: {}}, label: e.nodes[x].label}
	}
	var find func(int32) int32
	find = func(x int32) int32 {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	union := func(a, b int32) int32 {
		ga, gb := groups[a], groups[b]
		if len(ga.members) < len(gb.members) {
			a, b, ga, gb = b, a, gb, ga
		}
		parent[b] = a
		ga.members = append(ga.members, gb.members...)
		for ph := range gb.photos {
			ga.photos[ph] = struct{}{}
		}
		if ga.label == 0 {
			ga.label = gb.label
		}
		groups[b] = nil
		return a
	}
	births := e.newBirthCache(reg)
	conflict := func(a, b int32) bool {
		ga, gb := groups[a], groups[b]
		if ga.label != 0 && gb.label != 0 && ga.label != gb.label {
			return true
		}
		if (ga.label == 0 || ga.label != gb.label) && births.conflict(ga.members, gb.members) {
			return true
		}
		if len(ga.members) > len(gb.members) {
			ga, gb = gb, ga
			a, b = b, a
		}
		for ph := range ga.photos {
			if _, ok := gb.photos[ph]; ok {
				return true
			}
		}
		for _, m := range ga.members {
			for _, c := range e.nodes[reg[m]].cannot {
				if k, ok := in[c]; ok && find(k) == b {
					return true
				}
			}
		}
		return false
	}
	// must-links: faces assigned to one person start as one group
	for k, x := range reg {
		if l := e.nodes[x].label; l != 0 {
			first := in[e.labels[l][0]]
			for _, y := range e.labels[l] {
				if fy, ok := in[y]; ok && fy < first {
					first = fy
				}
			}
			if a, b := find(int32(k)), find(first); a != b {
				union(a, b)
			}
			core[k] = true
		}
	}
	// core-core links in ascending distance (ties by node pair)
	type link struct {
		a, b int32
		d    float32
	}
	var links []link
	for k := range reg {
		if !core[k] {
			continue
		}
		for _, ed := range ladj[k] {
			j := ed.to
			if int32(k) < j && core[j] {
				links = append(links, link{int32(k), j, ed.d})
			}
		}
	}
	// mergeLinks unites the clusters of each link's ends in ascending
	// distance (ties by node pair), unless they conflict or, with Link > 0,
	// fewer than Link·|A|·|B| links join them (counted from the smaller
	// cluster; with coreOnly, only links to core faces count)
	mergeLinks := func(links []link, coreOnly bool) {
		sort.Slice(links, func(i, j int) bool {
			if links[i].d != links[j].d {
				return links[i].d < links[j].d
			}
			if links[i].a != links[j].a {
				return links[i].a < links[j].a
			}
			return links[i].b < links[j].b
		})
		// between counts the links joining groups a and b from the smaller
		// one's side: exactly from the members that keep all their links,
		// estimated (estLinks) for those that keep only their nearest
		between := func(a, b int32) float64 {
			ga, gb := groups[a], groups[b]
			if len(ga.members) > len(gb.members) {
				ga, gb = gb, ga
				b = a
			}
			n := 0
			var cut []int32
			for _, m := range ga.members {
				if trunc && e.truncated(reg[m]) {
					cut = append(cut, m)
					continue
				}
				for _, ed := range ladj[m] {
					if (!coreOnly || core[ed.to]) && find(ed.to) == b {
						n++
					}
				}
			}
			return float64(n) + e.estLinks(reg, cut, gb.members, coreOnly, core)
		}
		// with truncated lists a refused pair of groups is not tried again
		// until one of them grows (the estimate would be the same)
		type tryKey struct{ a, b, na, nb int32 }
		refused := map[tryKey]bool{}
		for _, l := range links {
			a, b := find(l.a), find(l.b)
			if a == b {
				continue
			}
			key := tryKey{min(a, b), max(a, b), int32(len(groups[min(a, b)].members)), int32(len(groups[max(a, b)].members))}
			if trunc && refused[key] {
				continue
			}
			if conflict(a, b) {
				continue
			}
			if e.opt.Link > 0 {
				na, nb := len(groups[a].members), len(groups[b].members)
				if e.opt.AgeLink > 0 && e.birthsAgree(reg, groups[a].members, groups[b].members) {
					na, nb = e.nearInTime(reg, groups[a].members, groups[b].members, na, nb)
				}
				if between(a, b) < e.opt.Link*float64(na)*float64(nb) {
					if trunc {
						refused[key] = true
					}
					continue
				}
			}
			union(a, b)
		}
	}
	mergeLinks(links, true)
	join := float32(math.Inf(1))
	if e.opt.JoinEps > 0 {
		join = float32(e.opt.JoinEps)
	}
	// border faces join the nearest core's cluster, nearest first
	type border struct {
		k    int32
		best float32
	}
	var borders []border
	for k := range reg {
		if core[k] {
			continue
		}
		best := float32(math.Inf(1))
		for _, ed := range ladj[k] {
			if core[ed.to] && ed.d < best && ed.d <= join {
				best = ed.d
			}
		}
		if !math.IsInf(float64(best), 1) {
			borders = append(borders, border{int32(k), best})
		}
	}
	sort.Slice(borders, func(i, j int) bool {
		if borders[i].best != borders[j].best {
			return borders[i].best < borders[j].best
		}
		return borders[i].k < borders[j].k
	})
	for _, bd := range borders {
		adj := append([]edge(nil), ladj[bd.k]...)
		sort.Slice(adj, func(i, j int) bool {
			if adj[i].d != adj[j].d {
				return adj[i].d < adj[j].d
			}
			return adj[i].to < adj[j].to
		})
		for _, ed := range adj {
			j := ed.to
			if ed.d > join {
				break
			}
			if !core[j] {
				continue
			}
			a, b := find(bd.k), find(j)
			if a != b && !conflict(a, b) {
				union(a, b)
				break
			}
		}
	}
	// faces left alone (not core, no core neighbour) still group with each
	// other along their links, so a person with fewer than MinPts photos can
	// form: same merge rules
	attached := make([]bool, len(reg))
	for k := range reg {
		if core[k] || len(groups[find(int32(k))].members) > 1 {
			attached[k] = true
		}
	}
	var loose []link
	for k := range reg {
		if attached[k] {
			continue
		}
		for _, ed := range ladj[k] {
			j := ed.to
			if int32(k) < j && !attached[j] {
				if ed.d <= join {
					loose = append(loose, link{int32(k), j, ed.d})
				}
			}
		}
	}
	mergeLinks(loose, false)
	if e.opt.AgeLink > 0 {
		e.mergeAcrossAges(reg, ladj, groups, find, union, conflict)
		e.joinLoneFaces(reg, ladj, groups, find, union, conflict)
	}
	var out [][]int32
	for k := range reg {
		if g := groups[k]; g != nil && parent[k] == int32(k) {
			c := make([]int32, len(g.members))
			for i, m := range g.members {
				c[i] = reg[m]
			}
			sort.Slice(c, func(i, j int) bool { return e.nodes[c[i]].id < e.nodes[c[j]].id })
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return e.nodes[out[i][0]].id < e.nodes[out[j][0]].id })
	return out
}

// recluster re-clusters the closed region reg and gives the new clusters
// person ids: a cluster holding faces the user assigned to a person takes
// that person's id; the others take the id of the old person they share the
// most faces with (named persons first on ties, then the older id); the
// rest get new ids. Clusters smaller than MinSize without user faces are
// candidates (person 0).
func (e *Engine) recluster(reg []int32) Changes {
	if len(reg) == 0 {
		return Changes{}
	}
	clusters := e.clusterRegion(reg)
	inCluster := map[int32]bool{}
	type cand struct {
		c   int
		old int64
		n   int
	}
	newID := make([]int64, len(clusters))
	used := map[int64]bool{}
	var cands []cand
	isPerson := make([]bool, len(clusters))
	for c, cl := range clusters {
		var label int64
		overlap := map[int64]int{}
		for _, x := range cl {
			inCluster[x] = true
			if l := e.nodes[x].label; l != 0 {
				label = l
			}
			if p := e.nodes[x].person; p != 0 {
				overlap[p]++
			}
		}
		isPerson[c] = label != 0 || len(cl) >= e.opt.MinSize
		if label != 0 {
			newID[c] = label
			used[label] = true
			continue
		}
		if !isPerson[c] {
			continue
		}
		for p, n := range overlap {
			cands = append(cands, cand{c, p, n})
		}
	}
	sort.Slice(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if a.n != b.n {
			return a.n > b.n
		}
		an, bn := e.names[a.old] != "", e.names[b.old] != ""
		if an != bn {
			return an
		}
		if a.old != b.old {
			return a.old < b.old
		}
		return a.c < b.c
	})
	for _, cd := range cands {
		if newID[cd.c] == 0 && !used[cd.old] && e.labels[cd.old] == nil {
			newID[cd.c] = cd.old
			used[cd.old] = true
		}
	}
	changed := map[int64]bool{}
	set := func(x int32, p int64) {
		if old := e.nodes[x].person; old != p {
			if old != 0 {
				changed[old] = true
			}
			if p != 0 {
				changed[p] = true
			}
			e.setPerson(x, p)
		}
	}
	for c, cl := range clusters {
		if isPerson[c] && newID[c] == 0 {
			newID[c] = e.newPersonID()
		}
		for _, x := range cl {
			set(x, newID[c])
		}
	}
	for _, x := range reg {
		if !inCluster[x] {
			set(x, 0)
		}
	}
	var ch Changes
	for p := range changed {
		ch.Persons = append(ch.Persons, p)
	}
	sort.Slice(ch.Persons, func(i, j int) bool { return ch.Persons[i] < ch.Persons[j] })
	return ch
}

func (e *Engine) newPersonID() int64 {
	for {
		id := e.nextID
		e.nextID++
		if _, ok := e.labels[id]; !ok && e.names[id] == "" {
			return id
		}
	}
}

// SetNextPersonID makes new persons get ids from id on (the index restores
// it after a restart so ids are never reused).
func (e *Engine) SetNextPersonID(id int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.nextID = max(e.nextID, id)
}

// Recluster re-clusters every face from scratch (the result is the same as
// the incremental one; use it after changing options) keeping person ids by
// overlap.
func (e *Engine) Recluster() Changes {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.reclusterAll()
}

func (e *Engine) reclusterAll() Changes {
	// the inverted lists are re-trained on the faces held at the next scan
	e.ix = nil
	var all Changes
	for _, reg := range e.components() {
		ch := e.recluster(reg)
		all.Persons = append(all.Persons, ch.Persons...)
	}
	sort.Slice(all.Persons, func(i, j int) bool { return all.Persons[i] < all.Persons[j] })
	return all
}

// components returns the regions of all live faces: the connected
// components of the links either end keeps and of the must-links, each in
// face id order, ordered by their first node. (Region's walk follows the
// links a face keeps; a link only its other end keeps is seen here.)
func (e *Engine) components() [][]int32 {
	parent := make([]int32, len(e.nodes))
	for i := range parent {
		parent[i] = int32(i)
	}
	find := func(x int32) int32 {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	union := func(a, b int32) {
		if a, b = find(a), find(b); a != b {
			parent[max(a, b)] = min(a, b)
		}
	}
	for i := range e.nodes {
		if e.nodes[i].deleted {
			continue
		}
		for _, ed := range e.nodes[i].adj {
			if !e.nodes[ed.to].deleted {
				union(int32(i), ed.to)
			}
		}
	}
	for _, fs := range e.labels {
		for _, y := range fs[1:] {
			union(fs[0], y)
		}
	}
	at := map[int32]int{}
	var out [][]int32
	for i := range e.nodes {
		if e.nodes[i].deleted {
			continue
		}
		r := find(int32(i))
		k, ok := at[r]
		if !ok {
			k = len(out)
			at[r] = k
			out = append(out, nil)
		}
		out[k] = append(out[k], int32(i))
	}
	for _, reg := range out {
		sort.Slice(reg, func(i, j int) bool { return e.nodes[reg[i]].id < e.nodes[reg[j]].id })
	}
	return out
}

// SetOptions changes the options and re-links and re-clusters everything,
// keeping person ids by overlap.
func (e *Engine) SetOptions(opt Options) Changes {
	e.mu.Lock()
	defer e.mu.Unlock()
	if opt.MinSize <= 0 {
		opt.MinSize = 2
	}
	e.opt = opt
	for i := range e.nodes {
		e.nodes[i].adj, e.nodes[i].nb = nil, 0
	}
	for i := range e.nodes {
		if !e.nodes[i].deleted {
			e.link(int32(i), int32(i))
		}
	}
	return e.reclusterAll()
}

// PersonOf returns the person of a face (0 for a candidate).
func (e *Engine) PersonOf(face int64) (int64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, ok := e.byID[face]
	if !ok {
		return 0, fmt.Errorf("%w: %d", ErrUnknownFace, face)
	}
	return e.nodes[p].person, nil
}

// Persons returns every person, ordered by size descending, then id.
func (e *Engine) Persons() []Person {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := map[int64]*Person{}
	for i := range e.nodes {
		n := &e.nodes[i]
		if n.deleted || n.person == 0 {
			continue
		}
		p := m[n.person]
		if p == nil {
			p = &Person{ID: n.person, Name: e.names[n.person]}
			m[n.person] = p
		}
		p.Faces = append(p.Faces, n.id)
	}
	out := make([]Person, 0, len(m))
	for _, p := range m {
		sort.Slice(p.Faces, func(i, j int) bool { return p.Faces[i] < p.Faces[j] })
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool {
		if len(out[i].Faces) != len(out[j].Faces) {
			return len(out[i].Faces) > len(out[j].Faces)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

func (e *Engine) members(person int64) []int32 {
	var out []int32
	for x := range e.pm[person] {
		out = append(out, x)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func (e *Engine) hasPerson(person int64) bool {
	if _, ok := e.labels[person]; ok {
		return true
	}
	return len(e.pm[person]) > 0
}

// Name names a person (the name survives re-clustering, merges and splits:
// it stays with the person id). An empty name clears it.
func (e *Engine) Name(person int64, name string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.hasPerson(person) {
		return fmt.Errorf("%w: %d", ErrUnknownPerson, person)
	}
	if name == "" {
		delete(e.names, person)
	} else {
		e.names[person] = name
	}
	return nil
}

// setLabel makes face x a user-assigned face of person (0 clears).
func (e *Engine) setLabel(x int32, person int64) {
	n := &e.nodes[x]
	if n.label == person {
		return
	}
	if n.label != 0 {
		e.labels[n.label] = dropIdx(e.labels[n.label], x)
		if len(e.labels[n.label]) == 0 {
			delete(e.labels, n.label)
		}
	}
	n.label = person
	if person != 0 {
		e.labels[person] = append(e.labels[person], x)
	}
}

// Assign records that the user put face into person (a must-link with the
// person's other assigned faces and a cannot-link with every other assigned
// person). person 0 creates a new person. It returns the person id.
func (e *Engine) Assign(face, person int64) (int64, Changes, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.byID[face]
	if !ok {
		return 0, Changes{}, fmt.Errorf("%w: %d", ErrUnknownFace, face)
	}
	if person == 0 {
		person = e.newPersonID()
	} else if !e.hasPerson(person) {
		return 0, Changes{}, fmt.Errorf("%w: %d", ErrUnknownPerson, person)
	}
	seeds := []int32{x}
	if old := e.nodes[x].label; old != 0 {
		seeds = append(seeds, e.labels[old]...)
	}
	// pin the person's current faces so the assignment cannot pull the
	// person apart
	for _, m := range e.members(person) {
		if e.nodes[m].label == 0 {
			e.setLabel(m, person)
		}
	}
	e.setLabel(x, person)
	seeds = append(seeds, e.labels[person]...)
	ch := e.recluster(e.region(seeds))
	return person, ch, nil
}

// Merge makes one person of a and b: all their faces become user-assigned
// faces of a (b's name is kept only if a has none). It returns a.
func (e *Engine) Merge(a, b int64) (Changes, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.hasPerson(a) {
		return Changes{}, fmt.Errorf("%w: %d", ErrUnknownPerson, a)
	}
	if !e.hasPerson(b) {
		return Changes{}, fmt.Errorf("%w: %d", ErrUnknownPerson, b)
	}
	if a == b {
		return Changes{}, nil
	}
	var seeds []int32
	for _, p := range []int64{a, b} {
		ms := e.members(p)
		ms = append(ms, e.labels[p]...)
		for _, m := range ms {
			e.setLabel(m, a)
		}
		seeds = append(seeds, ms...)
	}
	if e.names[a] == "" && e.names[b] != "" {
		e.names[a] = e.names[b]
	}
	delete(e.names, b)
	ch := e.recluster(e.region(seeds))
	ch.Persons = addUnique(ch.Persons, b)
	return ch, nil
}

// Split moves faces out of person into a new person and returns its id.
// Both parts become user-assigned, so they never merge again unless the user
// merges them; the name stays with the original person.
func (e *Engine) Split(person int64, faces []int64) (int64, Changes, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.hasPerson(person) {
		return 0, Changes{}, fmt.Errorf("%w: %d", ErrUnknownPerson, person)
	}
	move := map[int32]bool{}
	for _, f := range faces {
		x, ok := e.byID[f]
		if !ok {
			return 0, Changes{}, fmt.Errorf("%w: %d", ErrUnknownFace, f)
		}
		move[x] = true
	}
	np := e.newPersonID()
	rest := append(e.members(person), e.labels[person]...)
	var seeds []int32
	for _, m := range rest {
		if !move[m] {
			e.setLabel(m, person)
		}
		seeds = append(seeds, m)
	}
	for x := range move {
		e.setLabel(x, np)
		seeds = append(seeds, x)
	}
	ch := e.recluster(e.region(seeds))
	return np, ch, nil
}

// NotPerson records "this face is not person": cannot-links between the face
// and every current face of the person; a user assignment of the face to
// that person is dropped.
func (e *Engine) NotPerson(face, person int64) (Changes, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.byID[face]
	if !ok {
		return Changes{}, fmt.Errorf("%w: %d", ErrUnknownFace, face)
	}
	if !e.hasPerson(person) {
		return Changes{}, fmt.Errorf("%w: %d", ErrUnknownPerson, person)
	}
	if e.nodes[x].label == person {
		e.setLabel(x, 0)
	}
	seeds := []int32{x}
	ms := append(e.members(person), e.labels[person]...)
	for _, m := range ms {
		if m != x {
			e.cannotLink(x, m)
			seeds = append(seeds, m)
		}
	}
	return e.recluster(e.region(seeds)), nil
}

// CannotLink records that faces a and b are never the same person.
func (e *Engine) CannotLink(a, b int64) (Changes, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.byID[a]
	if !ok {
		return Changes{}, fmt.Errorf("%w: %d", ErrUnknownFace, a)
	}
	y, ok := e.byID[b]
	if !ok {
		return Changes{}, fmt.Errorf("%w: %d", ErrUnknownFace, b)
	}
	e.cannotLink(x, y)
	return e.recluster(e.region([]int32{x, y})), nil
}

func (e *Engine) cannotLink(x, y int32) {
	for _, c := range e.nodes[x].cannot {
		if c == y {
			return
		}
	}
	e.nodes[x].cannot = append(e.nodes[x].cannot, y)
	e.nodes[y].cannot = append(e.nodes[y].cannot, x)
}

// Batch clusters items with the Engine's method in one pass and returns the
// clusters that are persons as index lists into items, largest first.
func Batch(items []Item, opt Options) ([][]int, error) {
	opt.MaxRegion = 0
	e := NewEngine(opt)
	if _, err := e.AddBatch(items); err != nil {
		return nil, err
	}
	idx := make(map[int64]int, len(items))
	for i, it := range items {
		idx[it.ID] = i
	}
	var out [][]int
	for _, p := range e.Persons() {
		g := make([]int, len(p.Faces))
		for k, f := range p.Faces {
			g[k] = idx[f]
		}
		sort.Ints(g)
		out = append(out, g)
	}
	return out, nil
}
