package cluster

import (
	"cmp"
	"math"
	"runtime"
	"slices"
	"sync"

	"gonum.org/v1/gonum/blas/blas32"
)

// Index values for Options.Index.
const (
	// IndexAuto (the default) is IndexExact until the Engine holds
	// AutoIndexMin faces and IndexIVF from there.
	IndexAuto = ""
	// IndexExact compares a new face with every face held: the links, and
	// so the clustering, are exact.
	IndexExact = "exact"
	// IndexIVF compares a new face only with the faces of the inverted
	// lists whose centroids lie nearest to it (see ivf). Links found are
	// exact distances, but a link to a face in a list not probed is missed,
	// so the clustering may differ slightly from Batch's exact one.
	IndexIVF = "ivf"
)

// The inverted-file index partitions the faces by k-means on the first
// ivfDims coordinates of their PCA sketches (so it exists only where the
// sketches do: features longer than 2·SketchDims, from sketchAfter faces).
// A query ranks the centroids by distance to its own sketch and scans the
// nearest lists (Options.Probe of them, or as many as hold ProbeShare of
// the faces). Each list keeps its faces' binary codes (code.go), residual
// norms and sketches contiguously, in list order, so a probe streams
// through memory: a member is skipped when its code differs from the
// query's in more bits than any link allows, then when the sketch bound
// rules the link out, then when its code differs in more bits than the
// residual distance left by the sketch distance allows; the few left are
// compared in full (float32 distance), so every link the scan reports is a
// true link. What it may miss is a true link to a face in a
// list not scanned (or, with a probability below 1e-9, one the code filter
// skipped). The lists are trained on the faces held once ivfFrom of them
// are sketched, re-trained whenever that number doubles and after
// Recluster, deterministically (the same faces in the same order give the
// same lists).

// ivfDims is the number of sketch coordinates the coarse centroids use.
var ivfDims = 32

// ivfMin is the number of sketched faces from which the index is trained;
// below it every scan is exact.
var ivfMin = 4096

// AutoIndexMin is the number of faces from which IndexAuto uses the
// inverted lists. Below it the exact scan costs under about 10 ms per new
// face (0.19 µs per face held, measured at 1 000 000), so there is nothing
// to gain from an approximation.
var AutoIndexMin = 50_000

// DefaultProbeShare is the share of the inverted lists a scan covers when
// Options.Probe is 0: the lists nearest to the new face.
//
// Measured (2 shared cores, under contention), link recall against the
// exact scan: on 1 000 000 faces of the Add benchmarks (benchWorld, 1 000
// lists, 200 new faces) scanning 25/33/40/50/100 % of the lists finds
// 0.9992/0.9998/0.9998/1/1 of the links (all links there are same-person
// links) for 3.6/4.7/5.8/7.0/12.5 ms CPU per scan (exact: 165-176 ms); on
// 100 000 library-like faces (lfwWorld, 316 lists) a third of the lists
// finds 0.998 of the links and every same-person link for 5.0 ms CPU, all
// lists every link for 9.3 ms (exact: 21 ms). On the LFW dev set (781 real
// faces, --index-min 200, 20 lists) 4 lists keep 0.980 of the links and
// persons at BCubed F1 0.996 against the exact scan's, 7 keep 0.999 and the
// exact persons, all lists every link. A share of the faces instead of the
// lists does worse there: the lists nearest to a face are the large ones,
// so a third of the faces is only about 4 lists.
const DefaultProbeShare = 1.0 / 2

// LinkCount returns the number of links (face pairs within Eps) held. With
// IndexIVF it is at most the exact scan's count, and the ratio of the two is
// the index's link recall (every link the index finds is a true link).
func (e *Engine) LinkCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for i := range e.nodes {
		n += int(e.nodes[i].nb)
	}
	return n / 2
}

