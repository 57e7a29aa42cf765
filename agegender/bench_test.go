package agegender

import (
	"fmt"
	"testing"

	"github.com/faced/faced/models"
)

// BenchmarkPredict measures the network alone (preprocessed input), per
// face, for both variants at batch 1 and 8 with 1 and 2 intra-op threads.
// Report ns/face from the "ms/face" metric.
func BenchmarkPredict(b *testing.B) {
	reg := openRegistry(b)
	for _, variant := range []string{VariantFloat32, VariantInt8} {
		for _, threads := range []int{1, 2} {
			net, err := Open(reg, variant, models.SessionOptions{IntraOpThreads: threads})
			if err != nil {
				b.Fatal(err)
			}
			for _, batch := range []int{1, 8} {
				in := models.Tensor{Shape: []int64{int64(batch), InputSize, InputSize, 3}, Data: make([]float32, batch*InputSize*InputSize*3)}
				for i := range in.Data {
					in.Data[i] = float32(i%251) - 120
				}
				b.Run(fmt.Sprintf("%s/threads=%d/batch=%d", variant, threads, batch), func(b *testing.B) {
					if _, err := net.PredictTensor(in); err != nil { // warm-up
						b.Fatal(err)
					}
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						if _, err := net.PredictTensor(in); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*batch), "ms/face")
				})
			}
			net.Close()
		}
	}
}
