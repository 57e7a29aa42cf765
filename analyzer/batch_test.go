package analyzer

import (
	"math"
	"testing"

	"github.com/faced/faced/analyzer/mtcnn"
	"github.com/faced/faced/models"
)

// TestBatchInvariant: every crop's R-Net and O-Net outputs are the same
// bits whether the crop runs alone, in a batch of the default size
// (mtcnn.RNetBatch, mtcnn.ONetBatch) or with all crops in one batch: the
// batch size is a speed choice only.
func TestBatchInvariant(t *testing.T) {
	a := newAnalyzer(t, Options{Threads: 1, MTCNNThreads: 1})
	for _, net := range []struct {
		name  string
		s     *models.Session
		size  int
		batch int
	}{{"R-Net", a.rnet, 24, mtcnn.RNetBatch}, {"O-Net", a.onet, 48, mtcnn.ONetBatch}} {
		const n = 70 // not a multiple of either batch size
		item := net.size * net.size * 3
		data := make([]float32, n*item)
		seed := uint32(1)
		for i := range data {
			seed = seed*1664525 + 1013904223
			data[i] = (float32(seed>>24) - 127.5) * 0.0078125
		}
		run := func(bs int) [][]float32 {
			var outs [][]float32
			for s := 0; s < n; s += bs {
				k := min(bs, n-s)
				out, err := net.s.Run(models.Tensor{Shape: []int64{int64(k), int64(net.size), int64(net.size), 3}, Data: data[s*item : (s+k)*item]})
				if err != nil {
					t.Fatalf("%s: %v", net.name, err)
				}
				if outs == nil {
					outs = make([][]float32, len(out))
				}
				for j, o := range out {
					outs[j] = append(outs[j], o.Data...)
				}
			}
			return outs
		}
		want := run(1)
		for _, bs := range []int{net.batch, n} {
			got := run(bs)
			for j := range want {
				if len(got[j]) != len(want[j]) {
					t.Fatalf("%s batch %d output %d: %d values, want %d", net.name, bs, j, len(got[j]), len(want[j]))
				}
				for i := range want[j] {
					if math.Float32bits(got[j][i]) != math.Float32bits(want[j][i]) {
						t.Fatalf("%s batch %d output %d value %d: %v, alone %v", net.name, bs, j, i, got[j][i], want[j][i])
					}
				}
			}
		}
	}
}
