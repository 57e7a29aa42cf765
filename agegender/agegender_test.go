package agegender

import (
	"encoding/json"
	"image"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/faced/faced/internal/shared"
	"github.com/faced/faced/models"
	"gocv.io/x/gocv"
)

func openRegistry(tb testing.TB) *models.Registry {
	tb.Helper()
	data := shared.DataDir(tb)
	lib, err := models.FindORTLibrary(filepath.Join(shared.VarDir(), "lib", models.ORTLibName))
	if err != nil {
		tb.Skipf("ONNX Runtime not available: %v", err)
	}
	if err := models.InitRuntime(lib); err != nil {
		tb.Fatal(err)
	}
	reg, err := models.OpenRegistry(data)
	if err != nil {
		tb.Fatal(err)
	}
	return reg
}

type refFace struct {
	Crop     [4]int    `json:"crop_box_x1y1x2y2"`
	Age      float64   `json:"age"`
	Gender   float64   `json:"gender_sigmoid"`
	Top2     [2]int    `json:"top2_idx"`
	Features []float64 `json:"feature_1024"`
}

func loadFaces(tb testing.TB, file string) (gocv.Mat, []refFace) {
	tb.Helper()
	dir := shared.Dir(tb, "seed/reference")
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		tb.Fatal(err)
	}
	var doc struct {
		Faces []refFace `json:"faces"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		tb.Fatal(err)
	}
	img := gocv.IMRead(filepath.Join(dir, "test_image.jpg"), gocv.IMReadColor)
	if img.Empty() {
		tb.Fatal("cannot read test_image.jpg")
	}
	return img, doc.Faces
}

func loadPairwise(tb testing.TB, file string) [][]float64 {
	b, err := os.ReadFile(filepath.Join(shared.Dir(tb, "seed/reference"), file))
	if err != nil {
		tb.Fatal(err)
	}
	var doc struct {
		D [][]float64 `json:"pairwise_l2_of_normalized_features"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		tb.Fatal(err)
	}
	return doc.D
}

