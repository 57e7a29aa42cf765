package face

import (
	"math"
	"testing"
)

func TestIoU(t *testing.T) {
	tests := []struct {
		name string
		a, b Box
		want float64
	}{
		{"same", Box{0, 0, 10, 10}, Box{0, 0, 10, 10}, 1},
		{"disjoint", Box{0, 0, 10, 10}, Box{20, 20, 30, 30}, 0},
		{"half", Box{0, 0, 10, 10}, Box{5, 0, 15, 10}, 50.0 / 150.0},
		{"empty", Box{0, 0, 0, 0}, Box{0, 0, 0, 0}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IoU(tt.a, tt.b); math.Abs(got-tt.want) > 1e-12 {
				t.Fatalf("IoU = %v, want %v", got, tt.want)
			}
		})
	}
}
