package analyzer

import (
	"context"
	"fmt"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gocv.io/x/gocv"

	"github.com/faced/faced/analyzer/heif"
	"github.com/faced/faced/analyzer/internal/clock"
)

// BenchResult is the outcome of Bench.
type BenchResult struct {
	Workers int
	Files   int // files analysed (including failures)
	Errors  int
	Faces   int
	Elapsed time.Duration
	// CPU is the process's CPU time (user+system, all threads: Go, OpenCV
	// and ONNX Runtime) during the run. On a shared machine it predicts the
	// throughput on free cores better than Elapsed: photos/s on n free
	// cores ≈ n / CPUPerFile.
	CPU time.Duration
	// Stages sums the per-stage times over all files (CPU-side wall time
	// per worker, so with 2 workers they add up to about 2× Elapsed).
	Stages Timings
}

// PhotosPerSecond is the throughput.
func (r BenchResult) PhotosPerSecond() float64 { return float64(r.Files) / r.Elapsed.Seconds() }

// CPUPerFile is the mean process CPU time per file.
func (r BenchResult) CPUPerFile() time.Duration { return r.CPU / time.Duration(max(1, r.Files)) }

// PerFile returns the mean time per file of each stage.
func (r BenchResult) PerFile() Timings {
	n := time.Duration(max(1, r.Files))
	s := r.Stages
	return Timings{Decode: s.Decode / n, PNet: s.PNet / n, RNet: s.RNet / n, ONet: s.ONet / n, Crop: s.Crop / n, AgeGender: s.AgeGender / n, Total: s.Total / n}
}

func (r BenchResult) String() string {
	p := r.PerFile()
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return fmt.Sprintf("workers %d: %d files (%d errors, %d faces) in %.2fs = %.2f photos/s, CPU %.1f ms/photo; per file ms: decode %.1f pnet %.1f rnet %.1f onet %.1f crop %.1f agegender %.1f total %.1f",
		r.Workers, r.Files, r.Errors, r.Faces, r.Elapsed.Seconds(), r.PhotosPerSecond(), ms(r.CPUPerFile()),
		ms(p.Decode), ms(p.PNet), ms(p.RNet), ms(p.ONet), ms(p.Crop), ms(p.AgeGender), ms(p.Total))
}

// Bench analyses n files taken round-robin from files with the given
// number of concurrent workers sharing a.
func Bench(ctx context.Context, a *Analyzer, files []string, workers, n int) BenchResult {
	res := BenchResult{Workers: workers}
	if len(files) == 0 || n <= 0 {
		return res
	}
	var next atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	t0, c0 := time.Now(), clock.ProcessCPU()
	for w := 0; w < max(1, workers); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				r, tm, err := a.AnalyzeTimed(ctx, files[i%len(files)])
				mu.Lock()
				res.Files++
				res.Stages.Add(tm)
				if err != nil {
					res.Errors++
				} else {
					res.Faces += len(r.Faces)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(t0)
	res.CPU = clock.ProcessCPU() - c0
	return res
}

// Upscale12MP writes src resized to 12 megapixels (4032×3024, or 3024×4032
// for a portrait) as a JPEG of the given quality into dir and returns its
// path. Benchmarks use it to make 12 MP test photos.
func Upscale12MP(src, dir string, quality int) (string, error) {
	return Upscale12MPGrain(src, dir, quality, 0)
}

// Upscale12MPGrain is Upscale12MP with Gaussian grain of standard deviation
// grain (8-bit levels, each channel) added before encoding, the same on every
// call (fixed seed). Upscaled photos are far smoother than a camera's: at
// quality 90 they take about 1 MB, where a 12 MP phone photo takes 2-5 MB,
// and JPEG decoding time grows with the compressed size. Grain 6 gives about
// 2 MB, grain 10 about 4.5 MB (measured on the group test photos).
func Upscale12MPGrain(src, dir string, quality int, grain float64) (string, error) {
	img := gocv.IMRead(src, gocv.IMReadColor)
	if img.Empty() {
		return "", fmt.Errorf("%s: cannot decode", src)
	}
	defer img.Close()
	w, h := 4032, 3024
	if img.Rows() > img.Cols() {
		w, h = h, w
	}
	big := gocv.NewMat()
	defer big.Close()
	gocv.Resize(img, &big, image.Pt(w, h), 0, 0, gocv.InterpolationCubic)
	if grain > 0 {
		addGrain(&big, grain)
	}
	dst := filepath.Join(dir, strings.TrimSuffix(filepath.Base(src), filepath.Ext(src))+"_12mp.jpg")
	if !gocv.IMWriteWithParams(dst, big, []int{gocv.IMWriteJpegQuality, quality}) {
		return "", fmt.Errorf("%s: cannot write", dst)
	}
	return dst, nil
}

// addGrain adds Gaussian noise of standard deviation sigma to an 8-bit BGR
// image, saturating at 0 and 255. OpenCV's generator is per thread, so the
// goroutine stays on its thread from seeding to drawing.
func addGrain(img *gocv.Mat, sigma float64) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	noise := gocv.NewMatWithSize(img.Rows(), img.Cols(), gocv.MatTypeCV16SC3)
	defer noise.Close()
	gocv.SetRNGSeed(12)
	gocv.RandN(&noise, gocv.NewScalar(0, 0, 0, 0), gocv.NewScalar(sigma, sigma, sigma, 0))
	wide := gocv.NewMat()
	defer wide.Close()
	img.ConvertTo(&wide, gocv.MatTypeCV16SC3)
	gocv.Add(wide, noise, &wide)
	wide.ConvertTo(img, gocv.MatTypeCV8UC3)
}

// ConvertForBench writes the JPEG jpg as a file of format (media's name:
// "heic", "avif", "jxl", or a raw format holding it as its embedded
// preview: "cr2" from rawStub, ExifTool's CanonRaw.cr2) beside it and
// returns its path, for per-format benchmarks. HEIC and AVIF are lossy at
// quality 80 (a phone's weight), JPEG XL is cjxl's lossless JPEG
// transcoding (what converting a photo library does).
func ConvertForBench(jpg, format, rawStub string) (string, error) {
	base := strings.TrimSuffix(jpg, filepath.Ext(jpg))
	switch format {
	case "heic", "avif":
		m := gocv.IMRead(jpg, gocv.IMReadColor)
		if m.Empty() {
			return "", fmt.Errorf("%s: cannot decode", jpg)
		}
		defer m.Close()
		codec := heif.HEVC
		if format == "avif" {
			codec = heif.AV1
		}
		dst := base + "." + format
		return dst, heif.Encode(dst, m, codec, 80, 1, 0)
	case "jxl":
		dst := base + ".jxl"
		if out, err := exec.Command("cjxl", jpg, dst).CombinedOutput(); err != nil {
			return "", fmt.Errorf("cjxl: %v: %s", err, out)
		}
		return dst, nil
	case "cr2":
		b, err := os.ReadFile(rawStub)
		if err != nil {
			return "", err
		}
		dst := base + ".cr2"
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return "", err
		}
		if out, err := exec.Command("exiftool", "-q", "-q", "-m", "-overwrite_original", "-PreviewImage<="+jpg, dst).CombinedOutput(); err != nil {
			return "", fmt.Errorf("exiftool: %v: %s", err, out)
		}
		return dst, nil
	}
	return "", fmt.Errorf("no benchmark conversion to %q", format)
}