// ivfOn reports whether the options use the inverted lists (from ivfFrom
// faces on).
func (e *Engine) ivfOn() bool { return e.opt.Index == IndexIVF || e.opt.Index == IndexAuto }

// ivfFrom is the number of sketched faces from which the index is trained.
func (e *Engine) ivfFrom() int {
	switch {
	case e.opt.IndexMin > 0:
		return e.opt.IndexMin
	case e.opt.Index == IndexIVF:
		return ivfMin
	}
	return AutoIndexMin
}

// sketchFrom is the number of faces from which sketches are learnt:
// sketchAfter, or an ivf index's smaller IndexMin.
func (e *Engine) sketchFrom() int {
	if e.ivfOn() && e.opt.IndexMin > 0 {
		return min(sketchAfter, e.opt.IndexMin)
	}
	return sketchAfter
}

// IndexLists returns the number of inverted lists the link scan uses (0:
// the scans are exact).
func (e *Engine) IndexLists() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ix == nil {
		return 0
	}
	return e.ix.nlist
}

type ivfIndex struct {
	sk    *sketcher // the sketch the centroids live in
	nlist int
	cent  []float32 // nlist × ivfDims
	cnorm []float32
	lists [][]int32
	// the binary codes, sketches and squared sketch norms of each list's
	// faces, in list order, so that a probe streams through memory
	// lcode[0] holds each member's words of the first two code tiers (see
	// codeTiers), lcode[1] the others: most members are ruled out by the
	// first words alone
	lcode [2][][]uint64
	lrn   [][]float32 // residual norms
	// the sketches are read from the Engine (a copy in list order would
	// cost 4·SketchDims bytes per face; only the few members whose codes
	// pass are read)
	upto      int // nodes [0, upto) are in the lists
	trainedAt int
	// the code and residual norm of the node pushed last (the new face of
	// an Add)
	last     int32
	lastCode []uint64
	lastNorm float32
}

// ivfLists is the number of lists for n faces: Options.Lists or √n.
func (e *Engine) ivfLists(n int) int {
	if e.opt.Lists > 0 {
		return min(e.opt.Lists, n)
	}
	return max(1, int(math.Sqrt(float64(n))))
}

// ivfUpdate trains or extends the index so that every sketched face is in a
// list. It returns nil when the index is off or not yet trained.
func (e *Engine) ivfUpdate() *ivfIndex {
	if !e.ivfOn() || e.sk == nil {
		e.ix = nil
		return nil
	}
	n := len(e.sketch) / e.sk.k
	ix := e.ix
	if ix != nil && ix.sk != e.sk {
		ix = nil
	}
	if ix == nil && n < e.ivfFrom() {
		e.ix = nil
		return nil
	}
	if e.cd == nil || e.cd.dim != e.dim {
		e.cd = newCoder(e.dim)
	}
	if ix == nil || n >= 2*ix.trainedAt {
		ix = e.ivfTrain(n, ix)
		e.ix = ix
	}
	for ; ix.upto < n; ix.upto++ {
		i := int32(ix.upto)
		ix.last = i
		ix.lastNorm = e.codeOf(i, e.cbuf(), ix.lastCode)
		ix.push(e, ix.nearest(e.coarse(i)), i, ix.lastCode, ix.lastNorm)
	}
	return ix
}

// cbuf returns the Engine's scratch space for one code computation.
func (e *Engine) cbuf() []float32 {
	if len(e.codeBuf) != e.dim+e.cd.pad {
		e.codeBuf = make([]float32, e.dim+e.cd.pad)
	}
	return e.codeBuf
}

