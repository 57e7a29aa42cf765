package heads

import (
	"errors"
	"fmt"
	"math"
)

// Network output sizes the heads read.
const (
	NumAgeClasses = 100  // age softmax classes; class i is age i+1
	FeatureDim    = 1024 // identity features (global_pooling/Mean)
	numDecades    = 10   // softmax mass per decade: 1-9, 10-19, ..., 90-100
	// InputDim is the length of the vector the heads read: L2-normalised
	// features, gender logit, two log ages, decade masses.
	InputDim = FeatureDim + 1 + 2 + numDecades
)

// Input is what the network gives for one face: the fields of
// agegender.Prediction the heads need.
type Input struct {
	AgeProbs []float32 // age softmax, NumAgeClasses entries
	MaleProb float64   // gender sigmoid, P(male)
	Features []float32 // raw identity features, FeatureDim entries
}

// ErrInput reports a network output the heads cannot read.
var ErrInput = errors.New("heads: bad network output")

// SeedAge decodes the age softmax the way the seed does (SPEC.md §2): the
// two most probable classes, renormalised, age = 1 + i1·p1' + i2·p2'.
func SeedAge(probs []float32) float64 {
	i1, i2 := -1, -1
	for i, p := range probs {
		switch {
		case i1 < 0 || p > probs[i1]:
			i2, i1 = i1, i
		case i2 < 0 || p > probs[i2]:
			i2 = i
		}
	}
	if i1 < 0 {
		return 0
	}
	if i2 < 0 {
		return float64(1 + i1)
	}
	p1, p2 := float64(probs[i1]), float64(probs[i2])
	s := p1 + p2
	if s <= 0 {
		return float64(1 + i1)
	}
	return 1 + float64(i1)*p1/s + float64(i2)*p2/s
}

func logit(p float64) float64 {
	const eps = 1e-6
	p = math.Min(math.Max(p, eps), 1-eps)
	return math.Log(p / (1 - p))
}

// vectorize writes the head input vector of in into dst (len InputDim).
func vectorize(in Input, dst []float64) error {
	if len(in.AgeProbs) != NumAgeClasses {
		return fmt.Errorf("%w: %d age probabilities, want %d", ErrInput, len(in.AgeProbs), NumAgeClasses)
	}
	if len(in.Features) != FeatureDim {
		return fmt.Errorf("%w: %d features, want %d", ErrInput, len(in.Features), FeatureDim)
	}
	if math.IsNaN(in.MaleProb) || in.MaleProb < 0 || in.MaleProb > 1 {
		return fmt.Errorf("%w: male probability %v outside [0,1]", ErrInput, in.MaleProb)
	}
	var ss float64
	for _, f := range in.Features {
		ss += float64(f) * float64(f)
	}
	if !(ss > 0) || math.IsInf(ss, 0) {
		return fmt.Errorf("%w: identity features have norm %v", ErrInput, math.Sqrt(ss))
	}
	inv := 1 / math.Sqrt(ss)
	for i, f := range in.Features {
		dst[i] = float64(f) * inv
	}
	k := FeatureDim
	dst[k] = logit(in.MaleProb)
	k++
	var expect, mass float64
	dec := dst[k+2 : k+2+numDecades]
	for i := range dec {
		dec[i] = 0
	}
	for i, p := range in.AgeProbs {
		pf := float64(p)
		if math.IsNaN(pf) || pf < 0 {
			return fmt.Errorf("%w: age probability %d is %v", ErrInput, i, pf)
		}
		expect += float64(i+1) * pf
		mass += pf
		d := (i + 1) / 10
		if d >= numDecades {
			d = numDecades - 1
		}
		dec[d] += pf
	}
	if !(mass > 0) {
		return fmt.Errorf("%w: age probabilities sum to %v", ErrInput, mass)
	}
	for i := range dec {
		dec[i] /= mass
	}
	dst[k] = math.Log(math.Max(SeedAge(in.AgeProbs), 1))
	dst[k+1] = math.Log(math.Max(expect/mass, 1))
	return nil
}
