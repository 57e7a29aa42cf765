// Package agegender runs the seed's multi-output MobileNet on face crops:
// apparent age (100-class softmax decoded as the seed does), P(male) and the
// 1024-d identity features. It owns the network's preprocessing (224x224
// bilinear resize, BGR minus the Keras "caffe" means) and batching (one ONNX
// Runtime call per Predict).
package agegender

import (
	"errors"
	"fmt"
	"image"
	"slices"

	"github.com/faced/faced/models"
	"gocv.io/x/gocv"
)

// Variants of the network.
const (
	VariantInt8    = "int8"    // int8 QDQ model (models.AgeGenderInt8)
	VariantFloat32 = "float32" // weight-only 8-bit, float32 compute (models.AgeGender)
	// DefaultVariant is used when Open is given "".
	DefaultVariant = VariantInt8
)

// InputSize is the network's input width and height.
const InputSize = 224

// MaleThreshold is the seed's display/eval rule: male iff P(male) >= 0.6
// (facial_analysis.py:81), not 0.5. faced keeps it so its gender figures
// compare with the seed's; the network's sigmoid is not a calibrated
// probability, and near 0.6 it is unsure either way (male_prob 0.598 reads
// female). A person's gender uses the seed's Dempster–Shafer rule instead,
// whose one-face crossover is 0.614.
const MaleThreshold = 0.6

// ErrBadCrop: a crop is empty or not 8-bit BGR.
var ErrBadCrop = errors.New("face crop is not a non-empty 8-bit BGR image")

// Prediction is the network's output for one face.
type Prediction struct {
	AgeProbs []float32 // softmax over ages 1..100 (index i = age i+1)
	Age      float64   // DecodeAge(AgeProbs), or the heads' estimate
	MaleProb float64   // sigmoid output P(male), or the heads' estimate
	Features []float32 // raw global-pooling features (not normalised)
}

// Heads replace the seed's age and gender estimates from the network's
// outputs (e.g. calibrated heads trained on the identity features). Apply
// may change p.Age and p.MaleProb; it must not keep p.Features.
type Heads interface {
	Apply(p *Prediction)
}

// Net is an opened age/gender/identity network. Predict is safe for
// concurrent use (see models.Session).
type Net struct {
	sess    *models.Session
	variant string
	heads   Heads
}

// ModelName maps a variant to its registry name.
func ModelName(variant string) (string, error) {
	switch variant {
	case "":
		return ModelName(DefaultVariant)
	case VariantInt8:
		return models.AgeGenderInt8, nil
	case VariantFloat32:
		return models.AgeGender, nil
	}
	return "", fmt.Errorf("unknown age/gender model variant %q (want %q or %q)", variant, VariantInt8, VariantFloat32)
}

// Open opens a variant ("" = DefaultVariant) from the registry.
func Open(reg *models.Registry, variant string, opt models.SessionOptions) (*Net, error) {
	name, err := ModelName(variant)
	if err != nil {
		return nil, err
	}
	if variant == "" {
		variant = DefaultVariant
	}
	s, err := reg.NewSession(name, opt)
	if err != nil {
		return nil, err
	}
	return &Net{sess: s, variant: variant}, nil
}

// Variant returns the opened variant.
func (n *Net) Variant() string { return n.variant }

// SetHeads installs heads applied after every prediction (nil = the seed's
// decoding). Call it before sharing the Net between goroutines.
func (n *Net) SetHeads(h Heads) { n.heads = h }

// Close releases the session.
func (n *Net) Close() error { return n.sess.Close() }

// Preprocess appends one crop's network input (224x224x3, BGR minus means,
// NHWC) to dst.
func Preprocess(dst []float32, crop gocv.Mat) ([]float32, error) {
	if crop.Empty() || crop.Type() != gocv.MatTypeCV8UC3 {
		return dst, ErrBadCrop
	}
	var m gocv.Mat
	if crop.Cols() == InputSize && crop.Rows() == InputSize {
		m = crop
	} else {
		m = gocv.NewMat()
		defer m.Close()
		gocv.Resize(crop, &m, image.Pt(InputSize, InputSize), 0, 0, gocv.InterpolationLinear)
	}
	if !m.IsContinuous() {
		c := m.Clone()
		defer c.Close()
		m = c
	}
	px, err := m.DataPtrUint8()
	if err != nil {
		return dst, err
	}
	// Each value through a table of float32(v) − mean per channel (the
	// same values; converting every byte took most of a crop's
	// preprocessing), into dst grown once.
	lut := &meanTables
	n := len(px) / 3 * 3
	start := len(dst)
	dst = slices.Grow(dst, n)[:start+n]
	out, px := dst[start:start+n], px[:n]
	for i := 0; i+2 < n; i += 3 {
		out[i] = lut[0][px[i]]
		out[i+1] = lut[1][px[i+1]]
		out[i+2] = lut[2][px[i+2]]
	}
	return dst, nil
}