// codeOf writes the binary code of node i's residual (its features less
// their projection on the sketch directions) to dst and returns the
// residual's norm; buf is scratch space of dim+cd.pad floats.
func (e *Engine) codeOf(i int32, buf []float32, dst []uint64) float32 {
	r := e.decode(i, buf)
	k := e.sk.k
	for j, sj := range e.sketch[int(i)*k : int(i+1)*k] {
		blas32.Axpy(-sj, blas32.Vector{N: e.dim, Inc: 1, Data: e.sk.basis[j*e.dim : (j+1)*e.dim]}, blas32.Vector{N: e.dim, Inc: 1, Data: r})
	}
	e.cd.code(r, buf[e.dim:], dst)
	return float32(math.Sqrt(float64(dot32(r, r))))
}

// queryCode returns node p's binary code and residual norm.
func (e *Engine) queryCode(ix *ivfIndex, p int32) ([]uint64, float32) {
	if p == ix.last {
		return ix.lastCode, ix.lastNorm
	}
	out := make([]uint64, e.cd.words)
	rn := e.codeOf(p, e.cbuf(), out)
	return out, rn
}

// coarse returns the coarse coordinates of node i.
func (e *Engine) coarse(i int32) []float32 {
	k := e.sk.k
	return e.sketch[int(i)*k : int(i)*k+ivfDims]
}

// nearest returns the list whose centroid is nearest to x (ties: lower
// list).
func (ix *ivfIndex) nearest(x []float32) int {
	best, bd := 0, float32(math.Inf(1))
	for c := 0; c < ix.nlist; c++ {
		d := ix.cnorm[c] - 2*dot32(x, ix.cent[c*ivfDims:(c+1)*ivfDims])
		if d < bd {
			best, bd = c, d
		}
	}
	return best
}

// ivfTrain runs k-means (Lloyd, 10 rounds) on a strided sample of the first
// n sketched faces and assigns all of them to lists. The binary codes of the
// faces in old (the index it replaces, or nil) are copied, the others
// computed.
func (e *Engine) ivfTrain(n int, old *ivfIndex) *ivfIndex {
	nl := e.ivfLists(n)
	ix := &ivfIndex{sk: e.sk, nlist: nl, cent: make([]float32, nl*ivfDims), cnorm: make([]float32, nl), lists: make([][]int32, nl),
		lcode: [2][][]uint64{make([][]uint64, nl), make([][]uint64, nl)}, lrn: make([][]float32, nl), trainedAt: n,
		last: -1, lastCode: make([]uint64, e.cd.words)}
	// sample at most 40 faces per list, evenly spread over arrival order
	step := max(1, n/(40*nl))
	var sample []int32
	for i := 0; i < n; i += step {
		sample = append(sample, int32(i))
	}
	// initial centroids: faces spread evenly over the sample
	for c := 0; c < nl; c++ {
		copy(ix.cent[c*ivfDims:], e.coarse(sample[c*len(sample)/nl]))
	}
	assign := make([]int32, len(sample))
	sum := make([]float64, nl*ivfDims)
	cnt := make([]int, nl)
	for round := 0; round < 10; round++ {
		ix.norms()
		e.parallel(len(sample), func(lo, hi int) {
			for s := lo; s < hi; s++ {
				assign[s] = int32(ix.nearest(e.coarse(sample[s])))
			}
		})
		clear(sum)
		clear(cnt)
		for s, c := range assign {
			cnt[c]++
			for d, x := range e.coarse(sample[s]) {
				sum[int(c)*ivfDims+d] += float64(x)
			}
		}
		for c := 0; c < nl; c++ {
			if cnt[c] == 0 {
				continue // an empty list keeps its centroid
			}
			for d := 0; d < ivfDims; d++ {
				ix.cent[c*ivfDims+d] = float32(sum[c*ivfDims+d] / float64(cnt[c]))
			}
		}
	}
	ix.norms()
	w := e.cd.words
	codes := make([]uint64, n*w)
	rnorm := make([]float32, n)
	have := make([]bool, n)
	if old != nil && old.sk == e.sk && old.lrn != nil {
		for c, l := range old.lists {
			for m, j := range l {
				if int(j) < n {
					old.code(c, m, w, codes[int(j)*w:int(j+1)*w])
					rnorm[j] = old.lrn[c][m]
					have[j] = true
				}
			}
		}
	}
	all := make([]int32, n)
	e.parallel(n, func(lo, hi int) {
		buf := make([]float32, e.dim+e.cd.pad)
		for i := lo; i < hi; i++ {
			all[i] = int32(ix.nearest(e.coarse(int32(i))))
			if !have[i] {
				rnorm[i] = e.codeOf(int32(i), buf, codes[i*w:(i+1)*w])
			}
		}
	})
	for i, c := range all {
		ix.push(e, int(c), int32(i), codes[i*w:(i+1)*w], rnorm[i])
	}
	ix.upto = n
	return ix
}

