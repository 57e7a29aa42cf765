package heads

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"

	"github.com/google/renameio/v2"
)

// FormatVersion tags heads files; CreatedBy names the trainer that wrote one.
// Files of FormatV1 (no adult expert) still load.
const (
	FormatVersion = "faced-heads/2"
	FormatV1      = "faced-heads/1"
	CreatedBy     = "faced heads trainer 2 (shared-weight ordinal age with a gated adult expert, logistic gender)"
)

// Seed is the name that selects the network's own heads (no heads file).
const Seed = "seed"

// Heads is a trained pair of heads with its provenance: the content of a
// heads-NAME.json file.
type Heads struct {
	Format    string     `json:"format"`
	Name      string     `json:"name"`
	CreatedBy string     `json:"created_by"`
	Model     ModelInfo  `json:"model"`
	Data      DataInfo   `json:"data"`
	CV        CVInfo     `json:"cv"`
	Gender    GenderHead `json:"gender"`
	Age       AgeHead    `json:"age"`
}

// ModelInfo names the network whose outputs the heads read.
type ModelInfo struct {
	SHA256  string `json:"sha256"`  // of the converted model file
	Variant string `json:"variant"` // int8 or float32
}

// DataInfo is the training data's provenance.
type DataInfo struct {
	SHA256  string   `json:"sha256"` // DataHash of the key-ordered samples
	N       int      `json:"n"`
	NAge    int      `json:"n_age"`
	NGender int      `json:"n_gender"`
	Sources []string `json:"sources"`
	License string   `json:"license"` // as the user gave it
}

// CVInfo holds the cross-validation grid and the settings chosen.
type CVInfo struct {
	Folds        int       `json:"folds"`
	Seed         uint64    `json:"seed"`
	Criterion    string    `json:"criterion"` // balanced or plain
	Gender       []CVPoint `json:"gender"`
	Age          []CVPoint `json:"age"`
	GenderChosen CVPoint   `json:"gender_chosen"`
	AgeChosen    CVPoint   `json:"age_chosen"`
	// Adult expert: every setting tried on top of the chosen age head, and
	// the one chosen by the 21-60 criterion (nil: no expert beat the age
	// head alone).
	ExpertCriterion string    `json:"expert_criterion,omitempty"`
	Expert          []CVPoint `json:"expert,omitempty"`
	ExpertChosen    *CVPoint  `json:"expert_chosen,omitempty"`
}

// GenderHead is a logistic regression on the raw head input (the training
// z-scoring is folded into W and B). MaleProb = σ(W·x + B + Shift): Shift =
// logit(0.6) so that the seed's rule "male iff P ≥ 0.6" decides exactly at
// the regression's own 0.5 cut.
type GenderHead struct {
	Lambda   float64   `json:"lambda"`
	Weighted bool      `json:"weighted"`
	Shift    float64   `json:"shift"`
	W        []float64 `json:"w"`
	B        float64   `json:"b"`
}

// AgeHead is a shared-weight ordinal regression: P(age > k) = σ(W·x + T[k-1])
// for k = 1..99, decoded by Decode.
type AgeHead struct {
	Lambda     float64   `json:"lambda"`
	Weighted   bool      `json:"weighted"`
	Decode     string    `json:"decode"`
	W          []float64 `json:"w"`
	Thresholds []float64 `json:"thresholds"`
	// Expert, when set, re-estimates the age of faces the head above
	// places inside Expert.Gate.
	Expert *AgeExpert `json:"expert,omitempty"`
}

// AgeExpert is a second shared-weight ordinal head trained only on faces
// aged Range[0]..Range[1] (one linear projection cannot serve a toddler's
// and a fifty-year-old's face alike). It replaces the main age head's
// estimate a when Gate[0] ≤ a ≤ Gate[1].
type AgeExpert struct {
	Range       [2]float64 `json:"range"`
	Gate        [2]float64 `json:"gate"`
	Lambda      float64    `json:"lambda"`
	WeightPower float64    `json:"weight_power"` // group re-weighting: 0 none, 1 balanced
	Decode      string     `json:"decode"`
	W           []float64  `json:"w"`
	Thresholds  []float64  `json:"thresholds"`
}

// age applies the expert gate to the main head's estimate a.
func (e *AgeExpert) age(x []float64, a float64) float64 {
	if e == nil || a < e.Gate[0] || a > e.Gate[1] {
		return a
	}
	return decodeOrdinal(linear{w: e.W}.score(x), e.Thresholds, e.Decode)
}

// ErrFormat reports a heads file faced cannot use.
var ErrFormat = errors.New("heads: bad heads file")

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidName reports whether name can name a heads file ("seed" is reserved).
func ValidName(name string) error {
	if name == Seed || !nameRE.MatchString(name) {
		return fmt.Errorf("heads: invalid name %q: use 1-64 letters, digits, '.', '_' or '-', not %q", name, Seed)
	}
	return nil
}

