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

// fewFacePhotos lists the test photos with 0 to 3 faces (the daemon's
// speed goal is for such photos): PhotoPrism's personal photos (0-2 faces
// each) and the group photos with 2 or 3 faces.
func fewFacePhotos(tb testing.TB) []string {
	files, _ := filepath.Glob(filepath.Join(shared.Dir(tb, "testdata/photos/photoprism_face_testdata"), "*.jpg"))
	g := shared.Dir(tb, "testdata/photos/group")
	for _, f := range []string{"deepface_couple.jpg", "face_recognition_kit_with_rose.jpg", "face_recognition_obama_and_biden.jpg", "face_recognition_two_people.jpg"} {
		files = append(files, filepath.Join(g, f))
	}
	return files
}

// upscaled12MP makes 12 MP copies of files in a temporary directory.
func upscaled12MP(tb testing.TB, files []string) []string {
	dir := tb.TempDir()
	var out []string
	for _, f := range files {
		p, err := Upscale12MP(f, dir, 90)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func benchmarkFiles(b *testing.B, files []string, exact bool) {
	// The layout the package doc recommends: OpenCV single-threaded, the
	// cores shared out by workers (and ORT threads when fewer workers).
	SetOpenCVThreads(1)
	defer SetOpenCVThreads(0)
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
	benchmarkFiles(b, upscaled12MP(b, benchPhotos(b)), false)
}

// BenchmarkAnalyze12MPFewFaces: the photos with 0-3 faces (PhotoPrism's
// personal photos and four group photos) upscaled to 12 MP, quality 90.
func BenchmarkAnalyze12MPFewFaces(b *testing.B) {
	benchmarkFiles(b, upscaled12MP(b, fewFacePhotos(b)), false)
}

// BenchmarkAnalyzeTestPhotos: the test photos as they are (500-2280 px).
func BenchmarkAnalyzeTestPhotos(b *testing.B) {
	benchmarkFiles(b, benchPhotos(b), false)
}

// BenchmarkAnalyzeExactDemo: the seed's exact mode on its demo photo.
func BenchmarkAnalyzeExactDemo(b *testing.B) {
	benchmarkFiles(b, benchPhotos(b)[:1], true)
}
