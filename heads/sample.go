package heads

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"sort"
	"strconv"
)

// Gender is a training label; Unknown samples train only the age head.
type Gender int8

// Gender labels.
const (
	GenderUnknown Gender = iota
	Male
	Female
)

func (g Gender) String() string {
	switch g {
	case Male:
		return "male"
	case Female:
		return "female"
	}
	return "unknown"
}

// Sample is one labelled face.
type Sample struct {
	// Key identifies the sample uniquely and stably (a file name relative to
	// its folder, or "index:<face id>"). Samples are ordered by key before
	// training, so the order sources return them in does not matter.
	Key string
	// Hash is the content hash of what the sample was computed from (the
	// file's SHA-256, or a digest of the index row). It enters the data hash.
	Hash string
	// Age in years; negative or NaN = unknown (the sample then trains only
	// the gender head).
	Age    float64
	Gender Gender
	// In is the network's output for the face.
	In Input
}

func (s Sample) hasAge() bool { return s.Age >= 0 && !math.IsNaN(s.Age) }

// Source yields labelled samples, e.g. a folder of labelled chips or the
// face index's age samples (person birth year × dated photo).
type Source interface {
	// Describe names the source for the heads' provenance.
	Describe() string
	Samples(ctx context.Context) ([]Sample, error)
}

// Collect reads every source and returns the union ordered by key. Two
// samples with one key are an error naming the key.
func Collect(ctx context.Context, srcs ...Source) ([]Sample, []string, error) {
	var all []Sample
	var names []string
	for _, s := range srcs {
		got, err := s.Samples(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("heads: source %s: %w", s.Describe(), err)
		}
		all = append(all, got...)
		names = append(names, fmt.Sprintf("%s (%d)", s.Describe(), len(got)))
	}
	if err := sortSamples(all); err != nil {
		return nil, nil, err
	}
	return all, names, nil
}

func sortSamples(s []Sample) error {
	sort.SliceStable(s, func(i, j int) bool { return s[i].Key < s[j].Key })
	for i := 1; i < len(s); i++ {
		if s[i].Key == s[i-1].Key {
			return fmt.Errorf("heads: two samples with key %q", s[i].Key)
		}
	}
	return nil
}

// DataHash is the SHA-256 over the key-ordered list of samples, one line
// per sample: key, content hash, age and gender label.
func DataHash(samples []Sample) string {
	idx := make([]int, len(samples))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return samples[idx[a]].Key < samples[idx[b]].Key })
	h := sha256.New()
	for _, i := range idx {
		s := samples[i]
		age := "?"
		if s.hasAge() {
			age = strconv.FormatFloat(s.Age, 'g', -1, 64)
		}
		fmt.Fprintf(h, "%s\t%s\t%s\t%s\n", s.Key, s.Hash, age, s.Gender)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// SliceSource is a Source over samples already in memory.
type SliceSource struct {
	Name string
	List []Sample
}

// Describe implements Source.
func (s SliceSource) Describe() string { return s.Name }

// Samples implements Source.
func (s SliceSource) Samples(context.Context) ([]Sample, error) {
	return append([]Sample(nil), s.List...), nil
}
