package mtcnn

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/faced/faced/internal/shared"
)

func TestScalesMatchReference(t *testing.T) {
	for _, name := range []string{"reference_test_image_minsize32_quantized.json", "reference_test_image_minsize112_quantized.json"} {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(shared.Dir(t, "seed/reference"), name))
			if err != nil {
				t.Fatal(err)
			}
			var ref struct {
				ShapeHW []int `json:"shape_hw"`
				MinSize int   `json:"minsize"`
				Stages  struct {
					Scales []float64 `json:"scales"`
				} `json:"stages"`
			}
			if err := json.Unmarshal(raw, &ref); err != nil {
				t.Fatal(err)
			}
			got := Scales(ref.ShapeHW[0], ref.ShapeHW[1], ref.MinSize, 0.709)
			if len(got) != len(ref.Stages.Scales) {
				t.Fatalf("got %d scales %v, want %d %v", len(got), got, len(ref.Stages.Scales), ref.Stages.Scales)
			}
			for i := range got {
				if math.Abs(got[i]-ref.Stages.Scales[i]) > 1e-12 {
					t.Errorf("scale %d: got %v want %v", i, got[i], ref.Stages.Scales[i])
				}
			}
		})
	}
}

func TestScalesEdge(t *testing.T) {
	tests := []struct {
		h, w, minsize int
		want          int
	}{
		{12, 12, 12, 1},  // L = 12 exactly: one scale (≥)
		{11, 100, 12, 0}, // smaller side below 12: none
		{100, 100, 0, 0}, // invalid minsize
		{24, 24, 12, 2},  // 24, 17.016, 12.06 -> 3? computed below
	}
	tests[3].want = 0
	for l := 24.0; l >= 12; l *= 0.709 {
		tests[3].want++
	}
	for _, tt := range tests {
		if got := len(Scales(tt.h, tt.w, tt.minsize, 0.709)); got != tt.want {
			t.Errorf("Scales(%d,%d,%d): %d scales, want %d", tt.h, tt.w, tt.minsize, got, tt.want)
		}
	}
}

// maps builds P-Net outputs in the transposed layout for an hm×wm map from
// un-transposed accessor functions.
func maps(hm, wm int, p func(r, c int) float32, reg func(r, c, k int) float32) (prob, rg []float32) {
	prob = make([]float32, wm*hm*2)
	rg = make([]float32, wm*hm*4)
	for c := 0; c < wm; c++ {
		for r := 0; r < hm; r++ {
			prob[(c*hm+r)*2] = 1 - p(r, c)
			prob[(c*hm+r)*2+1] = p(r, c)
			for k := 0; k < 4; k++ {
				rg[(c*hm+r)*4+k] = reg(r, c, k)
			}
		}
	}
	return
}

func TestGenerateBoxesMappingAndOrder(t *testing.T) {
	hm, wm := 3, 4
	// Cells (r=0,c=2) and (r=2,c=1) pass; (r=1,c=3) sits exactly at the
	// threshold and passes too (≥).
	p := func(r, c int) float32 {
		switch {
		case r == 0 && c == 2:
			return 0.9
		case r == 2 && c == 1:
			return 0.8
		case r == 1 && c == 3:
			return 0.6
		}
		return 0.1
	}
	reg := func(r, c, k int) float32 { return float32(r*100 + c*10 + k) }
	prob, rg := maps(hm, wm, p, reg)
	got := GenerateBoxes(prob, rg, hm, wm, 0.5, 0.6)
	if len(got) != 3 {
		t.Fatalf("got %d candidates, want 3: %+v", len(got), got)
	}
	// Column-major order: (r2,c1), (r0,c2), (r1,c3).
	want := []struct{ r, c int }{{2, 1}, {0, 2}, {1, 3}}
	for i, w := range want {
		g := got[i]
		x1, y1 := math.Trunc(float64(2*w.c+1)/0.5), math.Trunc(float64(2*w.r+1)/0.5)
		x2, y2 := math.Trunc(float64(2*w.c+12)/0.5), math.Trunc(float64(2*w.r+12)/0.5)
		if g.X1 != x1 || g.Y1 != y1 || g.X2 != x2 || g.Y2 != y2 {
			t.Errorf("cand %d: box %v %v %v %v, want %v %v %v %v", i, g.X1, g.Y1, g.X2, g.Y2, x1, y1, x2, y2)
		}
		if g.Reg[0] != float64(reg(w.r, w.c, 0)) || g.Reg[3] != float64(reg(w.r, w.c, 3)) {
			t.Errorf("cand %d: reg %v not read at its own cell", i, g.Reg)
		}
		if g.Score != float64(p(w.r, w.c)) {
			t.Errorf("cand %d: score %v", i, g.Score)
		}
	}
}

func TestGenerateBoxesSingleCandidateFlip(t *testing.T) {
	hm, wm := 5, 7
	p := func(r, c int) float32 {
		if r == 1 && c == 2 {
			return 0.95
		}
		return 0
	}
	reg := func(r, c, k int) float32 { return float32(r*100 + c*10 + k) }
	prob, rg := maps(hm, wm, p, reg)
	got := GenerateBoxes(prob, rg, hm, wm, 1, 0.6)
	if len(got) != 1 {
		t.Fatalf("got %d candidates", len(got))
	}
	// Box from the real cell, regression from column wm-1-c = 4, row 1.
	if got[0].X1 != 5 || got[0].Y1 != 3 || got[0].X2 != 16 || got[0].Y2 != 14 {
		t.Errorf("box %+v", got[0])
	}
	for k := 0; k < 4; k++ {
		if want := float64(reg(1, 4, k)); got[0].Reg[k] != want {
			t.Errorf("reg[%d] = %v, want %v (flipped lookup)", k, got[0].Reg[k], want)
		}
	}
}

