package analyzer

import (
	"context"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/faced/faced/internal/shared"
)

// benchPhotos lists the test photos used by the benchmarks: the seed's demo
// photo and the multi-face group photos.
func benchPhotos(b testing.TB) []string {
	files := []string{filepath.Join(shared.Dir(b, "seed/reference"), "test_image.jpg")}
	g, _ := filepath.Glob(filepath.Join(shared.Dir(b, "testdata/photos/group"), "*.jpg"))
	return append(files, g...)
}

func benchmarkFiles(b *testing.B, files []string, exact bool) {
	for _, workers := range []int{1, 2} {
		b.Run("workers="+strconv.Itoa(workers), func(b *testing.B) {
			threads := max(1, runtime.NumCPU()/workers)
			a := newAnalyzer(b, Options{Threads: threads, Exact: exact})
			// Warm up (first runs allocate ORT arenas).
			Bench(context.Background(), a, files, 1, 1)
			b.ResetTimer()
			r := Bench(context.Background(), a, files, workers, b.N)
			b.StopTimer()
			if r.Errors > 0 {
				b.Fatalf("%d errors", r.Errors)
			}
			p := r.PerFile()
			b.ReportMetric(r.PhotosPerSecond(), "photos/s")
			b.ReportMetric(float64(r.CPUPerFile().Microseconds())/1000, "cpu-ms/photo")
			b.ReportMetric(float64(p.Decode.Microseconds())/1000, "decode-ms")
			b.ReportMetric(float64((p.PNet).Microseconds())/1000, "pnet-ms")
			b.ReportMetric(float64((p.RNet+p.ONet).Microseconds())/1000, "rnet+onet-ms")
			b.ReportMetric(float64(p.AgeGender.Microseconds())/1000, "agegender-ms")
			b.ReportMetric(float64(r.Faces)/float64(r.Files), "faces/photo")
			b.Logf("%v", r)
		})
	}
}

// BenchmarkAnalyze12MP: the test photos upscaled to 12 MP and re-encoded at
// JPEG quality 90, default (fast) settings.
func BenchmarkAnalyze12MP(b *testing.B) {
	dir := b.TempDir()
	var files []string
	for _, f := range benchPhotos(b) {
		p, err := Upscale12MP(f, dir, 90)
		if err != nil {
			b.Fatal(err)
		}
		files = append(files, p)
	}
	benchmarkFiles(b, files, false)
}

// BenchmarkAnalyzeTestPhotos: the test photos as they are (500-2280 px).
func BenchmarkAnalyzeTestPhotos(b *testing.B) {
	benchmarkFiles(b, benchPhotos(b), false)
}

// BenchmarkAnalyzeExactDemo: the seed's exact mode on its demo photo.
func BenchmarkAnalyzeExactDemo(b *testing.B) {
	benchmarkFiles(b, benchPhotos(b)[:1], true)
}
