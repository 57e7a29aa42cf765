package quant

import "golang.org/x/sys/cpu"

// dotAVX2 is the dot product of the n (a multiple of 32) values at a and b,
// with AVX2 (dot_amd64.s): about ten times the pure Go loop.
//
//go:noescape
func dotAVX2(a, b *int8, n int) int32

var haveAVX2 = cpu.X86.HasAVX2

func dot(a, b []int8) int32 {
	n := len(a) &^ 31
	if !haveAVX2 || n == 0 {
		return dotGo(a, b)
	}
	return dotAVX2(&a[0], &b[0], n) + dotGo(a[n:], b[n:])
}