// push appends node i with the binary code and norm of its residual to
// list c.
func (ix *ivfIndex) push(e *Engine, c int, i int32, code []uint64, rn float32) {
	ix.lists[c] = append(ix.lists[c], i)
	b := codeTiers(len(code))[1][1]
	ix.lcode[0][c] = append(ix.lcode[0][c], code[:b]...)
	ix.lcode[1][c] = append(ix.lcode[1][c], code[b:]...)
	ix.lrn[c] = append(ix.lrn[c], rn)
}

// codeTiers returns the word ranges of the three code tiers of w words:
// the first 4 words (256 bits), the next 4, the rest. A scan tests a member
// tier by tier, each time against the limit for the bits seen so far.
func codeTiers(w int) [3][2]int {
	a, b := min(4, w), min(8, w)
	return [3][2]int{{0, a}, {a, b}, {b, w}}
}

// code copies the code (w words) of member m of list c to dst: the first two
// tiers (one cache line of 64 bytes) in lcode[0], the rest in lcode[1].
func (ix *ivfIndex) code(c, m, w int, dst []uint64) {
	b := codeTiers(w)[1][1]
	copy(dst[:b], ix.lcode[0][c][m*b:(m+1)*b])
	copy(dst[b:], ix.lcode[1][c][m*(w-b):(m+1)*(w-b)])
}

func (ix *ivfIndex) norms() {
	for c := 0; c < ix.nlist; c++ {
		row := ix.cent[c*ivfDims : (c+1)*ivfDims]
		ix.cnorm[c] = dot32(row, row)
	}
}

// parallel runs f over [0, n) split among the CPUs.
func (e *Engine) parallel(n int, f func(lo, hi int)) {
	w := runtime.GOMAXPROCS(0)
	if n < 4096 || w == 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	for k := 0; k < w; k++ {
		lo, hi := k*n/w, (k+1)*n/w
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(lo, hi)
		}()
	}
	wg.Wait()
}

// probeLists returns the probe lists whose centroids are nearest to q,
// nearest first (ties: lower list); probe 0 means that share of the lists.
func (ix *ivfIndex) probeLists(q []float32, probe int, share float64) []int {
	type cd struct {
		c int
		d float32
	}
	cs := make([]cd, ix.nlist)
	for c := range cs {
		cs[c] = cd{c, ix.cnorm[c] - 2*dot32(q, ix.cent[c*ivfDims:(c+1)*ivfDims])}
	}
	slices.SortFunc(cs, func(a, b cd) int {
		if a.d != b.d {
			return cmp.Compare(a.d, b.d)
		}
		return a.c - b.c
	})
	if probe <= 0 {
		probe = int(math.Ceil(share * float64(len(cs))))
	}
	out := make([]int, min(max(probe, 1), len(cs)))
	for i := range out {
		out[i] = cs[i].c
	}
	return out
}

// ivfParallel is the number of list members from which a probe is split
// over two goroutines; ivfParallelCheck the number of candidates from which
// their full distances are.
var ivfParallel, ivfParallelCheck = 16384, 512