func TestNMS(t *testing.T) {
	b := []Candidate{
		{X1: 0, Y1: 0, X2: 9, Y2: 9, Score: 0.8},     // 0
		{X1: 1, Y1: 1, X2: 10, Y2: 10, Score: 0.9},   // 1: overlaps 0 heavily
		{X1: 50, Y1: 50, X2: 59, Y2: 59, Score: 0.7}, // 2: alone
		{X1: 2, Y1: 2, X2: 5, Y2: 5, Score: 0.95},    // 3: inside 0 and 1
	}
	// Union: 3 first (IoU with 1 = 16/100 ≤ 0.5 so 1 survives), then 1 drops 0
	// (IoU 81/119 = 0.68), then 2.
	if got := NMS(b, 0.5, Union); !equal(got, []int{3, 1, 2}) {
		t.Errorf("Union: %v", got)
	}
	// Min: 3 is fully inside 1 and 0 → overlap 1 → both dropped.
	if got := NMS(b, 0.7, Min); !equal(got, []int{3, 2}) {
		t.Errorf("Min: %v", got)
	}
	// Exactly at the threshold is kept (o ≤ thr survives).
	e := []Candidate{
		{X1: 0, Y1: 0, X2: 1, Y2: 0, Score: 1}, // area 2
		{X1: 1, Y1: 0, X2: 2, Y2: 0, Score: 0}, // inter 1, union 3
	}
	if got := NMS(e, 1.0/3, Union); !equal(got, []int{0, 1}) {
		t.Errorf("tie at threshold: %v", got)
	}
	// Equal scores: the later index is picked first (stable ascending sort).
	s := []Candidate{{X1: 0, Y1: 0, X2: 3, Y2: 3, Score: 0.5}, {X1: 100, Y1: 0, X2: 103, Y2: 3, Score: 0.5}}
	if got := NMS(s, 0.5, Union); !equal(got, []int{1, 0}) {
		t.Errorf("equal scores: %v", got)
	}
	if got := NMS(nil, 0.5, Union); len(got) != 0 {
		t.Errorf("empty: %v", got)
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRegressionAndRerec(t *testing.T) {
	c := Candidate{X1: 10, Y1: 20, X2: 30, Y2: 60, Reg: [4]float64{0.1, -0.1, 0.2, 0.05}}
	a := c
	ApplyRegNoPlus1(&a) // w 20, h 40
	if a.X1 != 12 || a.Y1 != 16 || a.X2 != 34 || a.Y2 != 62 {
		t.Errorf("no +1: %+v", a)
	}
	b := c
	BBReg(&b) // w 21, h 41
	if !near(b.X1, 12.1) || !near(b.Y1, 15.9) || !near(b.X2, 34.2) || !near(b.Y2, 62.05) {
		t.Errorf("+1: %+v", b)
	}
	r := Candidate{X1: 10, Y1: 20, X2: 30, Y2: 60}
	Rerec(&r) // w 20, h 40, l 40: x1 = 10+10-20 = 0
	if r.X1 != 0 || r.Y1 != 20 || r.X2 != 40 || r.Y2 != 60 {
		t.Errorf("rerec: %+v", r)
	}
	f := Candidate{X1: -1.7, Y1: 2.9, X2: 3.2, Y2: -0.5}
	Fix(&f)
	if f.X1 != -1 || f.Y1 != 2 || f.X2 != 3 || f.Y2 != 0 {
		t.Errorf("fix: %+v", f)
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestPad(t *testing.T) {
	tests := []struct {
		name string
		b    Candidate
		w, h int
		want Patch
	}{
		{"inside", Candidate{X1: 5, Y1: 6, X2: 14, Y2: 15}, 100, 100,
			Patch{DY: 1, EDY: 10, DX: 1, EDX: 10, Y: 6, EY: 15, X: 5, EX: 14, TmpW: 10, TmpH: 10}},
		{"top-left out", Candidate{X1: -3, Y1: 0, X2: 6, Y2: 9}, 100, 100,
			Patch{DY: 2, EDY: 10, DX: 5, EDX: 10, Y: 1, EY: 9, X: 1, EX: 6, TmpW: 10, TmpH: 10}},
		{"bottom-right out", Candidate{X1: 95, Y1: 91, X2: 104, Y2: 100}, 100, 98,
			Patch{DY: 1, EDY: 8, DX: 1, EDX: 6, Y: 91, EY: 98, X: 95, EX: 100, TmpW: 10, TmpH: 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Pad(tt.b, tt.w, tt.h)
			if got != tt.want {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
			if !got.Valid() {
				t.Errorf("patch not valid")
			}
		})
	}
	if Pad(Candidate{X1: 200, Y1: 0, X2: 209, Y2: 9}, 100, 100).Valid() {
		t.Errorf("box entirely outside should not be a valid patch")
	}
}
