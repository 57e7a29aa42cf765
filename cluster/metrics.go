package cluster

// Scores compares a clustering with ground-truth identities.
type Scores struct {
	// BCubed precision, recall and F1 (Bagga & Baldwin): per item, the share
	// of its cluster that has its identity and the share of its identity that
	// is in its cluster, averaged over items.
	BCubedPrecision float64 `json:"bcubed_precision"`
	BCubedRecall    float64 `json:"bcubed_recall"`
	BCubedF1        float64 `json:"bcubed_f1"`
	// Pairwise precision, recall and F1 over all same-cluster and
	// same-identity pairs.
	PairPrecision float64 `json:"pairwise_precision"`
	PairRecall    float64 `json:"pairwise_recall"`
	PairF1        float64 `json:"pairwise_f1"`
	// Persons is the number of clusters with at least two members;
	// Identities the number of identities with at least two items.
	Persons    int `json:"persons"`
	Identities int `json:"identities"`
	// Largest is the size of the largest cluster.
	Largest int `json:"largest_cluster"`
	// Items is the number of scored items.
	Items int `json:"faces"`
}

// Score scores assign (cluster number per item; a negative number makes the
// item a singleton) against truth (identity per item). Both slices have one
// entry per item.
func Score(truth []string, assign []int) Scores {
	n := len(truth)
	s := Scores{Items: n}
	if n == 0 || len(assign) != n {
		return s
	}
	// make singletons unique cluster numbers
	cl := make([]int, n)
	next := 0
	for _, a := range assign {
		next = max(next, a+1)
	}
	for i, a := range assign {
		if a < 0 {
			cl[i] = next
			next++
		} else {
			cl[i] = a
		}
	}
	type key struct {
		c int
		l string
	}
	both := map[key]int{}
	csize := map[int]int{}
	lsize := map[string]int{}
	for i := range truth {
		both[key{cl[i], truth[i]}]++
		csize[cl[i]]++
		lsize[truth[i]]++
	}
	for i := range truth {
		b := float64(both[key{cl[i], truth[i]}])
		s.BCubedPrecision += b / float64(csize[cl[i]])
		s.BCubedRecall += b / float64(lsize[truth[i]])
	}
	s.BCubedPrecision /= float64(n)
	s.BCubedRecall /= float64(n)
	s.BCubedF1 = f1(s.BCubedPrecision, s.BCubedRecall)
	pairs := func(k int) float64 { return float64(k) * float64(k-1) / 2 }
	var tp, cp, lp float64
	for _, v := range both {
		tp += pairs(v)
	}
	for _, v := range csize {
		cp += pairs(v)
		if v >= 2 {
			s.Persons++
		}
		s.Largest = max(s.Largest, v)
	}
	for _, v := range lsize {
		lp += pairs(v)
		if v >= 2 {
			s.Identities++
		}
	}
	if cp > 0 {
		s.PairPrecision = tp / cp
	} else {
		s.PairPrecision = 1
	}
	if lp > 0 {
		s.PairRecall = tp / lp
	} else {
		s.PairRecall = 1
	}
	s.PairF1 = f1(s.PairPrecision, s.PairRecall)
	return s
}

func f1(p, r float64) float64 {
	if p+r == 0 {
		return 0
	}
	return 2 * p * r / (p + r)
}

// Assignment turns clusters (lists of item indices) into a per-item cluster
// number for n items, -1 for items in no cluster.
func Assignment(clusters [][]int, n int) []int {
	a := make([]int, n)
	for i := range a {
		a[i] = -1
	}
	for c, g := range clusters {
		for _, i := range g {
			a[i] = c
		}
	}
	return a
}
