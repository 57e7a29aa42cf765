package exporters

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/faced/faced/face"
	"github.com/faced/faced/internal/shared"
)

// BenchmarkExport measures full sidecar writes (read, merge, atomic write)
// into sidecars seeded from a real photo with foreign regions and
// keywords; each iteration changes the visibility so every export writes.
// Reported as sidecars/s.
func BenchmarkExport(b *testing.B) {
	src := filepath.Join(shared.Dir(b, regionsDir), "immich_portrait.jpg")
	dir := b.TempDir()
	const n = 64
	var photos []Photo
	for i := range n {
		path := copyFile(b, src, dir, fmt.Sprintf("p%02d.jpg", i))
		photos = append(photos, Photo{Path: path, StoredWidth: 840, StoredHeight: 700, Keywords: []string{"Bob", "Marie Curie"},
			Regions: []Region{
				{FaceID: 1, PersonID: 1, StoredBox: face.Box{X1: 265, Y1: 150, X2: 355, Y2: 285}, Age: 30, MaleProb: 0.1, Score: 0.99, Model: "seed"},
				{FaceID: 2, PersonID: 2, Name: "Bob", StoredBox: face.Box{X1: 20, Y1: 500, X2: 120, Y2: 640}, Age: 40, MaleProb: 0.9, Score: 0.98, Model: "seed"},
			}})
	}
	e := newExporter(b, Options{UnnamedLabel: "Person", VisibilityKeywordRoot: "faced"})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := photos[i%n]
		p.Visibility = []string{"private", "public"}[(i/n)%2]
		if r := mustExport(b, e, p); r.Unchanged {
			b.Fatal("nothing written")
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sidecars/s")
}

// BenchmarkExportParallel is BenchmarkExport with GOMAXPROCS exporters
// at once (the fsync waits overlap).
func BenchmarkExportParallel(b *testing.B) {
	src := filepath.Join(shared.Dir(b, regionsDir), "immich_portrait.jpg")
	dir := b.TempDir()
	const n = 256
	var photos []Photo
	for i := range n {
		path := copyFile(b, src, dir, fmt.Sprintf("p%03d.jpg", i))
		photos = append(photos, Photo{Path: path, StoredWidth: 840, StoredHeight: 700, Keywords: []string{"Bob"},
			Regions: []Region{{FaceID: 2, PersonID: 2, Name: "Bob", StoredBox: face.Box{X1: 20, Y1: 500, X2: 120, Y2: 640}, Score: 0.98}}})
	}
	e := newExporter(b, Options{VisibilityKeywordRoot: "faced"})
	var next atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			p := photos[i%n] // distinct files while i < n; then alternate
			p.Visibility = []string{"private", "public"}[(i/n)%2]
			if _, err := e.Export(context.Background(), p); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sidecars/s")
}

// BenchmarkExportUnchanged measures the "already current" check.
func BenchmarkExportUnchanged(b *testing.B) {
	src := filepath.Join(shared.Dir(b, regionsDir), "immich_portrait.jpg")
	path := copyFile(b, src, b.TempDir(), "u.jpg")
	p := Photo{Path: path, StoredWidth: 840, StoredHeight: 700, Visibility: "private",
		Regions: []Region{{FaceID: 2, PersonID: 2, Name: "Bob", StoredBox: face.Box{X1: 20, Y1: 500, X2: 120, Y2: 640}}}}
	e := newExporter(b, Options{})
	mustExport(b, e, p)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := mustExport(b, e, p); !r.Unchanged {
			b.Fatal("rewritten")
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sidecars/s")
}
