package cluster

import (
	"math"
	"testing"
)

func TestScore(t *testing.T) {
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	t.Run("perfect", func(t *testing.T) {
		s := Score([]string{"a", "a", "b", "c"}, []int{0, 0, 1, -1})
		if s.BCubedF1 != 1 || s.PairF1 != 1 || s.Persons != 1 || s.Identities != 1 || s.Largest != 2 {
			t.Fatalf("%+v", s)
		}
	})
	t.Run("all in one", func(t *testing.T) {
		// 2 a + 2 b in one cluster: precision 1/2 each item, recall 1
		s := Score([]string{"a", "a", "b", "b"}, []int{0, 0, 0, 0})
		if !near(s.BCubedPrecision, 0.5) || !near(s.BCubedRecall, 1) || !near(s.BCubedF1, 2.0/3) {
			t.Fatalf("%+v", s)
		}
		// pairs: 6 clustered, 2 true
		if !near(s.PairPrecision, 2.0/6) || !near(s.PairRecall, 1) {
			t.Fatalf("%+v", s)
		}
	})
	t.Run("all singletons", func(t *testing.T) {
		// recall: each a item sees 1/3 of its identity
		s := Score([]string{"a", "a", "a", "b"}, []int{-1, -1, -1, -1})
		if !near(s.BCubedPrecision, 1) || !near(s.BCubedRecall, (3*(1.0/3)+1)/4) || s.PairRecall != 0 || s.Persons != 0 {
			t.Fatalf("%+v", s)
		}
	})
	t.Run("assignment", func(t *testing.T) {
		a := Assignment([][]int{{2, 0}, {3}}, 5)
		want := []int{0, -1, 0, 1, -1}
		for i := range want {
			if a[i] != want[i] {
				t.Fatalf("Assignment = %v, want %v", a, want)
			}
		}
	})
}
