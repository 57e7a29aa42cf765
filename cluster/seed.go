// Package cluster groups faces into persons. It holds the seed's distance and
// batch clustering (HSE_FaceRec_tf process_photos.py, ../shared/seed/SPEC.md
// §3-§4), the seed's per-person rules (birth year, Dempster–Shafer gender,
// "potentially public" files), and faced's incremental Engine, which keeps
// person ids stable across arrivals and full re-clusters and honours the
// user's assignments and "this face is not X" corrections.
//
// The package is pure Go and knows nothing about files or the index: callers
// hand it Items (an id, the photo or frame the face came from, the
// L2-normalised identity features, a birth-year estimate and the capture
// year) and get groups of indices or person ids back.
package cluster

import (
	"math"
	"sort"
	"time"

	"github.com/faced/faced/face"
)

// Item is one face as the clusterer sees it.
type Item struct {
	// ID identifies the face (the index's face id).
	ID int64
	// Photo identifies the file (or video frame) the face came from. Two faces
	// with the same Photo are never put into one cluster (cannot-link).
	Photo int64
	// Features is the L2-normalised identity vector.
	Features []float32
	// BirthYear is the face's birth-year estimate (FaceBirthYear).
	BirthYear float64
	// Year is the integer capture year of the file.
	Year int
	// Age is the face's apparent age and When the capture time in decimal
	// years (DecimalYear); 0 when unknown. The Engine's age-aware linking
	// (Options.AgeLink) uses them.
	Age  float64
	When float64
}

