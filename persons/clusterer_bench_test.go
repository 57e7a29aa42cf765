package persons

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/faced/faced/face"
	"github.com/faced/faced/index"
)

// benchFaces is the index size of the benchmarks (FACED_BENCH_FACES).
func benchFaces(b *testing.B, def int) int {
	if v := os.Getenv("FACED_BENCH_FACES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("FACED_BENCH_FACES=%q", v)
		}
		return n
	}
	return def
}

// benchIndex fills an index with n faces of w's identities, perFile faces
// per file.
func benchIndex(b *testing.B, w *world, n, perFile int) {
	ctx := context.Background()
	who := 0
	for done := 0; done < n; {
		w.n++
		p := filepath.Join(w.dir, fmt.Sprintf("f%07d.jpg", w.n))
		when := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(w.n) * time.Hour)
		id, err := w.ix.UpsertFile(ctx, index.File{Path: p, Size: 1, ModTime: when, CaptureTime: when})
		if err != nil {
			b.Fatal(err)
		}
		k := min(perFile, n-done)
		faces := make([]face.Face, k)
		for i := range faces {
			x := float64(i%10) * 120
			y := float64(i/10) * 120
			bx := face.Box{X1: x, Y1: y, X2: x + 100, Y2: y + 100}
			faces[i] = face.Face{Box: bx, StoredBox: bx, Score: 0.99, Age: 30, MaleProb: 0.5,
				Features: w.vec(fmt.Sprint("id", who%(n/20+1)), 0.1)}
			who++
		}
		if _, err := w.ix.ReplaceFaces(ctx, id, faces, "test-model"); err != nil {
			b.Fatal(err)
		}
		done += k
	}
}

func benchWorld(b *testing.B) *world {
	ix, err := index.Open(context.Background(), filepath.Join(b.TempDir(), "faces.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ix.Close() })
	return &world{t: b, ix: ix, dir: b.TempDir(), base: map[string][]float32{}, rng: newRand()}
}

// BenchmarkUpdateReads: the index reads behind one clusterer update after
// one new photo (1 face) with FACED_BENCH_FACES (default 100 000) faces
// indexed: before, every face's metadata plus every done file (full);
// now, the change feed since the last revision plus the new face's vector
// (feed).
func BenchmarkUpdateReads(b *testing.B) {
	n := benchFaces(b, 100_000)
	w := benchWorld(b)
	t0 := time.Now()
	benchIndex(b, w, n, 100)
	b.Logf("index of %d faces built in %v", n, time.Since(t0).Round(time.Millisecond))
	ctx := context.Background()
	b.Run("full", func(b *testing.B) {
		for b.Loop() {
			all, err := w.ix.Faces(ctx, index.FaceQuery{NoFeatures: true})
			if err != nil || len(all) < n {
				b.Fatal(len(all), err)
			}
			if _, err := w.ix.Files(ctx, index.StatusDone); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("feed", func(b *testing.B) {
		_, _, rev, err := w.ix.FaceChanges(ctx, 0, index.FaceQuery{NoFeatures: true})
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			b.StopTimer()
			w.photo("new")
			b.StartTimer()
			ch, _, r, err := w.ix.FaceChanges(ctx, rev, index.FaceQuery{NoFeatures: true})
			if err != nil || len(ch) != 1 {
				b.Fatal(len(ch), err)
			}
			set, err := w.ix.LoadFaceSet(ctx, index.FaceQuery{IDs: []int64{ch[0].ID}}, index.Float32)
			if err != nil || len(set.Faces) != 1 {
				b.Fatal(err)
			}
			if _, err := w.ix.FileByID(ctx, ch[0].FileID); err != nil {
				b.Fatal(err)
			}
			rev = r
		}
	})
}

// BenchmarkPersonsUpdate: Persons.Update after one new photo (1 face) with
// FACED_BENCH_FACES (default 10 000; the engine's start-up links every
// face, quadratic) faces indexed: feed, vector, engine, assignments,
// attributes, visibility.
func BenchmarkPersonsUpdate(b *testing.B) {
	n := benchFaces(b, 10_000)
	w := benchWorld(b)
	benchIndex(b, w, n, 100)
	p := testPersons(w.ix, "")
	ctx := context.Background()
	t0 := time.Now()
	if err := p.Update(ctx); err != nil {
		b.Fatal(err)
	}
	if err := p.Update(ctx); err != nil { // the echo of its own assignments
		b.Fatal(err)
	}
	b.Logf("start-up with %d faces: %v", n, time.Since(t0).Round(time.Millisecond))
	for b.Loop() {
		b.StopTimer()
		w.photo("id1")
		b.StartTimer()
		if err := p.Update(ctx); err != nil {
			b.Fatal(err)
		}
		if st := p.LastUpdate(); st.Vectors != 1 {
			b.Fatalf("update read %d vectors, want 1", st.Vectors)
		}
	}
}
