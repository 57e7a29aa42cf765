package heads

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestValidName(t *testing.T) {
	for name, ok := range map[string]bool{"utkface": true, "family-2024_v1.2": true, "seed": false, "": false,
		"../x": false, "a/b": false, ".hidden": false} {
		if err := ValidName(name); (err == nil) != ok {
			t.Errorf("ValidName(%q) = %v", name, err)
		}
	}
}

func TestApplyAndLoadRejectBadInput(t *testing.T) {
	h := &Heads{Format: FormatVersion, Gender: GenderHead{W: make([]float64, InputDim)},
		Age: AgeHead{Decode: DecodeMedian, W: make([]float64, InputDim), Thresholds: make([]float64, ageRanks-1)}}
	good := synthSamples(1, 1)[0].In
	if _, _, err := h.Apply(good); err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string]Input{
		"short features": {AgeProbs: good.AgeProbs, MaleProb: 0.5, Features: good.Features[:3]},
		"no age probs":   {MaleProb: 0.5, Features: good.Features},
		"bad sigmoid":    {AgeProbs: good.AgeProbs, MaleProb: 1.5, Features: good.Features},
		"zero features":  {AgeProbs: good.AgeProbs, MaleProb: 0.5, Features: make([]float32, FeatureDim)},
	} {
		if _, _, err := h.Apply(in); !errors.Is(err, ErrInput) {
			t.Errorf("%s: want ErrInput, got %v", name, err)
		}
	}
	dir := t.TempDir()
	for name, body := range map[string]string{
		"garbage":      "{",
		"wrong format": `{"format":"other/1"}`,
		"short":        `{"format":"faced-heads/1","gender":{"w":[1,2]}}`,
	} {
		p := filepath.Join(dir, "heads-x.json")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(p); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: want ErrFormat, got %v", name, err)
		}
	}
	if _, err := LoadNamed(dir, "missing"); err == nil {
		t.Error("loaded a missing heads file")
	}
}
