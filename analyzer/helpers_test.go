package analyzer

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"sync"
	"testing"

	"github.com/faced/faced/face"
	"github.com/faced/faced/internal/shared"
	"github.com/faced/faced/models"
)

var (
	regOnce sync.Once
	reg     *models.Registry
	regErr  error
)

// newAnalyzer opens an Analyzer on the installed models, skipping when the
// models or ONNX Runtime are not installed.
func newAnalyzer(tb testing.TB, opt Options) *Analyzer {
	tb.Helper()
	dir := shared.DataDir(tb)
	regOnce.Do(func() {
		lib, err := models.FindORTLibrary("")
		if err != nil {
			regErr = err
			return
		}
		if regErr = models.InitRuntime(lib); regErr != nil {
			return
		}
		reg, regErr = models.OpenRegistry(dir)
	})
	if regErr != nil {
		tb.Skipf("models not usable: %v", regErr)
	}
	if opt.Threads == 0 {
		opt.Threads = 1
	}
	a, err := New(reg, opt)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { a.Close() })
	return a
}

func analyze(tb testing.TB, a *Analyzer, path string) *face.Result {
	tb.Helper()
	r, err := a.Analyze(context.Background(), path)
	if err != nil {
		tb.Fatalf("analyze %s: %v", path, err)
	}
	return r
}

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}

// bestIoU returns the index of the box in bs with the highest IoU with b.
func bestIoU(b face.Box, bs []face.Box) (int, float64) {
	bi, bv := -1, 0.0
	for i, c := range bs {
		if v := face.IoU(b, c); v > bv {
			bi, bv = i, v
		}
	}
	return bi, bv
}

// envOptions overlays FACED_OPTS (JSON of Options fields, for parameter
// sweeps) onto opt.
func envOptions(tb testing.TB, opt Options) Options {
	if v := os.Getenv("FACED_OPTS"); v != "" {
		if err := json.Unmarshal([]byte(v), &opt); err != nil {
			tb.Fatalf("FACED_OPTS: %v", err)
		}
	}
	return opt
}
