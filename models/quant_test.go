package models

import (
	"math"
	"testing"
)

func TestQuantizePerChannel(t *testing.T) {
	const in = float32(6.0 / 255)
	for _, tc := range []struct {
		name string
		w    []float32 // 2 channels x 3 weights
		bias []float32
	}{
		{"ordinary", []float32{0.5, -1, 0.25, 0.01, 0.02, -0.03}, []float32{0.1, -2}},
		{"zero weights, non-zero bias", []float32{0, 0, 0, 1, -1, 0.5}, []float32{3.5, 0}},
		{"tiny weights, large bias", []float32{1e-30, 0, -1e-30, 1, 1, 1}, []float32{-40, 1}},
		{"all zero", []float32{0, 0, 0, 0, 0, 0}, []float32{0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, s, bq := quantizePerChannel(tc.w, tc.bias, in)
			for o := range tc.bias {
				if s[o] <= 0 || math.IsInf(float64(s[o]), 0) || math.IsNaN(float64(s[o])) {
					t.Fatalf("channel %d: scale %v", o, s[o])
				}
				// The bias survives: dequantized within half a step.
				step := float64(in) * float64(s[o])
				if got := float64(bq[o]) * step; math.Abs(got-float64(tc.bias[o])) > step/2+1e-9 {
					t.Errorf("channel %d: bias %v dequantizes to %v", o, tc.bias[o], got)
				}
				if math.Abs(float64(bq[o])) > 1<<30 {
					t.Errorf("channel %d: bias integer %d too large", o, bq[o])
				}
				for i := 0; i < 3; i++ {
					w := float64(tc.w[o*3+i])
					got := float64(q[o*3+i]) * float64(s[o])
					if math.Abs(got-w) > float64(s[o])/2+1e-12 {
						t.Errorf("channel %d weight %d: %v -> %v", o, i, w, got)
					}
				}
			}
		})
	}
}
