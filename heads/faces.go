package heads

import (
	"context"
	"fmt"
	"strconv"
)

// FaceSample is a labelled face inside a photo: the face index's age
// samples (a person's birth year set by the user × a dated photo of that
// person), where the network must be run again on the face's crop.
type FaceSample struct {
	Key    string     // unique, e.g. "index:face:42"
	Path   string     // photo
	Hash   string     // photo content hash ("" = unknown)
	Box    [4]float64 // face box X1, Y1, X2, Y2 in upright pixels
	Age    float64    // label in years; negative = unknown
	Gender Gender
}

// FaceReader lists labelled faces (implemented over the face index by
// heads/hook.IndexReader).
type FaceReader interface {
	FaceSamples(ctx context.Context) ([]FaceSample, error)
}

// FaceExtractor runs the network on the crops of labelled faces.
type FaceExtractor interface {
	ExtractFaces(ctx context.Context, faces []FaceSample) ([]Input, error)
}

// FaceSource is a Source over labelled faces in photos.
type FaceSource struct {
	Name      string // e.g. "index:faces.db"
	Reader    FaceReader
	Extractor FaceExtractor
}

// Describe implements Source.
func (s FaceSource) Describe() string { return s.Name }

// Samples implements Source. Faces without a usable label (negative age and
// unknown gender) are dropped.
func (s FaceSource) Samples(ctx context.Context) ([]Sample, error) {
	all, err := s.Reader.FaceSamples(ctx)
	if err != nil {
		return nil, err
	}
	var faces []FaceSample
	for _, f := range all {
		if (f.Age >= 0) || f.Gender != GenderUnknown {
			faces = append(faces, f)
		}
	}
	if len(faces) == 0 {
		return nil, nil
	}
	ins, err := s.Extractor.ExtractFaces(ctx, faces)
	if err != nil {
		return nil, err
	}
	if len(ins) != len(faces) {
		return nil, fmt.Errorf("heads: face extractor returned %d outputs for %d faces", len(ins), len(faces))
	}
	out := make([]Sample, len(faces))
	for i, f := range faces {
		h := f.Hash
		for _, v := range f.Box {
			h += ":" + strconv.FormatFloat(v, 'g', -1, 64)
		}
		age := f.Age
		if age < 0 {
			age = -1
		}
		out[i] = Sample{Key: f.Key, Hash: h, Age: age, Gender: f.Gender, In: ins[i]}
	}
	return out, nil
}