// DecimalYear is t as a year with a fraction (UTC); 0 for the zero time.
func DecimalYear(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	t = t.UTC()
	start := time.Date(t.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
	end := start.AddDate(1, 0, 0)
	return float64(t.Year()) + float64(t.Sub(start))/float64(end.Sub(start))
}

// AgeWeight is the weight of the seed's age term in SeedDistance.
const AgeWeight = 0.1

// SeedDistance is the seed's face distance (SPEC §4): the Euclidean distance
// of the features plus 0.1·(a_i − a_j)²/(a_i + a_j), where the ages a_k are
// taken at the common year Y = max(a.Year, b.Year) from the birth-year
// estimates, clipped below at 0. The seed does not guard a_i + a_j ≤ 0; here
// the age term is dropped in that case (it would be infinite or negative).
func SeedDistance(a, b Item) float64 {
	return clip0(l2(a.Features, b.Features) + ageTerm(a, b))
}

func ageTerm(a, b Item) float64 {
	y := float64(max(a.Year, b.Year))
	ai, aj := y-a.BirthYear, y-b.BirthYear
	s := ai + aj
	if s <= 0 {
		return 0
	}
	d := ai - aj
	return AgeWeight * d * d / s
}

func clip0(d float64) float64 {
	if d < 0 || math.IsNaN(d) {
		return 0
	}
	return d
}

// l2 is the Euclidean distance of two vectors of equal length (the shorter
// length is used if they differ).
func l2(a, b []float32) float64 {
	n := min(len(a), len(b))
	var s float64
	for i := 0; i < n; i++ {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return math.Sqrt(s)
}

// SeedThreshold is the seed's DistanceThreshold (config.txt: 0.82).
const SeedThreshold = 0.82

// SeedCluster reproduces the seed's album clustering (SPEC §4) on items:
// single linkage cut at threshold (connected components of d ≤ threshold),
// each component split so that no two faces of one photo share a cluster
// (complete linkage on d + 100 for same-photo pairs, cut at 50), clusters
// emitted in the order scipy numbers them (pre-order of the dendrogram from
// the root, sub-clusters likewise), stably sorted by size descending, and
// finally only clusters with at least minSize members kept. It returns
// indices into items. The date filter is separate (FilterPersons).
func SeedCluster(items []Item, threshold float64, minSize int) [][]int {
	n := len(items)
	if n == 0 || n < minSize {
		return nil
	}
	d := newCondensed(n, func(i, j int) float64 { return SeedDistance(items[i], items[j]) })
	z := singleLinkageMST(d)
	flat := fclusterDistance(z, n, threshold)
	var out [][]int
	for _, members := range flat {
		if len(members) == 1 {
			out = append(out, members)
			continue
		}
		m := len(members)
		sub := newCondensed(m, func(i, j int) float64 {
			v := d.at(members[i], members[j])
			if items[members[i]].Photo == items[members[j]].Photo {
				v += 100
			}
			return v
		})
		for _, sc := range fclusterDistance(completeLinkage(sub), m, 50) {
			g := make([]int, len(sc))
			for k, p := range sc {
				g[k] = members[p]
			}
			out = append(out, g)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	kept := out[:0]
	for _, g := range out {
		if len(g) >= minSize {
			kept = append(kept, g)
		}
	}
	return kept
}

// condensed is a symmetric distance matrix without its diagonal.
type condensed struct {
	n int
	v []float64
}

func newCondensed(n int, f func(i, j int) float64) condensed {
	c := condensed{n: n, v: make([]float64, n*(n-1)/2)}
	k := 0
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			c.v[k] = f(i, j)
			k++
		}
	}
	return c
}

func (c condensed) idx(i, j int) int {
	if i > j {
		i, j = j, i
	}
	return c.n*i - i*(i+1)/2 + j - i - 1
}

func (c condensed) at(i, j int) float64 { return c.v[c.idx(i, j)] }

// merge is one step of a dendrogram in scipy's linkage form: clusters a<b
// (ids < n are leaves, n+k is the cluster made by step k) joined at dist.
type merge struct {
	a, b int
	dist float64
}

// singleLinkageMST builds the single-linkage dendrogram the way scipy does:
// Prim's algorithm from leaf 0 (first minimum wins ties), the edges stably
// sorted by distance and relabelled with a union-find.
func singleLinkageMST(d condensed) []merge {
	n := d.n
	if n < 2 {
		return nil
	}
	done := make([]bool, n)
	best := make([]float64, n)
	for i := range best {
		best[i] = math.Inf(1)
	}
	edges := make([]merge, 0, n-1)
	x := 0
	for k := 0; k < n-1; k++ {
		done[x] = true
		cur, y := math.Inf(1), -1
		for i := 0; i < n; i++ {
			if done[i] {
				continue
			}
			if v := d.at(x, i); best[i] > v {
				best[i] = v
			}
			if best[i] < cur || y < 0 {
				cur, y = best[i], i
			}
		}
		edges = append(edges, merge{x, y, cur})
		x = y
	}
	return label(edges, n)
}

// completeLinkage builds the complete-linkage dendrogram by greedy merging of
// the closest pair (first pair in index order on ties).
func completeLinkage(d condensed) []merge {
	n := d.n
	if n < 2 {
		return nil
	}
	dist := make([][]float64, n)
	for i := range dist {
		dist[i] = make([]float64, n)
		for j := 0; j < n; j++ {
			if i != j {
				dist[i][j] = d.at(i, j)
			}
		}
	}
	alive := make([]bool, n)
	for i := range alive {
		alive[i] = true
	}
	var edges []merge
	for k := 0; k < n-1; k++ {
		bi, bj, bd := -1, -1, math.Inf(1)
		for i := 0; i < n; i++ {
			if !alive[i] {
				continue
			}
			for j := i + 1; j < n; j++ {
				if alive[j] && (dist[i][j] < bd || bi < 0) {
					bi, bj, bd = i, j, dist[i][j]
				}
			}
		}
		edges = append(edges, merge{bi, bj, bd})
		alive[bj] = false
		for t := 0; t < n; t++ {
			if alive[t] && t != bi {
				v := max(dist[bi][t], dist[bj][t])
				dist[bi][t], dist[t][bi] = v, v
			}
		}
	}
	return label(edges, n)
}

// label turns merges of representative leaves into scipy's dendrogram form:
// stable sort by distance, then replace each side by the id of the cluster
// holding it, smaller id first.
func label(edges []merge, n int) []merge {
	sort.SliceStable(edges, func(i, j int) bool { return edges[i].dist < edges[j].dist })
	parent := make([]int, 2*n-1)
	for i := range parent {
		parent[i] = i
	}
	find := func(x int) int {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	z := make([]merge, len(edges))
	for k, e := range edges {
		a, b := find(e.a), find(e.b)
		if a > b {
			a, b = b, a
		}
		z[k] = merge{a, b, e.dist}
		parent[a], parent[b] = n+k, n+k
	}
	return z
}

// fclusterDistance is scipy's fcluster(criterion="distance"): walk the
// dendrogram in pre-order from the root (smaller child first); every node
// whose largest merge distance is ≤ t becomes one flat cluster. It returns
// the flat clusters in scipy's numbering order, each with ascending leaves.
func fclusterDistance(z []merge, n int, t float64) [][]int {
	if n == 0 {
		return nil
	}
	if n == 1 {
		return [][]int{{0}}
	}
	maxd := make([]float64, len(z))
	for k, m := range z {
		v := m.dist
		if m.a >= n {
			v = max(v, maxd[m.a-n])
		}
		if m.b >= n {
			v = max(v, maxd[m.b-n])
		}
		maxd[k] = v
	}
	var leaves func(node int, acc []int) []int
	leaves = func(node int, acc []int) []int {
		stack := []int{node}
		for len(stack) > 0 {
			x := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if x < n {
				acc = append(acc, x)
				continue
			}
			stack = append(stack, z[x-n].b, z[x-n].a)
		}
		return acc
	}
	var out [][]int
	stack := []int{2*n - 2}
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if x < n || maxd[x-n] <= t {
			g := leaves(x, nil)
			sort.Ints(g)
			out = append(out, g)
			continue
		}
		stack = append(stack, z[x-n].b, z[x-n].a)
	}
	return out
}

// FaceBirthYear is the seed's per-face birth year (SPEC §3.4):
// photo_year − (age − 0.5), with photo_year = year + (month − 1)/12 of the
// capture time t (UTC, as the seed's gmtime of the mtime).
func FaceBirthYear(t time.Time, age float64) float64 {
	t = t.UTC()
	py := float64(t.Year()) + float64(int(t.Month())-1)/12
	return py - (age - 0.5)
}

// BirthYear is the median of the faces' birth-year estimates (numpy's
// median: mean of the two middle values for an even count); NaN when empty.
// The seed stores int(BirthYear(...)) per person.
func BirthYear(birthYears ...float64) float64 { return Median(birthYears) }

// Median returns the median of v (mean of the middle pair for even length),
// NaN for an empty slice. v is not modified.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// GenderDS is the seed's Dempster–Shafer gender of a person from the faces'
// P(male) sigmoids (SPEC §3): with d0 = √2·|p − 0.875| and
// d1 = √2·|p − 0.353|, the person is male iff Σ[ln(1+d1) − ln(1+d0)] > 0; an
// exact tie (and an empty list) is female.
func GenderDS(probs []float64) (male bool) {
	var s float64
	for _, p := range probs {
		d0 := math.Sqrt2 * math.Abs(p-0.875)
		d1 := math.Sqrt2 * math.Abs(p-0.353)
		s += math.Log1p(d1) - math.Log1p(d0)
	}
	return s > 0
}

// ExpandedWidth is the width of the seed's crop box for face box b in an
// image w pixels wide (SPEC §2): coordinates truncated to integers,
// expanded by 10 px on each side, clamped to [0, w].
func ExpandedWidth(b face.Box, w int) float64 {
	x1 := max(0, math.Trunc(b.X1)-10)
	x2 := min(float64(w), math.Trunc(b.X2)+10)
	return max(0, x2-x1)
}

// LargeFace reports the seed's "private" marker for one face (SPEC §3.5):
// its expanded box is at least minFaceWidthPercent of the image width.
func LargeFace(b face.Box, imageWidth int, minFaceWidthPercent float64) bool {
	if imageWidth <= 0 {
		return false
	}
	return ExpandedWidth(b, imageWidth)/float64(imageWidth) >= minFaceWidthPercent/100
}

// Private is the seed's rule for one file (SPEC §3.10): the file is private
// when any of its faces belongs to a person or is a LargeFace; every other
// file is "potentially public". inPerson[i] tells whether faces[i] belongs
// to a person (missing entries count as false).
func Private(faces []face.Box, inPerson []bool, imageWidth int, minFaceWidthPercent float64) bool {
	for i, b := range faces {
		if i < len(inPerson) && inPerson[i] {
			return true
		}
		if LargeFace(b, imageWidth, minFaceWidthPercent) {
			return true
		}
	}
	return false
}

// PersonRule holds the seed's thresholds deciding which clusters count as
// persons (config keys MinNoPhotos and MinDaysDifferenceBetweenPhotoMDates).
type PersonRule struct {
	MinNoPhotos int
	MinDays     int
}

// IsPerson applies the rule to one cluster given its members' capture
// times: at least MinNoPhotos members, and the newest minus the oldest time
// at least MinDays whole days (floor). The seed converts its UTC mtimes as
// local time before subtracting; with time.Time values the difference is
// exact, which only differs from the seed across a DST change.
func (r PersonRule) IsPerson(times []time.Time) bool {
	if len(times) < r.MinNoPhotos {
		return false
	}
	if r.MinDays <= 0 {
		return true
	}
	if len(times) == 0 {
		return false
	}
	lo, hi := times[0], times[0]
	for _, t := range times[1:] {
		if t.Before(lo) {
			lo = t
		}
		if t.After(hi) {
			hi = t
		}
	}
	return int(hi.Sub(lo)/(24*time.Hour)) >= r.MinDays
}

// FilterPersons keeps the clusters (lists of indices into times) that pass
// the rule, preserving order.
func (r PersonRule) FilterPersons(clusters [][]int, times []time.Time) [][]int {
	var out [][]int
	for _, c := range clusters {
		ts := make([]time.Time, len(c))
		for k, i := range c {
			ts[k] = times[i]
		}
		if r.IsPerson(ts) {
			out = append(out, c)
		}
	}
	return out
}
