package models

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/faced/faced/internal/shared"
	ort "github.com/yalue/onnxruntime_go"
)

// initORT initialises ONNX Runtime from var/lib, skipping when absent.
func initORT(tb testing.TB) {
	tb.Helper()
	lib, err := FindORTLibrary(filepath.Join(shared.VarDir(), "lib", ORTLibName))
	if err != nil {
		tb.Skipf("ONNX Runtime not available: %v", err)
	}
	if err := InitRuntime(lib); err != nil {
		tb.Fatal(err)
	}
}

func seedGraph(tb testing.TB, file string) []byte {
	tb.Helper()
	dir := shared.Dir(tb, "seed/models")
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func specByName(tb testing.TB, name string) spec {
	for _, s := range specs() {
		if s.name == name {
			return s
		}
	}
	tb.Fatalf("no spec %s", name)
	return spec{}
}

func convertSpec(tb testing.TB, name string, dq Dequant) []byte {
	tb.Helper()
	s := specByName(tb, name)
	b, err := Convert(seedGraph(tb, s.seedFile), ConvertOptions{Name: s.name, Input: s.input, Outputs: s.outputs, DimNames: s.dims, QDQ: s.qdq, Dequant: dq})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// runBytes runs a serialised model on one input.
func runBytes(tb testing.TB, model []byte, input string, outputs []string, in Tensor) []Tensor {
	tb.Helper()
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(model, []string{input}, outputs, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer s.Destroy()
	sess := &Session{info: ModelInfo{Name: "test", Outputs: outputs}, s: s}
	out, err := sess.Run(in)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// pattern is the synthetic input of reference_synthetic_inputs.json.
func pattern(h, w int, scale float32) Tensor {
	d := make([]float32, 0, h*w*3)
	for i := 0; i < h; i++ {
		for j := 0; j < w; j++ {
			for k := 0; k < 3; k++ {
				d = append(d, float32((7*i+13*j+29*k)%256-128)*scale)
			}
		}
	}
	return Tensor{Shape: []int64{1, int64(h), int64(w), 3}, Data: d}
}

type refAgeGender struct {
	Gender    float64   `json:"gender_sigmoid"`
	AgeIdx    []int     `json:"age_top5_idx"`
	AgeProb   []float64 `json:"age_top5_prob"`
	FeatSum   float64   `json:"feature_sum"`
	FeatL2    float64   `json:"feature_l2"`
	First8    []float64 `json:"feature_first8"`
	FeatArgMx int       `json:"feature_argmax"`
	FeatMax   float64   `json:"feature_max"`
}

type refOut struct {
	Shape []int64   `json:"shape"`
	First []float64 `json:"values_flat_first12"`
	Sum   float64   `json:"sum"`
}

func loadRef(tb testing.TB) map[string]json.RawMessage {
	dir := shared.Dir(tb, "seed/reference")
	b, err := os.ReadFile(filepath.Join(dir, "reference_synthetic_inputs.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatal(err)
	}
	return m
}

// checker collects comparisons against the reference tolerance.
type checker struct {
	fails []string
	n     int
}

func (c *checker) near(what string, got, want float64) {
	c.n++
	d := math.Abs(got - want)
	if d <= 1e-5 || d <= 1e-4*math.Abs(want) {
		return
	}
	c.fails = append(c.fails, fmt.Sprintf("%s: got %.7g, want %.7g", what, got, want))
}

func (c *checker) equal(what string, got, want int) {
	c.n++
	if got != want {
		c.fails = append(c.fails, fmt.Sprintf("%s: got %d, want %d", what, got, want))
	}
}

func checkAgeGender(c *checker, name string, out []Tensor, ref refAgeGender) {
	age, gender, feat := out[0].Data, out[1].Data, out[2].Data
	c.near(name+" gender", float64(gender[0]), ref.Gender)
	idx := make([]int, len(age))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return age[idx[a]] > age[idx[b]] })
	for i := range ref.AgeIdx {
		c.equal(fmt.Sprintf("%s age top%d idx", name, i+1), idx[i], ref.AgeIdx[i])
		c.near(fmt.Sprintf("%s age top%d prob", name, i+1), float64(age[idx[i]]), ref.AgeProb[i])
	}
	var sum, l2, mx float64
	arg := 0
	for i, v := range feat {
		sum += float64(v)
		l2 += float64(v) * float64(v)
		if float64(v) > mx {
			mx, arg = float64(v), i
		}
	}
	c.near(name+" feature sum", sum, ref.FeatSum)
	c.near(name+" feature l2", math.Sqrt(l2), ref.FeatL2)
	for i, w := range ref.First8 {
		c.near(fmt.Sprintf("%s feature[%d]", name, i), float64(feat[i]), w)
	}
	c.equal(name+" feature argmax", arg, ref.FeatArgMx)
	c.near(name+" feature max", mx, ref.FeatMax)
}

func runAgeGenderRef(t *testing.T, model []byte) *checker {
	ref := loadRef(t)
	s := specByName(t, AgeGender)
	c := &checker{}
	for _, tc := range []struct {
		key string
		in  Tensor
	}{
		{"agegender_zeros", Tensor{Shape: []int64{1, 224, 224, 3}, Data: make([]float32, 224*224*3)}},
		{"agegender_pattern", pattern(224, 224, 1)},
	} {
		var r refAgeGender
		if err := json.Unmarshal(ref[tc.key], &r); err != nil {
			t.Fatal(err)
		}
		out := runBytes(t, model, s.input, s.outputs, tc.in)
		if len(out) != 3 || !shapeIs(out[0], 1, 100) || !shapeIs(out[1], 1, 1) || !shapeIs(out[2], 1, 1024) {
			t.Fatalf("%s: output shapes %v %v %v", tc.key, out[0].Shape, out[1].Shape, out[2].Shape)
		}
		checkAgeGender(c, tc.key, out, r)
	}
	return c
}

func shapeIs(t Tensor, dims ...int64) bool {
	if len(t.Shape) != len(dims) {
		return false
	}
	for i := range dims {
		if t.Shape[i] != dims[i] {
			return false
		}
	}
	return true
}

func TestAgeGenderMatchesReference(t *testing.T) {
	initORT(t)
	c := runAgeGenderRef(t, convertSpec(t, AgeGender, DequantTF))
	for _, f := range c.fails {
		t.Error(f)
	}
	t.Logf("%d values compared", c.n)
}

// TestNaiveDequantFailsReference shows the reference check bites: the
// textbook dequantization min + q*(max-min)/255 misses the reference.
func TestNaiveDequantFailsReference(t *testing.T) {
	initORT(t)
	c := runAgeGenderRef(t, convertSpec(t, AgeGender, DequantNaive))
	if len(c.fails) < c.n/2 {
		t.Fatalf("naive dequantization passed %d of %d reference checks; the check does not discriminate: %v", c.n-len(c.fails), c.n, c.fails)
	}
	t.Logf("naive dequantization fails %d of %d checks, e.g. %s", len(c.fails), c.n, c.fails[0])
}

func TestMTCNNMatchesReference(t *testing.T) {
	initORT(t)
	ref := loadRef(t)
	for _, tc := range []struct {
		key   string
		model string
		h, w  int
	}{
		{"pnet_12x12", PNet, 12, 12},
		{"pnet_30x20", PNet, 30, 20},
		{"rnet_24x24", RNet, 24, 24},
		{"onet_48x48", ONet, 48, 48},
	} {
		t.Run(tc.key, func(t *testing.T) {
			var r map[string]refOut
			if err := json.Unmarshal(ref[tc.key], &r); err != nil {
				t.Fatal(err)
			}
			s := specByName(t, tc.model)
			out := runBytes(t, convertSpec(t, tc.model, DequantTF), s.input, s.outputs, pattern(tc.h, tc.w, MTCNNScale))
			c := &checker{}
			for i, name := range s.outputs {
				want, ok := r[name]
				if !ok {
					t.Fatalf("reference has no output %s", name)
				}
				if !shapeIs(out[i], want.Shape...) {
					t.Fatalf("%s: shape %v, want %v", name, out[i].Shape, want.Shape)
				}
				var sum float64
				for _, v := range out[i].Data {
					sum += float64(v)
				}
				c.near(name+" sum", sum, want.Sum)
				for j, w := range want.First {
					c.near(fmt.Sprintf("%s[%d]", name, j), float64(out[i].Data[j]), w)
				}
			}
			for _, f := range c.fails {
				t.Error(f)
			}
		})
	}
}

func TestConvertDeterministic(t *testing.T) {
	for _, s := range specs() {
		a := convertSpec(t, s.name, DequantTF)
		b := convertSpec(t, s.name, DequantTF)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two conversions differ", s.name)
		}
	}
}

// TestWeightsStay8Bit checks the weight-only model keeps quint8 weights:
// it must be about the size of the seed file, not four times larger.
func TestWeightsStay8Bit(t *testing.T) {
	seed := seedGraph(t, SeedAgeGenderFile)
	m := convertSpec(t, AgeGender, DequantTF)
	if len(m) > len(seed)*11/10 {
		t.Fatalf("converted model %d bytes, seed %d: weights were not kept 8-bit", len(m), len(seed))
	}
	q := convertSpec(t, AgeGenderInt8, DequantTF)
	if len(q) > len(seed)*11/10 {
		t.Fatalf("int8 model %d bytes, seed %d: weights were not quantized", len(q), len(seed))
	}
}
