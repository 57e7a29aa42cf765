package cluster

import (
	"math"
	"math/rand/v2"
)

// lfwWorld generates faces whose distances look like those of the seed's
// network on LFW (../shared/testdata/lfw/images, 781 faces):
//
//	            same person                 different persons
//	LFW         p5 0.551 p50 0.731 p95 0.922  p1 0.885 p5 0.948 p50 1.085, 0.12 % ≤ 0.82
//	lfwWorld    p5 0.576 p50 0.739 p95 0.912  p1 0.882 p5 0.944 p50 1.098, 0.12 % ≤ 0.82
//
// A face is normalise(√0.41·g + person + noise): g is a direction shared by
// everyone (LFW features have a mean of norm 0.65), a person is an 8-d
// "look" (variance 0.24, this gives the lower tail of the distances between
// persons) plus an individual part (0.085), and every photo adds noise of
// variance 0.265 scaled by exp(0.25·N(0,1)) (photo quality).
type lfwWorld struct {
	r   *rand.Rand
	dim int
	g   []float64
	a   [][]float64 // 8 look directions
}

func newLFWWorld(seed uint64, dim int) *lfwWorld {
	w := &lfwWorld{r: rand.New(rand.NewPCG(seed, 0x1f3)), dim: dim}
	w.g = w.gauss(1)
	for k := 0; k < 8; k++ {
		w.a = append(w.a, w.gauss(1))
	}
	return w
}

func (w *lfwWorld) gauss(v float64) []float64 {
	x := make([]float64, w.dim)
	s := math.Sqrt(v / float64(w.dim))
	for i := range x {
		x[i] = s * w.r.NormFloat64()
	}
	return x
}

// person returns a new person's centre.
func (w *lfwWorld) person() []float64 {
	c := w.gauss(0.085)
	for i := range c {
		c[i] += math.Sqrt(0.41) * w.g[i]
	}
	for _, a := range w.a {
		z := w.r.NormFloat64() * math.Sqrt(0.24/8)
		for i := range c {
			c[i] += z * a[i]
		}
	}
	return c
}

// face returns a photo of the person with centre c, L2-normalised.
func (w *lfwWorld) face(c []float64) []float32 {
	s := math.Sqrt(0.265/float64(w.dim)) * math.Exp(0.25*w.r.NormFloat64())
	v := make([]float32, w.dim)
	var n float64
	x := make([]float64, w.dim)
	for i := range x {
		x[i] = c[i] + s*w.r.NormFloat64()
		n += x[i] * x[i]
	}
	n = math.Sqrt(n)
	for i := range v {
		v[i] = float32(x[i] / n)
	}
	return v
}

// items returns persons×per faces (ids from 1, one photo each) and the
// person of each.
func (w *lfwWorld) items(persons, per int) ([]Item, []int, [][]float64) {
	var items []Item
	var truth []int
	var centres [][]float64
	for p := 0; p < persons; p++ {
		c := w.person()
		centres = append(centres, c)
		for j := 0; j < per; j++ {
			id := int64(len(items) + 1)
			items = append(items, Item{ID: id, Photo: id, Features: w.face(c)})
			truth = append(truth, p)
		}
	}
	return items, truth, centres
}

// library returns about n faces shaped like a personal photo library: a
// fifth of the faces are strangers seen once, the others belong to persons
// whose photo counts follow a power law (1/s², 2 to 400 photos).
func (w *lfwWorld) library(n int) ([]Item, []int, [][]float64) {
	var items []Item
	var truth []int
	var centres [][]float64
	add := func(per int) {
		c := w.person()
		p := len(centres)
		centres = append(centres, c)
		for j := 0; j < per; j++ {
			id := int64(len(items) + 1)
			items = append(items, Item{ID: id, Photo: id, Features: w.face(c)})
			truth = append(truth, p)
		}
	}
	for len(items) < n {
		if w.r.Float64() < 0.2*4 { // per draw: strangers are 1-photo persons
			add(1)
			continue
		}
		// inverse-CDF of a 1/s² law on [2, 400]
		u := w.r.Float64()
		s := int(1 / (1.0/2 - u*(1.0/2-1.0/400)))
		add(min(s, n-len(items)))
	}
	return items, truth, centres
}