// Path returns the heads file of name inside the model registry folder.
func Path(modelsDir, name string) string {
	return filepath.Join(modelsDir, "heads-"+name+".json")
}

// Marshal returns the file bytes: deterministic for equal heads.
func (h *Heads) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(h, "", " ")
	if err != nil {
		return nil, fmt.Errorf("heads: encode: %w", err)
	}
	return append(b, '\n'), nil
}

// Save writes the heads atomically to path.
func (h *Heads) Save(path string) error {
	if err := h.validate(); err != nil {
		return err
	}
	b, err := h.Marshal()
	if err != nil {
		return err
	}
	if err := renameio.WriteFile(path, b, 0o644, renameio.WithTempDir(filepath.Dir(path))); err != nil {
		return fmt.Errorf("heads: write %s: %w", path, err)
	}
	return nil
}

// Load reads and checks a heads file.
func Load(path string) (*Heads, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("heads: %w", err)
	}
	var h Heads
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrFormat, path, err)
	}
	if err := h.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &h, nil
}

// LoadNamed loads heads-NAME.json from the model registry folder.
func LoadNamed(modelsDir, name string) (*Heads, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	return Load(Path(modelsDir, name))
}

func (h *Heads) validate() error {
	switch {
	case h.Format != FormatVersion && h.Format != FormatV1:
		return fmt.Errorf("%w: format %q, want %q", ErrFormat, h.Format, FormatVersion)
	case h.Format == FormatV1 && h.Age.Expert != nil:
		return fmt.Errorf("%w: format %q has no age expert", ErrFormat, h.Format)
	case len(h.Gender.W) != InputDim:
		return fmt.Errorf("%w: gender head has %d weights, want %d", ErrFormat, len(h.Gender.W), InputDim)
	case len(h.Age.W) != InputDim:
		return fmt.Errorf("%w: age head has %d weights, want %d", ErrFormat, len(h.Age.W), InputDim)
	case len(h.Age.Thresholds) != ageRanks-1:
		return fmt.Errorf("%w: age head has %d thresholds, want %d", ErrFormat, len(h.Age.Thresholds), ageRanks-1)
	case h.Age.Decode != DecodeMedian && h.Age.Decode != DecodeExpectation:
		return fmt.Errorf("%w: unknown age decoding %q", ErrFormat, h.Age.Decode)
	}
	finite := [][]float64{h.Gender.W, h.Age.W, h.Age.Thresholds, {h.Gender.B, h.Gender.Shift}}
	if e := h.Age.Expert; e != nil {
		switch {
		case len(e.W) != InputDim:
			return fmt.Errorf("%w: age expert has %d weights, want %d", ErrFormat, len(e.W), InputDim)
		case len(e.Thresholds) != ageRanks-1:
			return fmt.Errorf("%w: age expert has %d thresholds, want %d", ErrFormat, len(e.Thresholds), ageRanks-1)
		case e.Decode != DecodeMedian && e.Decode != DecodeExpectation:
			return fmt.Errorf("%w: unknown age expert decoding %q", ErrFormat, e.Decode)
		case !(e.Gate[0] <= e.Gate[1]) || !(e.Range[0] <= e.Range[1]):
			return fmt.Errorf("%w: age expert gate %v or range %v is empty", ErrFormat, e.Gate, e.Range)
		}
		finite = append(finite, e.W, e.Thresholds, e.Gate[:], e.Range[:], []float64{e.Lambda, e.WeightPower})
	}
	for _, v := range finite {
		for _, x := range v {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return fmt.Errorf("%w: non-finite weight", ErrFormat)
			}
		}
	}
	return nil
}

// Apply predicts age (years) and P(male) on the seed's scale (male iff
// ≥ 0.6) for one face from the network's outputs.
func (h *Heads) Apply(in Input) (age, maleProb float64, err error) {
	var x [InputDim]float64
	if err := vectorize(in, x[:]); err != nil {
		return 0, 0, err
	}
	g := linear{w: h.Gender.W}
	maleProb = sigmoid(g.score(x[:]) + h.Gender.B + h.Gender.Shift)
	a := linear{w: h.Age.W}
	age = decodeOrdinal(a.score(x[:]), h.Age.Thresholds, h.Age.Decode)
	age = h.Age.Expert.age(x[:], age)
	return age, maleProb, nil
}

// Size returns the number of trained parameters.
func (h *Heads) Size() int {
	n := len(h.Gender.W) + 1 + len(h.Age.W) + len(h.Age.Thresholds)
	if e := h.Age.Expert; e != nil {
		n += len(e.W) + len(e.Thresholds)
	}
	return n
}
