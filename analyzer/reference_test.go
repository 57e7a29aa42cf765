package analyzer

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/faced/faced/internal/shared"
)

type refFace struct {
	Box      []float64 `json:"mtcnn_box_float"`
	Score    float64   `json:"score"`
	LX       []float64 `json:"landmarks_x"`
	LY       []float64 `json:"landmarks_y"`
	Age      float64   `json:"age"`
	Male     float64   `json:"gender_sigmoid"`
	Features []float32 `json:"feature_1024"`
}

type refDoc struct {
	MinSize int `json:"minsize"`
	Stages  struct {
		AfterRNet int `json:"after_rnet"`
		Final     int `json:"final"`
	} `json:"stages"`
	Faces []refFace `json:"faces"`
}

// TestReferenceExact runs the exact (seed) mode on the seed's demo photo
// with the weight-only float model and compares every face with the
// reference outputs of an independent interpreter: boxes within 1 px, ages
// within 0.3 years, P(male) within 0.01, features cosine ≥ 0.999.
func TestReferenceExact(t *testing.T) {
	refDir := shared.Dir(t, "seed/reference")
	for _, name := range []string{"reference_test_image_minsize32_quantized.json", "reference_test_image_minsize112_quantized.json"} {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(refDir, name))
			if err != nil {
				t.Fatal(err)
			}
			var ref refDoc
			if err := json.Unmarshal(raw, &ref); err != nil {
				t.Fatal(err)
			}
			a := newAnalyzer(t, Options{Exact: true, MinSize: ref.MinSize, Variant: "float32"})
			res := analyze(t, a, filepath.Join(refDir, "test_image.jpg"))
			if len(res.Faces) != len(ref.Faces) {
				t.Fatalf("%d faces, reference has %d", len(res.Faces), len(ref.Faces))
			}
			if res.Width != 784 || res.Height != 588 || res.Orientation != 1 {
				t.Errorf("size %dx%d orientation %d", res.Width, res.Height, res.Orientation)
			}
			for i, rf := range ref.Faces {
				// Output order is the NMS pick order, as in the seed.
				g := res.Faces[i]
				got := []float64{g.Box.X1, g.Box.Y1, g.Box.X2, g.Box.Y2}
				for k := range got {
					if math.Abs(got[k]-rf.Box[k]) > 1 {
						t.Errorf("face %d box %v, reference %v", i, got, rf.Box)
						break
					}
				}
				if g.StoredBox != g.Box {
					t.Errorf("face %d: stored box %v differs from upright %v on an unrotated photo", i, g.StoredBox, g.Box)
				}
				for k := 0; k < 5; k++ {
					if math.Abs(g.Landmarks[k]-rf.LX[k]) > 1 || math.Abs(g.Landmarks[k+5]-rf.LY[k]) > 1 {
						t.Errorf("face %d landmark %d (%.2f,%.2f), reference (%.2f,%.2f)", i, k, g.Landmarks[k], g.Landmarks[k+5], rf.LX[k], rf.LY[k])
					}
				}
				if math.Abs(g.Score-rf.Score) > 1e-3 {
					t.Errorf("face %d score %v, reference %v", i, g.Score, rf.Score)
				}
				if math.Abs(g.Age-rf.Age) > 0.3 {
					t.Errorf("face %d age %.3f, reference %.3f", i, g.Age, rf.Age)
				}
				if math.Abs(g.MaleProb-rf.Male) > 0.01 {
					t.Errorf("face %d male_prob %.4f, reference %.4f", i, g.MaleProb, rf.Male)
				}
				if c := cosine(g.Features, rf.Features); c < 0.999 {
					t.Errorf("face %d feature cosine %.5f < 0.999", i, c)
				}
				var n float64
				for _, v := range g.Features {
					n += float64(v) * float64(v)
				}
				if math.Abs(n-1) > 1e-4 {
					t.Errorf("face %d features not L2-normalised (‖f‖² = %v)", i, n)
				}
				t.Logf("face %d: box %.2f,%.2f,%.2f,%.2f age %.3f (ref %.3f) male %.4f (ref %.4f) cos %.6f",
					i, g.Box.X1, g.Box.Y1, g.Box.X2, g.Box.Y2, g.Age, rf.Age, g.MaleProb, rf.Male, cosine(g.Features, rf.Features))
			}
		})
	}
}
