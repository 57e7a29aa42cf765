package models

import (
	"testing"

	"github.com/faced/faced/internal/shared"
)

// Sessions opened without the CPU arena and memory patterns, or with the
// shared arena, compute the same outputs, bit for bit, over changing input shapes (P-Net's pyramid)
// and the age/gender network.
func TestMemoryOptionsSameOutputs(t *testing.T) {
	initORT(t)
	reg, err := OpenRegistry(shared.DataDir(t))
	if err != nil {
		t.Fatal(err)
	}
	defer SetMemoryOptions(MemoryOptions{})
	for _, tc := range []struct {
		model string
		sizes [][2]int
		scale float32
	}{
		{PNet, [][2]int{{120, 90}, {57, 43}, {300, 200}, {12, 12}}, MTCNNScale},
		{AgeGender, [][2]int{{224, 224}}, 1.0 / 255},
	} {
		mi, err := reg.Model(tc.model)
		if err != nil {
			t.Fatal(err)
		}
		sizes := tc.sizes
		if mi.InputSize[0] > 0 {
			sizes = [][2]int{{mi.InputSize[0], mi.InputSize[1]}}
		}
		run := func(mo MemoryOptions) [][]float32 {
			SetMemoryOptions(mo)
			s, err := reg.NewSession(tc.model, SessionOptions{IntraOpThreads: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var out [][]float32
			for _, hw := range sizes {
				res, err := s.Run(pattern(hw[0], hw[1], tc.scale))
				if err != nil {
					t.Fatalf("%s %v: %v", tc.model, hw, err)
				}
				for _, r := range res {
					out = append(out, r.Data)
				}
			}
			return out
		}
		want := run(MemoryOptions{})
		for _, mo := range []MemoryOptions{{NoCPUArena: true, NoMemPattern: true}, {SharedArena: true, NoMemPattern: true}} {
			got := run(mo)
			if err := ReleaseSharedArena(); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%s %+v: %d outputs, want %d", tc.model, mo, len(got), len(want))
			}
			for i := range want {
				if len(got[i]) != len(want[i]) {
					t.Fatalf("%s %+v output %d: %d values, want %d", tc.model, mo, i, len(got[i]), len(want[i]))
				}
				for j := range want[i] {
					if got[i][j] != want[i][j] {
						t.Fatalf("%s output %d[%d] = %v with %+v, %v with ORT's defaults", tc.model, i, j, got[i][j], mo, want[i][j])
					}
				}
			}
		}
	}
}
