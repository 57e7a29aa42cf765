package cluster

import (
	"math"
	"sort"
)

// Linking across ages. A face changes with age, children's fastest: on
// FG-NET (the seed's features) two photos of one child a year apart lie a
// median 0.85 apart, ten years apart 1.0, well beyond the 0.82 that keeps
// adults apart; adults' photos ten years apart still lie within 0.80.
// Other people's faces drift apart with the same age gap (the features
// carry age), so a radius that widens with the facial change expected
// between two faces keeps the share of strangers it admits about
// constant. What the engine knows of that change is each face's capture
// date and apparent age: under the hypothesis "same person", the date gap
// fixes the age gap, and both apparent ages (weighted by how reliable
// apparent age is at that age) estimate the age at the earlier date. The
// hypothesis itself is checked: the two faces' birth-year estimates
// (date − apparent age) must agree within what apparent-age noise allows,
// and the widening fades as they disagree. Siblings photographed at one
// age in different years, or parent and child, disagree by years and keep
// the plain radius.
//
// The pair's radius only ever widens by at most AgeLinkMax, and only for
// faces whose dates and ages are known; same-photo cannot-links and the
// user's decisions are applied by the clustering afterwards and stay
// absolute.

// AgeLinkMax caps the widening of the link radius (features L2).
const AgeLinkMax = 0.14

// ageCalib maps the seed network's apparent age to the mean true age and
// its standard deviation among faces of that apparent age: measured on
// UTKFace's training chips (../shared/testdata/utkface_train, 6 450 chips,
// seed int8 heads), binned by apparent age, the means made monotone (pool
// adjacent violators). Apparent age is reliable for small children (±1-3
// years) and not for teenagers and adults (±5-11 years; the network makes
// 16-30-year-olds about 5 years older). Not fitted on FG-NET. Reproduce
// with `faced-lab eval heads ../shared/testdata/utkface_train --calib`
// (FitAgeCalib; the same means and spreads, the apparent ages here rounded
// to the bins' centres).
//
// The table belongs to the seed's heads. Trained heads (config Heads) are
// calibrated on their own (on UTKFace dev their apparent age is about the
// true age, `eval heads ../shared/testdata/utkface --heads NAME --calib`),
// so with them this table is off by the seed's bias; see BENCHMARKS.md
// ("Persons across a lifetime") for what that does on FG-NET.
var ageCalib = [][3]float64{ // apparent, mean true, sd
	{1, 1.6, 1.0}, {3, 2.9, 2.2}, {5, 4.9, 3.0}, {7, 8.2, 3.6}, {9, 10.8, 3.6}, {13, 14.4, 6.0},
	{18, 16.5, 5.3}, {21, 18.3, 5.2}, {23.5, 19.9, 6.5}, {26.5, 22.4, 5.4}, {29.5, 24.5, 5.9},
	{33, 28.7, 8.5}, {37.5, 35.7, 10.8}, {42.5, 43.4, 10.4}, {47.5, 44.5, 11}, {52.5, 50.6, 9.5},
	{57.5, 53.7, 9.8}, {65, 57.3, 10.3}, {85, 68.8, 11},
}

// calib interpolates ageCalib at apparent age a: the expected true age
// and its standard deviation.
func calib(a float64) (age, sigma float64) {
	c := ageCalib
	if a <= c[0][0] {
		return max(a*c[0][1]/c[0][0], 0), c[0][2]
	}
	for i := 1; i < len(c); i++ {
		if a <= c[i][0] {
			f := (a - c[i-1][0]) / (c[i][0] - c[i-1][0])
			return c[i-1][1] + f*(c[i][1]-c[i-1][1]), c[i-1][2] + f*(c[i][2]-c[i-1][2])
		}
	}
	l := c[len(c)-1]
	return l[1] + (a - l[0]), l[2]
}

// ageSigma is the standard deviation of the true age at apparent age a.
func ageSigma(a float64) float64 { _, s := calib(a); return s }

// CalibratedAge is the expected true age of a face of apparent age a (the
// seed network's, see ageCalib).
func CalibratedAge(a float64) float64 { c, _ := calib(a); return c }

// growthTau is the time constant (years) of facial growth: most of the
// change of a face's shape happens before adolescence ends.
const growthTau = 6.0

// adultDrift is the slow change of an adult face per year, on the same
// scale as growth (growth totals 1).
const adultDrift = 0.004

