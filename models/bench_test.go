package models

import (
	"fmt"
	"testing"

	"github.com/faced/faced/internal/shared"
)

// BenchmarkAgeGender measures the age/gender/identity network alone
// (preprocessed input), float32 (weight-only 8-bit) and int8 QDQ, at batch 1
// and 8 with 1 and 2 intra-op threads, reporting ms per face. It uses the
// installed models (var/data, `make setup`).
func BenchmarkAgeGender(b *testing.B) {
	initORT(b)
	reg, err := OpenRegistry(shared.DataDir(b))
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{AgeGender, AgeGenderInt8} {
		for _, threads := range []int{1, 2} {
			s, err := reg.NewSession(name, SessionOptions{IntraOpThreads: threads})
			if err != nil {
				b.Fatal(err)
			}
			for _, batch := range []int{1, 8} {
				in := Tensor{Shape: []int64{int64(batch), 224, 224, 3}, Data: make([]float32, batch*224*224*3)}
				for i := range in.Data {
					in.Data[i] = float32(i%251) - 120
				}
				b.Run(fmt.Sprintf("%s/threads=%d/batch=%d", name, threads, batch), func(b *testing.B) {
					if _, err := s.Run(in); err != nil { // warm-up
						b.Fatal(err)
					}
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						if _, err := s.Run(in); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N*batch), "ms/face")
				})
			}
			s.Close()
		}
	}
}
