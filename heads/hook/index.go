package hook

import (
	"context"
	"fmt"
	"image"
	"math"
	"sort"
	"strconv"

	"github.com/faced/faced/heads"
	"github.com/faced/faced/index"
	"gocv.io/x/gocv"
)

// IndexReader reads the face index's age samples (index.RefreshAgeSamples:
// persons whose birth year a user or a sidecar set × photos with a real
// capture date) as labelled faces. Samples with a negative age (capture
// before birth: a wrong date or birth year) are dropped and counted. A
// person's gender set by a user or a sidecar labels gender too.
type IndexReader struct {
	Ix *index.Index
	// Refresh rebuilds the samples from the current persons first.
	Refresh bool
	// Dropped is filled by FaceSamples.
	Dropped int
}

// FaceSamples implements heads.FaceReader.
func (r *IndexReader) FaceSamples(ctx context.Context) ([]heads.FaceSample, error) {
	if r.Refresh {
		if _, err := r.Ix.RefreshAgeSamples(ctx); err != nil {
			return nil, err
		}
	}
	rows, err := r.Ix.AgeSamples(ctx)
	if err != nil {
		return nil, err
	}
	genders := map[int64]heads.Gender{}
	hashes := map[int64]string{}
	r.Dropped = 0
	var out []heads.FaceSample
	for _, s := range rows {
		if s.Age < 0 || math.IsNaN(s.Age) {
			r.Dropped++
			continue
		}
		g, ok := genders[s.PersonID]
		if !ok {
			p, err := r.Ix.Person(ctx, s.PersonID)
			if err != nil {
				return nil, err
			}
			if p.GenderSource == index.SourceUser || p.GenderSource == index.SourceSidecar {
				switch p.Gender {
				case index.GenderMale:
					g = heads.Male
				case index.GenderFemale:
					g = heads.Female
				}
			}
			genders[s.PersonID] = g
		}
		h, ok := hashes[s.FileID]
		if !ok {
			f, err := r.Ix.FileByID(ctx, s.FileID)
			if err != nil {
				return nil, err
			}
			h = f.Hash
			hashes[s.FileID] = h
		}
		out = append(out, heads.FaceSample{
			Key:    "index:face:" + strconv.FormatInt(s.FaceID, 10),
			Path:   s.Path,
			Hash:   h,
			Box:    [4]float64{s.Box.X1, s.Box.Y1, s.Box.X2, s.Box.Y2},
			Age:    s.Age,
			Gender: g,
		})
	}
	return out, nil
}

// CropMargin is the seed's fixed crop expansion in pixels (SPEC.md §2).
const CropMargin = 10

// CropExtractor decodes each photo upright (OpenCV applies the EXIF
// orientation), crops every face box expanded by CropMargin pixels and
// clamped to the image (the seed's crop), and runs the crops through the
// network. It implements heads.FaceExtractor.
type CropExtractor struct {
	Net   Predictor
	Batch int // default 8
}

// ExtractFaces implements heads.FaceExtractor.
func (e CropExtractor) ExtractFaces(ctx context.Context, faces []heads.FaceSample) ([]heads.Input, error) {
	batch := e.Batch
	if batch <= 0 {
		batch = 8
	}
	order := make([]int, len(faces))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return faces[order[a]].Path < faces[order[b]].Path })
	out := make([]heads.Input, len(faces))
	var (
		img     gocv.Mat
		imgPath string
		crops   []gocv.Mat
		owners  []int
	)
	flush := func() error {
		if len(crops) == 0 {
			return nil
		}
		preds, err := e.Net.Predict(crops)
		for _, c := range crops {
			c.Close()
		}
		if err != nil {
			return fmt.Errorf("heads: face crops: %w", err)
		}
		for k, p := range preds {
			out[owners[k]] = heads.Input{
				AgeProbs: append([]float32(nil), p.AgeProbs...),
				MaleProb: p.MaleProb,
				Features: append([]float32(nil), p.Features...),
			}
		}
		crops, owners = crops[:0], owners[:0]
		return nil
	}
	defer func() {
		if imgPath != "" {
			img.Close()
		}
		for _, c := range crops {
			c.Close()
		}
	}()
	for _, i := range order {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		f := faces[i]
		if f.Path != imgPath {
			if imgPath != "" {
				img.Close()
				imgPath = ""
			}
			img = gocv.IMRead(f.Path, gocv.IMReadColor)
			if img.Empty() {
				img.Close()
				return nil, fmt.Errorf("heads: %s: cannot decode image", f.Path)
			}
			imgPath = f.Path
		}
		r := image.Rect(
			max(0, int(f.Box[0])-CropMargin), max(0, int(f.Box[1])-CropMargin),
			min(img.Cols(), int(f.Box[2])+CropMargin), min(img.Rows(), int(f.Box[3])+CropMargin))
		if r.Dx() <= 0 || r.Dy() <= 0 {
			return nil, fmt.Errorf("heads: %s (%s): face box %v outside the %dx%d image", f.Path, f.Key, f.Box, img.Cols(), img.Rows())
		}
		reg := img.Region(r)
		crops = append(crops, reg.Clone())
		reg.Close()
		owners = append(owners, i)
		if len(crops) == batch {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}