// development maps an age to how far a face has developed (0 at birth,
// about 1 at 20, then slowly more).
func development(a float64) float64 {
	a = max(a, 0)
	return 1 - math.Exp(-a/growthTau) + adultDrift*a
}

// ageLinkWiden returns how much the link radius widens for two faces of
// apparent ages a1, a2 captured at t1, t2 (decimal years); 0 when a date or
// an age is unknown. It is symmetric in its two faces bit for bit, so links
// do not depend on arrival order.
func ageLinkWiden(k, a1, t1, a2, t2 float64) float64 {
	if k <= 0 || a1 <= 0 || a2 <= 0 || t1 <= 0 || t2 <= 0 {
		return 0
	}
	// a canonical order (earlier date first, then younger): the same
	// arithmetic whichever face is first
	if t2 < t1 || (t2 == t1 && a2 < a1) {
		a1, t1, a2, t2 = a2, t2, a1, t1
	}
	gap := t2 - t1
	a1, s1 := calib(a1)
	a2, s2 := calib(a2)
	w1, w2 := 1/(s1*s1), 1/(s2*s2)
	// the age at the earlier date if both faces are one person
	young := max((w1*a1+w2*(a2-gap))/(w1+w2), 0)
	change := development(young+gap) - development(young)
	// birth years (date − apparent age) disagreeing by z standard errors
	z := ((t1 - a1) - (t2 - a2)) / math.Sqrt(s1*s1+s2*s2)
	widen := min(k*change*math.Exp(-z*z/2), AgeLinkMax)
	if gap < 1 {
		// photos of one time: the birth years differ only by the
		// apparent ages, whose errors have heavy tails (LFW)
		return widen
	}
	return widen - min(ageShrink*max(math.Abs(z)-ageShrinkFrom, 0), ageShrinkMax)
}

// Birth years that disagree by more than ageShrinkFrom standard errors
// narrow the radius by ageShrink per standard error, at most ageShrinkMax:
// a baby photographed in 1990 and one photographed in 2000 are two babies.
const ageShrink, ageShrinkFrom, ageShrinkMax = 0.1, 2.0, 0.3

// Linking clusters across ages. Two clusters of one person photographed
// years apart share few links (a face links to the faces of nearby ages),
// too few for the Link share that keeps strangers apart. They are
// compared where they meet in time instead: the mean features of each
// cluster's faces nearest in date to the other cluster (per-age
// centroids: averaging a few photos of one age removes the noise of
// single photos) must lie within the pair radius of those ages, and the
// clusters' birth years (each a reliability-weighted mean over its faces)
// must agree. Only clusters joined by at least one link are compared, so
// re-clustering a linked region stays exact.

// bridgeFaces is the number of faces per side averaged into a per-age
// centroid.
const bridgeFaces = 3

// centroidEps is the radius of two per-age centroids of one person (before
// widening for the ages involved).
const centroidEps = 0.70

// groupBirthZ is how far (standard errors) two clusters' birth years may
// disagree and still be one person.
const groupBirthZ = 2.0

// centroidMinAge is the youngest age (at the earlier cluster's bridge)
// from which per-age centroids are compared: averaged faces of small
// children all come close to one mean child face (on FG-NET, centroids of
// two different toddlers lie 0.57-0.68 apart, like those of one adult ten
// years apart), so children's clusters join only through links.
const centroidMinAge = 12.0

// minBridgeChange is the facial change (development units) below which two
// clusters are not "across ages" and the plain rules alone decide.
const minBridgeChange = 0.02

// birthPersonSigma is the part of apparent-age error shared by all photos
// of one person (someone who looks older looks older in every photo), so
// averaging photos never makes a birth year more precise than this.
const birthPersonSigma = 2.0

// mergeAcrossAges unites clusters of one person at different ages (see
// above), in ascending order of their closest link.
func (e *Engine) mergeAcrossAges(reg []int32, ladj [][]edge, groups []*group, find func(int32) int32,
	union func(a, b int32) int32, conflict func(a, b int32) bool) {
	type cand struct {
		a, b int32
		d    float32
	}
	var cands []cand
	for k := range reg {
		for _, ed := range ladj[k] {
			if int32(k) < ed.to && find(int32(k)) != find(ed.to) {
				cands = append(cands, cand{int32(k), ed.to, ed.d})
			}
		}
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].d != cands[j].d {
			return cands[i].d < cands[j].d
		}
		if cands[i].a != cands[j].a {
			return cands[i].a < cands[j].a
		}
		return cands[i].b < cands[j].b
	})
	type key struct{ a, b, na, nb int32 }
	tried := map[key]bool{}
	for _, c := range cands {
		a, b := find(c.a), find(c.b)
		if a == b {
			continue
		}
		if a > b {
			a, b = b, a
		}
		k := key{a, b, int32(len(groups[a].members)), int32(len(groups[b].members))}
		if tried[k] {
			continue
		}
		tried[k] = true
		if conflict(a, b) || !e.sameAcrossAges(reg, groups[a].members, groups[b].members) {
			continue
		}
		union(a, b)
	}
}

