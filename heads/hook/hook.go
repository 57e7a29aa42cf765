// Package hook connects trained heads (package heads) to the age/gender
// network: it adapts *heads.Heads to agegender.Heads and extracts the
// network's outputs from whole image files for training. It is separate
// from package heads so that training and applying heads stays pure Go.
package hook

import (
	"context"
	"fmt"

	"github.com/faced/faced/agegender"
	"github.com/faced/faced/heads"
	"github.com/faced/faced/models"
	"gocv.io/x/gocv"
)

// Adapter applies trained heads to every prediction of an agegender.Net.
type Adapter struct {
	H *heads.Heads
	// OnError, when set, is told about predictions the heads could not read
	// (they keep the seed's estimates).
	OnError func(error)
}

// Apply implements agegender.Heads: it replaces p.Age and p.MaleProb with
// the heads' estimates. A prediction the heads cannot read keeps the seed's
// estimates.
func (a Adapter) Apply(p *agegender.Prediction) {
	age, male, err := a.H.Apply(heads.Input{AgeProbs: p.AgeProbs, MaleProb: p.MaleProb, Features: p.Features})
	if err != nil {
		if a.OnError != nil {
			a.OnError(err)
		}
		return
	}
	p.Age, p.MaleProb = age, male
}

// Load returns the heads called name in the model registry folder
// modelsDir as an agegender.Heads, or nil for "" and "seed" (the network's
// own heads). It refuses heads trained on another model file than
// modelSHA256 (when both are known).
func Load(modelsDir, name, modelSHA256 string) (agegender.Heads, *heads.Heads, error) {
	if name == "" || name == heads.Seed {
		return nil, nil, nil
	}
	h, err := heads.LoadNamed(modelsDir, name)
	if err != nil {
		return nil, nil, err
	}
	if modelSHA256 != "" && h.Model.SHA256 != "" && h.Model.SHA256 != modelSHA256 {
		return nil, nil, fmt.Errorf("heads %q were trained on model %.12s (%s), not on the opened model %.12s: retrain them or open the %s variant",
			name, h.Model.SHA256, h.Model.Variant, modelSHA256, h.Model.Variant)
	}
	return Adapter{H: h}, h, nil
}

// Predictor is the age/gender network (agegender.Net).
type Predictor interface {
	Predict(batch []gocv.Mat) ([]agegender.Prediction, error)
}

// Extractor runs whole image files (face chips, no detection) through the
// network, Batch files per call. It implements heads.Extractor.
type Extractor struct {
	Net   Predictor
	Batch int // default 8
}

// Extract implements heads.Extractor.
func (e Extractor) Extract(ctx context.Context, files []heads.File) ([]heads.Input, error) {
	batch := e.Batch
	if batch <= 0 {
		batch = 8
	}
	out := make([]heads.Input, 0, len(files))
	for start := 0; start < len(files); start += batch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		part := files[start:min(start+batch, len(files))]
		mats := make([]gocv.Mat, 0, len(part))
		closeAll := func() {
			for _, m := range mats {
				m.Close()
			}
		}
		for _, f := range part {
			m := gocv.IMRead(f.Path, gocv.IMReadColor)
			if m.Empty() {
				m.Close()
				closeAll()
				return nil, fmt.Errorf("heads: %s: cannot decode image", f.Path)
			}
			mats = append(mats, m)
		}
		preds, err := e.Net.Predict(mats)
		closeAll()
		if err != nil {
			return nil, fmt.Errorf("heads: %s...: %w", part[0].Path, err)
		}
		for _, p := range preds {
			out = append(out, heads.Input{
				AgeProbs: append([]float32(nil), p.AgeProbs...),
				MaleProb: p.MaleProb,
				Features: append([]float32(nil), p.Features...),
			})
		}
	}
	return out, nil
}

// Open returns the heads called name ("" or "seed": nil, the network's own
// heads) for the age/gender model variant of reg ("" = the default
// variant), refusing heads trained on another model file. This is what the
// analyzer's Options.Heads and the daemon's "Heads" key need.
func Open(reg *models.Registry, variant, name string) (agegender.Heads, error) {
	if name == "" || name == heads.Seed {
		return nil, nil
	}
	mname, err := agegender.ModelName(variant)
	if err != nil {
		return nil, err
	}
	mi, err := reg.Model(mname)
	if err != nil {
		return nil, err
	}
	hk, _, err := Load(reg.Dir(), name, mi.SHA256)
	return hk, err
}
