package hook

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/faced/faced/face"
	"github.com/faced/faced/heads"
	"github.com/faced/faced/index"
)

// fakeNet stands in for the network: outputs derived from the face key, so
// the test needs no model.
type fakeNet struct{ calls []string }

func fakeInput(seed uint64, age float64) heads.Input {
	r := rand.New(rand.NewPCG(seed, 3))
	in := heads.Input{AgeProbs: make([]float32, heads.NumAgeClasses), Features: make([]float32, heads.FeatureDim), MaleProb: 0.2 + 0.6*r.Float64()}
	for k := range in.AgeProbs {
		d := (float64(k+1) - age) / 8
		in.AgeProbs[k] = float32(math.Exp(-d*d/2)) + 1e-4
	}
	for j := range in.Features {
		in.Features[j] = float32(math.Max(0, 0.5+0.01*age*math.Sin(float64(j))+0.3*r.NormFloat64()))
	}
	return in
}

func (f *fakeNet) ExtractFaces(_ context.Context, faces []heads.FaceSample) ([]heads.Input, error) {
	out := make([]heads.Input, len(faces))
	for i, s := range faces {
		f.calls = append(f.calls, s.Key)
		out[i] = fakeInput(uint64(i)+100, s.Age)
	}
	return out, nil
}

func TestSetBirthSamplesReachTrainingSet(t *testing.T) {
	ctx := context.Background()
	ix, err := index.Open(ctx, filepath.Join(t.TempDir(), "faces.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()

	// Two persons: one whose birth year the user set (its dated photos are
	// labels), one whose birth year is only the model's guess (not labels).
	kid, _ := ix.CreatePerson(ctx, index.Person{Name: "Kid", NameSource: index.SourceUser})
	guess, _ := ix.CreatePerson(ctx, index.Person{})
	assign := map[int64]int64{}
	var kidFaces []int64
	for i := 0; i < 6; i++ {
		capt := time.Date(2012+2*i, 3, 1, 12, 0, 0, 0, time.UTC)
		id, err := ix.UpsertFile(ctx, index.File{Path: fmt.Sprintf("/photos/%d.jpg", i), Size: 1, Hash: fmt.Sprintf("%064d", i),
			ModTime: capt, CaptureTime: capt, CaptureSource: "exif"})
		if err != nil {
			t.Fatal(err)
		}
		b := face.Box{X1: 10, Y1: 10, X2: 110, Y2: 110}
		b2 := face.Box{X1: 210, Y1: 10, X2: 310, Y2: 110}
		ids, err := ix.ReplaceFaces(ctx, id, []face.Face{
			{Box: b, StoredBox: b, Score: 0.99, Age: 30, MaleProb: 0.3, Features: unit(uint64(i))},
			{Box: b2, StoredBox: b2, Score: 0.99, Age: 40, MaleProb: 0.7, Features: unit(uint64(i + 50))},
		}, "test-model")
		if err != nil {
			t.Fatal(err)
		}
		assign[ids[0]] = kid
		assign[ids[1]] = guess
		kidFaces = append(kidFaces, ids[0])
	}
	if _, err := ix.AssignFaces(ctx, assign, index.SourceUser); err != nil {
		t.Fatal(err)
	}
	if _, err := ix.SetBirthYear(ctx, kid, 2010, index.SourceUser); err != nil {
		t.Fatal(err)
	}
	if _, err := ix.SetGender(ctx, kid, index.GenderFemale, index.SourceUser); err != nil {
		t.Fatal(err)
	}
	if _, err := ix.SetBirthYear(ctx, guess, 1980, index.SourceAuto); err != nil {
		t.Fatal(err)
	}

	fake := &fakeNet{}
	src := heads.FaceSource{Name: "index:test", Reader: &IndexReader{Ix: ix, Refresh: true}, Extractor: fake}
	// Some labelled chips besides, as train-heads would combine them.
	var chips []heads.Sample
	for i := 0; i < 40; i++ {
		age := float64(5 + i*2)
		g := heads.Male
		if i%2 == 0 {
			g = heads.Female
		}
		chips = append(chips, heads.Sample{Key: fmt.Sprintf("chip%02d", i), Hash: "h", Age: age, Gender: g, In: fakeInput(uint64(i), age)})
	}
	samples, names, err := heads.Collect(ctx, heads.SliceSource{Name: "chips", List: chips}, src)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(names)
	byKey := map[string]heads.Sample{}
	for _, s := range samples {
		byKey[s.Key] = s
	}
	for i, id := range kidFaces {
		key := fmt.Sprintf("index:face:%d", id)
		s, ok := byKey[key]
		if !ok {
			t.Fatalf("set-birth face %d (%s) is not in the training set", id, key)
		}
		// Captured 1 March of 2012+2i, born mid-2010 (the index's rule:
		// year + (day of year − 1)/365.25 − (birth year + 0.5)).
		capt := time.Date(2012+2*i, 3, 1, 12, 0, 0, 0, time.UTC)
		want := float64(capt.Year()) + float64(capt.YearDay()-1)/365.25 - 2010.5
		if math.Abs(s.Age-want) > 1e-9 || s.Gender != heads.Female {
			t.Errorf("%s: age %v gender %v, want %v female", key, s.Age, s.Gender, want)
		}
	}
	if got, want := len(samples), len(chips)+len(kidFaces); got != want {
		t.Fatalf("%d samples, want %d (the model-guessed birth year must not label faces)", got, want)
	}
	if len(fake.calls) != len(kidFaces) {
		t.Errorf("network ran on %d crops, want %d", len(fake.calls), len(kidFaces))
	}
	h, err := heads.Train(ctx, samples, heads.Options{Folds: 2, Lambdas: []float64{0.1}, Weighting: []bool{false}})
	if err != nil {
		t.Fatal(err)
	}
	if h.Data.N != len(samples) || h.Data.NAge != len(samples) || h.Data.SHA256 != heads.DataHash(samples) {
		t.Errorf("trained on n=%d (age %d), want all %d samples", h.Data.N, h.Data.NAge, len(samples))
	}
	if heads.DataHash(samples) == heads.DataHash(chips) {
		t.Error("data hash ignores the index samples")
	}
}

func unit(seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	v := make([]float32, 16)
	var s float64
	for i := range v {
		x := r.NormFloat64()
		v[i] = float32(x)
		s += x * x
	}
	for i := range v {
		v[i] /= float32(math.Sqrt(s))
	}
	return v
}