// sameAcrossAges tells whether clusters A and B (positions in reg) are one
// person at different ages.
func (e *Engine) sameAcrossAges(reg []int32, A, B []int32) bool {
	if !e.birthsAgree(reg, A, B) {
		return false
	}
	ca, aa, ta := e.bridge(reg, A, B)
	cb, ab, tb := e.bridge(reg, B, A)
	young := min(aa, ab)
	gap := math.Abs(ta - tb)
	// the birth years agree: the widening follows the ages alone
	change := development(young+gap) - development(young)
	if change < minBridgeChange || young < centroidMinAge {
		return false
	}
	r := centroidEps + min(e.opt.AgeLink*change, AgeLinkMax)
	var d2 float64
	for i := range ca {
		x := float64(ca[i] - cb[i])
		d2 += x * x
	}
	return d2 <= r*r
}

// birthsAgree tells whether clusters A and B have birth years within
// groupBirthZ standard errors of each other.
func (e *Engine) birthsAgree(reg []int32, A, B []int32) bool {
	ba, sa, ok1 := e.groupBirth(reg, A)
	bb, sb, ok2 := e.groupBirth(reg, B)
	return ok1 && ok2 && math.Abs(ba-bb) <= groupBirthZ*math.Sqrt(sa*sa+sb*sb)
}

// groupBirth is a cluster's birth year: the mean of its faces' (date −
// apparent age) weighted by how reliable apparent age is at each age, and
// its standard error; false when no face has a date and an age.
func (e *Engine) groupBirth(reg []int32, m []int32) (b, sigma float64, ok bool) {
	var sw, swb float64
	for _, k := range m {
		n := &e.nodes[reg[k]]
		if n.age <= 0 || n.when <= 0 {
			continue
		}
		a, s := calib(n.age)
		w := 1 / (s * s)
		sw += w
		swb += w * (n.when - a)
	}
	if sw == 0 {
		return 0, 0, false
	}
	return swb / sw, math.Sqrt(1/sw + birthPersonSigma*birthPersonSigma), true
}

// bridge returns the mean features, mean calibrated age and mean date of the
// bridgeFaces faces of A nearest in date to B (ties by position).
func (e *Engine) bridge(reg []int32, A, B []int32) ([]float32, float64, float64) {
	type fd struct {
		k  int32
		dt float64
	}
	fs := make([]fd, 0, len(A))
	for _, k := range A {
		t := e.nodes[reg[k]].when
		best := math.Inf(1)
		for _, j := range B {
			best = min(best, math.Abs(t-e.nodes[reg[j]].when))
		}
		fs = append(fs, fd{k, best})
	}
	sort.Slice(fs, func(i, j int) bool {
		if fs[i].dt != fs[j].dt {
			return fs[i].dt < fs[j].dt
		}
		return fs[i].k < fs[j].k
	})
	n := min(bridgeFaces, len(fs))
	c := make([]float32, e.dim)
	var age, when float64
	for _, f := range fs[:n] {
		x := reg[f.k]
		for i, v := range e.vec(x) {
			c[i] += v
		}
		age += CalibratedAge(e.nodes[x].age)
		when += e.nodes[x].when
	}
	for i := range c {
		c[i] /= float32(n)
	}
	return c, age / float64(n), when / float64(n)
}

// linkWindow (years): when two clusters merge along links, the share of
// linked pairs the Link rule asks for counts only the faces of each taken
// within linkWindow of the other's dates. A face links to faces of nearby
// ages, not to the same person's faces ten years on, so a person
// photographed over years is a chain whose parts share links only where
// they meet in time. Faces without a date always count.
const linkWindow = 1.0

