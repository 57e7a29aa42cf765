// Package quant is the one home of faced's int8 feature quantisation: the
// index's int8 feature matrix and the cluster engine store feature vectors
// this way (1 byte per value instead of 4).
//
// A vector is stored as int8 values q and one scale s = max|x|/127, so that
// x ≈ s·q (symmetric, round half up). For L2-normalised 1024-d face
// features this changes a distance by about 1e-3, far below the gaps
// between clustering thresholds (TestMatrixPrecision in index measures it).
package quant

import "math"

// Int8 writes the int8 values of v to dst (len(dst) ≥ len(v)) and returns
// their scale: v[k] ≈ scale·dst[k].
func Int8(dst []int8, v []float32) float32 {
	var mx float32
	for _, x := range v {
		mx = max(mx, math.Float32frombits(math.Float32bits(x)&^(1<<31)))
	}
	s := mx / 127
	if s == 0 {
		s = 1
	}
	inv := 1 / s
	dst = dst[:len(v)]
	for k, x := range v {
		// x*inv is within [-127, 127]; shifting by 128.5 makes the
		// conversion's truncation a branch-free round half up.
		dst[k] = int8(int32(x*inv+128.5) - 128)
	}
	return s
}

// Decode writes scale·q to dst (len(dst) ≥ len(q)) and returns it.
func Decode(dst []float32, q []int8, scale float32) []float32 {
	dst = dst[:len(q)]
	for k, x := range q {
		dst[k] = scale * float32(x)
	}
	return dst
}

// Dot is the exact dot product of a and b[:len(a)] as integers (up to
// 133 000 values of ±127 cannot overflow). Being exact, it is the same for
// (a, b) and (b, a), whatever the summation order.
func Dot(a, b []int8) int32 {
	return dot(a, b[:len(a)])
}

// dotGo is Dot in plain Go.
func dotGo(a, b []int8) int32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 int32
	i := 0
	for ; i+8 <= len(a); i += 8 {
		aa, bb := a[i:i+8:i+8], b[i:i+8:i+8]
		s0 += int32(aa[0])*int32(bb[0]) + int32(aa[4])*int32(bb[4])
		s1 += int32(aa[1])*int32(bb[1]) + int32(aa[5])*int32(bb[5])
		s2 += int32(aa[2])*int32(bb[2]) + int32(aa[6])*int32(bb[6])
		s3 += int32(aa[3])*int32(bb[3]) + int32(aa[7])*int32(bb[7])
	}
	for ; i < len(a); i++ {
		s0 += int32(a[i]) * int32(b[i])
	}
	return s0 + s1 + s2 + s3
}
