package quant

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestInt8RoundTripAndDot(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, dim := range []int{1, 7, 8, 31, 32, 33, 64, 100, 512, 1024, 1027} {
		a, b := make([]float32, dim), make([]float32, dim)
		for i := range a {
			a[i], b[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
		}
		qa, qb := make([]int8, dim), make([]int8, dim)
		sa := Int8(qa, a)
		Int8(qb, b)
		da := Decode(make([]float32, dim), qa, sa)
		for i := range a {
			if math.Abs(float64(da[i]-a[i])) > float64(sa)/2+1e-6 {
				t.Fatalf("dim %d: value %d decodes to %v, want %v ± %v", dim, i, da[i], a[i], sa/2)
			}
		}
		var want int32
		for i := range qa {
			want += int32(qa[i]) * int32(qb[i])
		}
		if got, rev, g := Dot(qa, qb), Dot(qb, qa), dotGo(qa, qb); got != want || rev != want || g != want {
			t.Fatalf("dim %d: dot %d / %d, want %d", dim, got, rev, want)
		}
	}
	if s := Int8(make([]int8, 3), []float32{0, 0, 0}); s != 1 {
		t.Fatalf("zero vector scale %v, want 1", s)
	}
}

// TestDotExtremes: the largest products (±127·±127 over 1024 values) sum
// without overflow, and unaligned slices give the same result.
func TestDotExtremes(t *testing.T) {
	a, b := make([]int8, 1040), make([]int8, 1040)
	for i := range a {
		a[i], b[i] = -127, -127
		if i%3 == 0 {
			b[i] = 127
		}
	}
	for off := 0; off < 9; off++ {
		x, y := a[off:off+1024], b[off:off+1024]
		if got, want := Dot(x, y), dotGo(x, y); got != want {
			t.Fatalf("offset %d: %d, want %d", off, got, want)
		}
	}
}

func BenchmarkDot1024(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	x, y := make([]int8, 1024), make([]int8, 1024)
	for i := range x {
		x[i], y[i] = int8(r.IntN(255)-127), int8(r.IntN(255)-127)
	}
	var s int32
	for b.Loop() {
		s += Dot(x, y)
	}
	_ = s
}

func BenchmarkDotGo1024(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	x, y := make([]int8, 1024), make([]int8, 1024)
	for i := range x {
		x[i], y[i] = int8(r.IntN(255)-127), int8(r.IntN(255)-127)
	}
	var s int32
	for b.Loop() {
		s += dotGo(x, y)
	}
	_ = s
}
