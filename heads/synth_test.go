package heads

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// synthSamples makes n labelled faces whose "network outputs" carry age and
// gender the way the real ones do: a noisy age softmax, a noisy male
// sigmoid, and non-negative 1024-d features that mix age and gender into a
// few directions plus noise.
func synthSamples(n int, seed uint64) []Sample {
	fixed := rand.New(rand.NewPCG(1, 1)) // the same "network" for every call
	r := rand.New(rand.NewPCG(seed, 7))
	dirAge := make([]float64, FeatureDim)
	dirMale := make([]float64, FeatureDim)
	for j := range dirAge {
		dirAge[j] = fixed.NormFloat64()
		dirMale[j] = fixed.NormFloat64()
	}
	out := make([]Sample, n)
	for i := range out {
		age := 1 + math.Floor(r.Float64()*80)
		male := r.IntN(2) == 1
		g := -1.0
		if male {
			g = 1
		}
		feat := make([]float32, FeatureDim)
		for j := range feat {
			v := 0.5 + 0.02*dirAge[j]*(age-40)/20 + 0.05*dirMale[j]*g + 0.3*r.NormFloat64()
			feat[j] = float32(math.Min(math.Max(v, 0), 6))
		}
		// The network's own guess is biased towards 35 and noisy.
		guess := 0.6*age + 14 + 8*r.NormFloat64()
		probs := make([]float32, NumAgeClasses)
		var sum float64
		for k := range probs {
			d := (float64(k+1) - guess) / 6
			probs[k] = float32(math.Exp(-d * d / 2))
			sum += float64(probs[k])
		}
		for k := range probs {
			probs[k] = float32(float64(probs[k]) / sum)
		}
		pm := sigmoid(0.8*g + 1.2*r.NormFloat64())
		gender := Female
		if male {
			gender = Male
		}
		out[i] = Sample{
			Key:    fmt.Sprintf("s%05d", i),
			Hash:   fmt.Sprintf("h%05d", i),
			Age:    age,
			Gender: gender,
			In:     Input{AgeProbs: probs, MaleProb: pm, Features: feat},
		}
	}
	return out
}