// nearInTime returns the sizes the Link rule uses for clusters A and B
// (positions in reg; na, nb their sizes): the members of each dated
// within linkWindow of the other's date range, when both count at least
// linkWindowMin (a person photographed densely enough to chain);
// otherwise na and nb (a link or two across years is how strangers chain).
func (e *Engine) nearInTime(reg []int32, A, B []int32, na, nb int) (int, int) {
	ma, okA := e.near(reg, A, B)
	mb, okB := e.near(reg, B, A)
	if !okA || !okB || ma < linkWindowMin || mb < linkWindowMin {
		return na, nb
	}
	return ma, mb
}

// near counts the members of A dated within linkWindow of B's dated
// range; false when either has an undated face.
func (e *Engine) near(reg []int32, A, B []int32) (int, bool) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, k := range B {
		w := e.nodes[reg[k]].when
		if w <= 0 {
			return 0, false
		}
		lo, hi = min(lo, w), max(hi, w)
	}
	n := 0
	for _, k := range A {
		w := e.nodes[reg[k]].when
		if w <= 0 {
			return 0, false
		}
		if w >= lo-linkWindow && w <= hi+linkWindow {
			n++
		}
	}
	return n, true
}

// linkWindowMin is the fewest faces of each cluster near the other's
// dates for the window to apply.
const linkWindowMin = 5

// Birth years as a cannot-link. One person has one birth year: two
// clusters photographed years apart whose birth years (date − apparent age)
// disagree by more than birthConflictZ standard errors are two people,
// however alike their faces: small children of different families look
// alike to the seed's features, and a baby photographed in 1955 and one
// photographed in 1965 are two babies. Clusters of one time (mean dates less
// than a year apart) are left to the features: their birth years differ
// only by apparent ages, whose errors have heavy tails. Only automatic
// merges are refused: faces the user put in one person start as one
// cluster before any merge, and two clusters of one user person never
// conflict.

// birthConflictZ is how far (standard errors) two clusters' birth years
// must disagree to be two people.
var birthConflictZ = 3.0

// birthConflictShared is the part of apparent-age error shared by all the
// photos of one person, as a share of its spread at their ages (someone who
// looks older looks older in every photo): half the spread, so a year for
// a baby and five for an adult. It keeps averaging over many photos from
// making a cluster's birth year look more precise than it is.
const birthConflictShared = 0.5

// birthStat is a cluster's birth-year evidence: the reliability-weighted
// sums of groupBirth, and the sum of its dates.
type birthStat struct {
	sw, swb, st float64
	n           int
}

// birthCache keeps each cluster's birthStat during one clusterRegion,
// updated as clusters grow. union appends the smaller cluster's members to
// the larger one's, so a cluster's first member names it for good and its
// members up to the size last seen are the ones already summed: each face
// is added once per cluster it ends up in the head of, as cheap as the
// union itself.
type birthCache struct {
	e   *Engine
	reg []int32
	m   map[int32]birthSum
}

// birthSum is the birthStat of a cluster's first n members.
type birthSum struct {
	n int
	s birthStat
}

// newBirthCache returns the cache of a clusterRegion over reg; nil (no
// conflicts) when age-aware linking is off.
func (e *Engine) newBirthCache(reg []int32) *birthCache {
	if e.opt.AgeLink <= 0 || birthConflictZ <= 0 {
		return nil
	}
	return &birthCache{e: e, reg: reg, m: map[int32]birthSum{}}
}

func (c *birthCache) stat(m []int32) birthStat {
	b := c.m[m[0]]
	if b.n > len(m) {
		b = birthSum{}
	}
	for _, x := range m[b.n:] {
		n := &c.e.nodes[c.reg[x]]
		if n.age <= 0 || n.when <= 0 {
			continue
		}
		a, sd := calib(n.age)
		w := 1 / (sd * sd)
		b.s.sw += w
		b.s.swb += w * (n.when - a)
		b.s.st += n.when
		b.s.n++
	}
	b.n = len(m)
	c.m[m[0]] = b
	return b.s
}

// conflict tells whether clusters A and B (positions in reg) were born too
// far apart to be one person (see above); a nil cache never conflicts.
func (c *birthCache) conflict(A, B []int32) bool {
	if c == nil || len(A) == 0 || len(B) == 0 {
		return false
	}
	a, b := c.stat(A), c.stat(B)
	if a.n == 0 || b.n == 0 || math.Abs(a.st/float64(a.n)-b.st/float64(b.n)) < 1 {
		return false
	}
	// variance of each mean: the photos' own errors (1/sw) plus the
	// shared part, which no number of photos averages away (n/sw is the
	// mean variance of one photo)
	f := birthConflictShared * birthConflictShared
	va := 1/a.sw + f*float64(a.n)/a.sw
	vb := 1/b.sw + f*float64(b.n)/b.sw
	return math.Abs(a.swb/a.sw-b.swb/b.sw) > birthConflictZ*math.Sqrt(va+vb)
}

