package models

import (
	"math/rand/v2"
	"os"
	"testing"

	"github.com/faced/faced/internal/shared"
)

// randomInput is a [n,h,w,3] tensor of values uniform in [-1, 1) (MTCNN's
// input range), the same for the same seed.
func randomInput(n, h, w int, seed uint64) Tensor {
	r := rand.New(rand.NewPCG(seed, 1))
	d := make([]float32, n*h*w*3)
	for i := range d {
		d[i] = r.Float32()*2 - 1
	}
	return Tensor{Shape: []int64{int64(n), int64(h), int64(w), 3}, Data: d}
}

// The MTCNN networks carry the converter's PReLU subgraphs (3 in P-Net, 4
// in R-Net, 5 in O-Net); the fused graphs compute the same outputs as the
// converted ones, bit for bit, on several input sizes and batches.
func TestFusePReLUSameOutputs(t *testing.T) {
	initORT(t)
	reg, err := OpenRegistry(shared.DataDir(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		model  string
		prelus int
		inputs []Tensor
	}{
		{PNet, 3, []Tensor{pattern(30, 20, MTCNNScale), randomInput(1, 12, 12, 1), randomInput(1, 217, 163, 2), randomInput(1, 57, 43, 3)}},
		{RNet, 4, []Tensor{pattern(24, 24, MTCNNScale), randomInput(37, 24, 24, 4)}},
		{ONet, 5, []Tensor{pattern(48, 48, MTCNNScale), randomInput(9, 48, 48, 5)}},
	} {
		t.Run(tc.model, func(t *testing.T) {
			mi, err := reg.Model(tc.model)
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(reg.Path(mi))
			if err != nil {
				t.Fatal(err)
			}
			if _, n, err := fusePReLU(b); err != nil || n != tc.prelus {
				t.Fatalf("fused %d PReLUs (err %v), want %d", n, err, tc.prelus)
			}
			run := func(unfused bool) [][]float32 {
				s, err := reg.NewSession(tc.model, SessionOptions{IntraOpThreads: 1, Unfused: unfused})
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				var out [][]float32
				for _, in := range tc.inputs {
					res, err := s.Run(in)
					if err != nil {
						t.Fatalf("%v: %v", in.Shape, err)
					}
					for _, r := range res {
						out = append(out, r.Data)
					}
				}
				return out
			}
			want, got := run(true), run(false)
			if len(got) != len(want) {
				t.Fatalf("%d outputs fused, %d converted", len(got), len(want))
			}
			for i := range want {
				if len(got[i]) != len(want[i]) {
					t.Fatalf("output %d: %d values fused, %d converted", i, len(got[i]), len(want[i]))
				}
				for j := range want[i] {
					if got[i][j] != want[i][j] {
						t.Fatalf("output %d[%d] = %v fused, %v converted", i, j, got[i][j], want[i][j])
					}
				}
			}
		})
	}
}

// Models without the pattern are left as they are; a broken model is an
// error, not a panic.
func TestFusePReLUOther(t *testing.T) {
	reg, err := OpenRegistry(shared.DataDir(t))
	if err != nil {
		t.Fatal(err)
	}
	mi, err := reg.Model(AgeGenderInt8)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(reg.Path(mi))
	if err != nil {
		t.Fatal(err)
	}
	if out, n, err := fusePReLU(b); err != nil || n != 0 || len(out) != len(b) {
		t.Errorf("age/gender model: %d fused, %d of %d bytes, err %v; want it unchanged", n, len(out), len(b), err)
	}
	if _, _, err := fusePReLU(b[:len(b)/2]); err == nil {
		t.Error("truncated model: no error")
	}
}
