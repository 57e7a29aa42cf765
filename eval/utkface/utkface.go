// Package utkface reproduces the seed's UTKFace evaluation (SPEC.md §6):
// aligned-and-cropped chips fed straight to the age/gender network (no
// detection), labels from the file names, male iff P(male) >= 0.6, age
// decoded as the seed does (top-2 renormalised expectation).
package utkface

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/faced/faced/agegender"
	"gocv.io/x/gocv"
)

// Label is what a UTKFace file name says: AGE_GENDER_RACE_DATE.jpg[.chip.jpg],
// gender 0 = male, 1 = female.
type Label struct {
	Age  int
	Male bool
}

// ErrBadName: the file name does not follow the UTKFace pattern.
var ErrBadName = errors.New("not a UTKFace file name (AGE_GENDER_RACE_DATE.jpg)")

// ParseLabel reads the label from a UTKFace file name.
func ParseLabel(name string) (Label, error) {
	base := filepath.Base(name)
	parts := strings.Split(base, "_")
	if len(parts) < 3 {
		return Label{}, fmt.Errorf("%s: %w", base, ErrBadName)
	}
	age, err := strconv.Atoi(parts[0])
	if err != nil || age < 0 || age > 130 {
		return Label{}, fmt.Errorf("%s: age %q: %w", base, parts[0], ErrBadName)
	}
	switch parts[1] {
	case "0":
		return Label{Age: age, Male: true}, nil
	case "1":
		return Label{Age: age, Male: false}, nil
	}
	return Label{}, fmt.Errorf("%s: gender %q: %w", base, parts[1], ErrBadName)
}

// Sample is one labelled chip.
type Sample struct {
	Path string
	Label
}

// List returns the labelled .jpg files of dir, sorted by name. Files whose
// names are not UTKFace labels are an error (naming the file).
func List(dir string) ([]Sample, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []Sample
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(strings.ToLower(e.Name()), ".jpg") {
			continue
		}
		l, err := ParseLabel(e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, Sample{Path: filepath.Join(dir, e.Name()), Label: l})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no UTKFace .jpg chips", dir)
	}
	return out, nil
}

// Subset is the figures on a subset of the chips.
type Subset struct {
	N              int     `json:"n"`
	GenderAccuracy float64 `json:"gender_accuracy"`
	AgeMAE         float64 `json:"age_mae"`
}

// Result is the evaluation's outcome.
type Result struct {
	Variant        string  `json:"variant,omitempty"`
	N              int     `json:"n"`
	GenderAccuracy float64 `json:"gender_accuracy"` // 0..1
	AgeMAE         float64 `json:"age_mae"`         // years
	Within5        float64 `json:"within5"`         // share with |error| <= 5 years
	// AdienceAccuracy: true and predicted ages fall in the same Adience
	// group (AdienceGroup).
	AdienceAccuracy float64 `json:"adience_accuracy"`
	// Ages2160: chips aged 21-60 only, predictions clipped to [21,60]
	// (the CORAL test protocol).
	Ages2160   Subset  `json:"ages_21_60"`
	ImagesPerS float64 `json:"images_per_s"`
	Seconds    float64 `json:"seconds"`
}

// AdienceGroup maps an age to one of the eight Adience groups 0-2, 4-6,
// 8-12, 15-20, 25-32, 38-43, 48-53, 60+; ages in the gaps between groups go
// to the nearer group (the boundary is the gap's midpoint).
func AdienceGroup(age float64) int {
	for i, b := range []float64{3, 7, 13.5, 22.5, 35, 45.5, 56.5} {
		if age < b {
			return i
		}
	}
	return 7
}

// Score computes the figures from per-chip predictions (age, P(male)).
func Score(samples []Sample, age, male []float64) Result {
	var r Result
	var sub Subset
	var ok, within, adience, subOK int
	var abs, subAbs float64
	for i, s := range samples {
		r.N++
		if agegender.IsMale(male[i]) == s.Male {
			ok++
		}
		e := math.Abs(age[i] - float64(s.Age))
		abs += e
		if e <= 5 {
			within++
		}
		if AdienceGroup(age[i]) == AdienceGroup(float64(s.Age)) {
			adience++
		}
		if s.Age >= 21 && s.Age <= 60 {
			sub.N++
			if agegender.IsMale(male[i]) == s.Male {
				subOK++
			}
			subAbs += math.Abs(math.Min(60, math.Max(21, age[i])) - float64(s.Age))
		}
	}
	if r.N > 0 {
		n := float64(r.N)
		r.GenderAccuracy, r.AgeMAE, r.Within5, r.AdienceAccuracy = float64(ok)/n, abs/n, float64(within)/n, float64(adience)/n
	}
	if sub.N > 0 {
		sub.GenderAccuracy, sub.AgeMAE = float64(subOK)/float64(sub.N), subAbs/float64(sub.N)
	}
	r.Ages2160 = sub
	return r
}

// Predictor is the age/gender network (agegender.Net).
type Predictor interface {
	Predict(batch []gocv.Mat) ([]agegender.Prediction, error)
}

// Evaluate runs the network on every sample, batch chips per call, and
// scores the predictions. progress, if not nil, is called with the number of
// chips done after each batch.
func Evaluate(ctx context.Context, samples []Sample, net Predictor, batch int, progress func(done int)) (Result, error) {
	if batch < 1 {
		batch = 1
	}
	age := make([]float64, 0, len(samples))
	male := make([]float64, 0, len(samples))
	start := time.Now()
	for i := 0; i < len(samples); i += batch {
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		end := min(i+batch, len(samples))
		mats := make([]gocv.Mat, 0, end-i)
		closeAll := func() {
			for _, m := range mats {
				m.Close()
			}
		}
		for _, s := range samples[i:end] {
			m := gocv.IMRead(s.Path, gocv.IMReadColor)
			if m.Empty() {
				m.Close()
				closeAll()
				return Result{}, fmt.Errorf("%s: cannot decode image", s.Path)
			}
			mats = append(mats, m)
		}
		preds, err := net.Predict(mats)
		closeAll()
		if err != nil {
			return Result{}, fmt.Errorf("chips %d-%d: %w", i, end-1, err)
		}
		for _, p := range preds {
			age = append(age, p.Age)
			male = append(male, p.MaleProb)
		}
		if progress != nil {
			progress(end)
		}
	}
	el := time.Since(start).Seconds()
	r := Score(samples, age, male)
	r.Seconds = el
	if el > 0 {
		r.ImagesPerS = float64(len(samples)) / el
	}
	return r, nil
}