// l2n is the distance between L2-normalised feature vectors.
func l2n(a, b []float32) float64 {
	var na, nb, d float64
	for i := range a {
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	na, nb = math.Sqrt(na), math.Sqrt(nb)
	for i := range a {
		e := float64(a[i])/na - float64(b[i])/nb
		d += e * e
	}
	return math.Sqrt(d)
}

func crops(img gocv.Mat, faces []refFace) []gocv.Mat {
	var out []gocv.Mat
	for _, f := range faces {
		out = append(out, img.Region(image.Rect(f.Crop[0], f.Crop[1], f.Crop[2], f.Crop[3])))
	}
	return out
}

func featDist(got []float32, want []float64) float64 {
	var d, n float64
	for i := range want {
		e := float64(got[i]) - want[i]
		d += e * e
		n += want[i] * want[i]
	}
	return math.Sqrt(d / n)
}

// TestReferenceFaces runs the four faces of the seed's demo photo (crop boxes
// from the reference) and compares with the reference interpreter.
func TestReferenceFaces(t *testing.T) {
	reg := openRegistry(t)
	img, faces := loadFaces(t, "reference_test_image_minsize32_quantized.json")
	defer img.Close()
	for _, tc := range []struct {
		variant        string
		ageTol, sigTol float64
		featTol        float64
		distTol        float64 // pairwise identity distances
	}{
		{VariantFloat32, 0.05, 2e-3, 2e-3, 1e-3},
		// int8 QDQ: features move by 10-20 % (relative L2) but the
		// identity distances between faces by only a few hundredths.
		{VariantInt8, 2.5, 0.08, 0.25, 0.05},
	} {
		t.Run(tc.variant, func(t *testing.T) {
			net, err := Open(reg, tc.variant, models.SessionOptions{IntraOpThreads: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer net.Close()
			preds, err := net.Predict(crops(img, faces))
			if err != nil {
				t.Fatal(err)
			}
			for i, f := range faces {
				p := preds[i]
				if math.Abs(p.Age-f.Age) > tc.ageTol || math.Abs(p.MaleProb-f.Gender) > tc.sigTol {
					t.Errorf("face %d: age %.3f sigmoid %.4f, reference %.3f %.4f", i, p.Age, p.MaleProb, f.Age, f.Gender)
				}
				if IsMale(p.MaleProb) != IsMale(f.Gender) {
					t.Errorf("face %d: gender decision differs from the reference", i)
				}
				if d := featDist(p.Features, f.Features); d > tc.featTol {
					t.Errorf("face %d: features differ from the reference by %.4g (relative L2)", i, d)
				}
			}
			ref := loadPairwise(t, "reference_test_image_minsize32_quantized.json")
			for i := range preds {
				for j := i + 1; j < len(preds); j++ {
					if d := l2n(preds[i].Features, preds[j].Features); math.Abs(d-ref[i][j]) > tc.distTol {
						t.Errorf("faces %d-%d: identity distance %.4f, reference %.4f", i, j, d, ref[i][j])
					}
				}
			}
		})
	}
}

// TestNaiveDequantCollapses shows the failure the reference check guards
// against: with the textbook dequantization every face becomes a ~42-year-old
// man, as reference_test_image_minsize32_WRONG_naive_dequant.json records.
func TestNaiveDequantCollapses(t *testing.T) {
	reg := openRegistry(t)
	img, wrong := loadFaces(t, "reference_test_image_minsize32_WRONG_naive_dequant.json")
	defer img.Close()
	seed, err := os.ReadFile(filepath.Join(shared.Dir(t, "seed/models"), models.SeedAgeGenderFile))
	if err != nil {
		t.Fatal(err)
	}
	mi, err := reg.Model(models.AgeGender)
	if err != nil {
		t.Fatal(err)
	}
	onnx, err := models.Convert(seed, models.ConvertOptions{Name: "naive", Input: mi.Inputs[0], Outputs: mi.Outputs, Dequant: models.DequantNaive})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "naive.onnx")
	if err := os.WriteFile(p, onnx, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := models.OpenSession(p, mi, models.SessionOptions{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	net := FromSession(s, "naive")
	defer net.Close()
	preds, err := net.Predict(crops(img, wrong))
	if err != nil {
		t.Fatal(err)
	}
	_, right := loadFaces(t, "reference_test_image_minsize32_quantized.json")
	for i, f := range wrong {
		pr := preds[i]
		// It reproduces the WRONG reference...
		if math.Abs(pr.Age-f.Age) > 0.1 || math.Abs(pr.MaleProb-f.Gender) > 1e-3 {
			t.Errorf("face %d: naive model gives age %.2f sigmoid %.4f, WRONG reference %.2f %.4f", i, pr.Age, pr.MaleProb, f.Age, f.Gender)
		}
		// ...which is far from the right one.
		if math.Abs(pr.Age-right[i].Age) < 3 && IsMale(pr.MaleProb) == IsMale(right[i].Gender) {
			t.Errorf("face %d: naive dequantization not distinguishable from the right model (age %.1f vs %.1f)", i, pr.Age, right[i].Age)
		}
	}
}

func TestDecodeAge(t *testing.T) {
	probs := make([]float32, 100)
	for _, tc := range []struct {
		set  map[int]float32
		want float64
	}{
		{map[int]float32{39: 0.3, 29: 0.1, 50: 0.05}, 1 + 39*0.75 + 29*0.25},
		{map[int]float32{0: 0.9, 4: 0.1}, 1 + 0*0.9 + 4*0.1},
		{map[int]float32{99: 0.5, 98: 0.5}, 1 + 98.5},
	} {
		for i := range probs {
			probs[i] = 0.001
		}
		for k, v := range tc.set {
			probs[k] = v
		}
		if got := DecodeAge(probs); math.Abs(got-tc.want) > 1e-5 {
			t.Errorf("DecodeAge(%v) = %v, want %v", tc.set, got, tc.want)
		}
	}
}

func TestPredictRejectsBadCrop(t *testing.T) {
	gray := gocv.NewMatWithSize(10, 10, gocv.MatTypeCV8UC1)
	defer gray.Close()
	if _, err := Preprocess(nil, gray); err == nil {
		t.Fatal("grey crop accepted")
	}
	empty := gocv.NewMat()
	defer empty.Close()
	if _, err := Preprocess(nil, empty); err == nil {
		t.Fatal("empty crop accepted")
	}
}