// Predict runs the network on a batch of BGR 8UC3 crops of any size, in one
// ONNX Runtime call.
// meanTables[c][v] is float32(v) − models.CaffeMeans[c].
var meanTables = func() (t [3][256]float32) {
	for c := range t {
		for v := range t[c] {
			t[c][v] = float32(v) - models.CaffeMeans[c]
		}
	}
	return t
}()

func (n *Net) Predict(batch []gocv.Mat) ([]Prediction, error) {
	if len(batch) == 0 {
		return nil, nil
	}
	data := inputs.Get(len(batch) * InputSize * InputSize * 3)[:0]
	defer func() { inputs.Put(data) }()
	for i, m := range batch {
		var err error
		if data, err = Preprocess(data, m); err != nil {
			return nil, fmt.Errorf("crop %d: %w", i, err)
		}
	}
	return n.PredictTensor(models.Tensor{Shape: []int64{int64(len(batch)), InputSize, InputSize, 3}, Data: data})
}

// inputs keeps Predict's input buffers (600 kB per face) for reuse
// (models.FreeList); PredictTensor keeps no reference to its input (the
// outputs are copies).
var inputs models.FreeList[float32]

// PredictTensor runs the network on already preprocessed input
// [N,224,224,3].
func (n *Net) PredictTensor(in models.Tensor) ([]Prediction, error) {
	out, err := n.sess.Run(in)
	if err != nil {
		return nil, err
	}
	if len(out) != 3 {
		return nil, fmt.Errorf("age/gender model returned %d outputs, want 3", len(out))
	}
	N := int(in.Shape[0])
	age, male, feat := out[0].Data, out[1].Data, out[2].Data
	if len(age) != N*100 || len(male) != N || len(feat) != N*1024 {
		return nil, fmt.Errorf("age/gender model output sizes %d/%d/%d for batch %d", len(age), len(male), len(feat), N)
	}
	preds := make([]Prediction, N)
	for i := range preds {
		p := Prediction{
			AgeProbs: age[i*100 : (i+1)*100 : (i+1)*100],
			MaleProb: float64(male[i]),
			Features: feat[i*1024 : (i+1)*1024 : (i+1)*1024],
		}
		p.Age = DecodeAge(p.AgeProbs)
		if n.heads != nil {
			n.heads.Apply(&p)
		}
		preds[i] = p
	}
	return preds, nil
}

// DecodeAge is the seed's age estimate: the two most probable classes i1,
// i2, probabilities renormalised over the pair, age = 1 + i1*p1' + i2*p2'
// (class i is age i+1). Not argmax, not the full expectation.
func DecodeAge(probs []float32) float64 {
	if len(probs) == 0 {
		return 0
	}
	i1, i2 := -1, -1
	for i, p := range probs {
		switch {
		case i1 < 0 || p > probs[i1]:
			i2, i1 = i1, i
		case i2 < 0 || p > probs[i2]:
			i2 = i
		}
	}
	if i2 < 0 {
		return float64(1 + i1)
	}
	p1, p2 := float64(probs[i1]), float64(probs[i2])
	s := p1 + p2
	if s <= 0 {
		return 1 + float64(i1+i2)/2
	}
	return 1 + float64(i1)*p1/s + float64(i2)*p2/s
}

// IsMale applies the seed's rule (P(male) >= 0.6).
func IsMale(maleProb float64) bool { return maleProb >= MaleThreshold }

// FromSession wraps an already opened session of an age/gender model (tests,
// experiments with models outside the registry).
func FromSession(s *models.Session, variant string) *Net { return &Net{sess: s, variant: variant} }