// ivfScan returns the links of p to the live nodes before upto found in
// the lists nearest to p, in ascending node order. A list member is tested
// with its binary code first (see code.go), then with the sketch bound,
// then with its code against the pair's own limit, then with the full
// distance.
func (e *Engine) ivfScan(ix *ivfIndex, p, upto int32) []edge {
	share := e.opt.ProbeShare
	if share <= 0 {
		share = DefaultProbeShare
	}
	lists := ix.probeLists(e.coarse(p), max(e.opt.Probe, 0), share)
	sc := e.scanner(p)
	k, w := sc.k, e.cd.words
	qc, qrn := e.queryCode(ix, p)
	// a link bounds the residual distance by Eps, and by √(Eps² − sketch
	// distance²) once that is known; the margin covers float32 rounding of
	// the sketches and of the basis' orthogonality
	budget := sc.skip + 2e-3
	tab := &e.cd.byCos
	tiers := codeTiers(w)
	n0, n1, n2 := tiers[0][1], tiers[1][1]-tiers[1][0], tiers[2][1]-tiers[2][0]
	n01 := n0 + n1
	q0, q1, q2 := qc[:n0], qc[tiers[1][0]:tiers[1][1]], qc[tiers[2][0]:]
	scanLists := func(part []int, cand []int32) []int32 {
		for _, c := range part {
			c01, c2 := ix.lcode[0][c], ix.lcode[1][c]
			rows, norms, rns := e.sketch, e.sknorm, ix.lrn[c]
			for m, j := range ix.lists[c] {
				if j >= upto || j == p {
					continue
				}
				// the code tiers against the limits any link keeps
				b := pairBucket(qrn, rns[m], budget)
				h := hamming(q0, c01[m*n01:])
				if h > int(tab[0][b]) {
					continue
				}
				if n1 > 0 {
					h += hamming(q1, c01[m*n01+n0:])
					if h > int(tab[1][b]) {
						continue
					}
				}
				if n2 > 0 {
					h += hamming(q2, c2[m*n2:])
					if h > int(tab[2][b]) {
						continue
					}
				}
				ds := sc.qn + norms[j] - 2*dot32(sc.qs, rows[int(j)*k:int(j+1)*k])
				if ds > sc.skip {
					continue
				}
				// the whole code against the residual distance left
				if h > int(tab[2][pairBucket(qrn, rns[m], budget-ds)]) {
					continue
				}
				cand = append(cand, j)
			}
		}
		return cand
	}
	size := 0
	for _, c := range lists {
		size += len(ix.lists[c])
	}
	var cand []int32
	if size < ivfParallel || runtime.GOMAXPROCS(0) == 1 {
		cand = scanLists(lists, nil)
	} else {
		// two halves of about equal size; the candidates are sorted below,
		// so the split does not change the result
		half, acc := len(lists), 0
		for i, c := range lists {
			if acc >= size/2 {
				half = i
				break
			}
			acc += len(ix.lists[c])
		}
		var other []int32
		done := make(chan struct{})
		go func() {
			other = scanLists(lists[half:], nil)
			close(done)
		}()
		cand = scanLists(lists[:half], nil)
		<-done
		cand = append(cand, other...)
	}
	slices.Sort(cand)
	var out []edge
	if len(cand) < ivfParallelCheck || runtime.GOMAXPROCS(0) == 1 {
		for _, j := range cand {
			out = sc.testFull(j, out)
		}
	} else {
		var tail []edge
		done := make(chan struct{})
		go func() {
			tsc := e.scanner(p)
			for _, j := range cand[len(cand)/2:] {
				tail = tsc.testFull(j, tail)
			}
			close(done)
		}()
		for _, j := range cand[:len(cand)/2] {
			out = sc.testFull(j, out)
		}
		<-done
		out = append(out, tail...)
	}
	// nodes not in the lists yet (sketched later than the index was last
	// extended) are scanned exactly
	if lo := int32(ix.upto); lo < upto {
		out = e.scan(p, lo, upto, out)
	}
	return out
}