// Lone faces of a person photographed across years. A face left alone
// after every merge (a core face whose links do not reach the Link share
// of a large person, or a face with no core neighbour within JoinEps) has
// few partners of its own age when its person was photographed once every
// few years: its links go to the photos of the nearest years only. It
// joins the cluster it has the most links to when that cluster is the
// only one with that many (at least loneLinks), spans at least a year of
// dates (a person followed over time; in a collection of one time, a lone
// face is a stranger, left alone as before), and their birth years agree.
var loneLinks = 2

func (e *Engine) joinLoneFaces(reg []int32, ladj [][]edge, groups []*group, find func(int32) int32,
	union func(a, b int32) int32, conflict func(a, b int32) bool) {
	if loneLinks <= 0 {
		return
	}
	for k := range reg {
		x := int32(k)
		if find(x) != x || len(groups[x].members) != 1 || groups[x].label != 0 {
			continue
		}
		n := &e.nodes[reg[k]]
		if n.age <= 0 || n.when <= 0 {
			continue
		}
		count := map[int32]int{}
		for _, ed := range ladj[k] {
			if g := find(ed.to); len(groups[g].members) >= 2 {
				count[g]++
			}
		}
		best, bn, tie := int32(-1), 0, false
		for g, c := range count {
			switch {
			case c > bn:
				best, bn, tie = g, c, false
			case c == bn:
				tie = true
			}
		}
		if best < 0 || tie || bn < loneLinks || !e.spansYears(reg, groups[best].members) {
			continue
		}
		if conflict(x, best) || !e.birthsAgree(reg, groups[x].members, groups[best].members) {
			continue
		}
		union(x, best)
	}
}

// spansYears tells whether the dated members of m span at least a year.
func (e *Engine) spansYears(reg []int32, m []int32) bool {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, k := range m {
		if w := e.nodes[reg[k]].when; w > 0 {
			lo, hi = min(lo, w), max(hi, w)
		}
	}
	return hi-lo >= 1
}

// calibEdges are the apparent-age bins of FitAgeCalib.
var calibEdges = []float64{0, 2, 4, 6, 8, 10, 16, 20, 22, 25, 28, 31, 35, 40, 45, 50, 55, 60, 70, 200}

// FitAgeCalib measures an apparent-age calibration like ageCalib from
// labelled faces: faces binned by apparent age, per bin the mean apparent
// age, the mean true age (made non-decreasing across bins by pooling
// adjacent violators, weighted by the bins' sizes) and the true age's
// standard deviation. Bins with fewer than minCalibBin faces are dropped.
func FitAgeCalib(apparent, truth []float64) [][3]float64 {
	type bin struct{ n, sa, st, stt float64 }
	bins := make([]bin, len(calibEdges)-1)
	for i, a := range apparent {
		k := sort.SearchFloat64s(calibEdges, a)
		k = min(max(k-1, 0), len(bins)-1)
		if a >= calibEdges[k+1] && k < len(bins)-1 {
			k++
		}
		b := &bins[k]
		b.n++
		b.sa += a
		b.st += truth[i]
		b.stt += truth[i] * truth[i]
	}
	var rows [][3]float64
	var ns []float64
	for _, b := range bins {
		if b.n < minCalibBin {
			continue
		}
		m := b.st / b.n
		rows = append(rows, [3]float64{b.sa / b.n, m, math.Sqrt(max(b.stt/b.n-m*m, 0))})
		ns = append(ns, b.n)
	}
	// pool adjacent violators on the means
	type block struct {
		w, m     float64
		from, to int
	}
	var bs []block
	for i, r := range rows {
		bs = append(bs, block{ns[i], r[1], i, i})
		for len(bs) > 1 && bs[len(bs)-2].m > bs[len(bs)-1].m {
			a, b := bs[len(bs)-2], bs[len(bs)-1]
			bs = append(bs[:len(bs)-2], block{a.w + b.w, (a.w*a.m + b.w*b.m) / (a.w + b.w), a.from, b.to})
		}
	}
	for _, b := range bs {
		for i := b.from; i <= b.to; i++ {
			rows[i][1] = b.m
		}
	}
	return rows
}

// minCalibBin is the fewest faces a FitAgeCalib bin needs.
const minCalibBin = 10
