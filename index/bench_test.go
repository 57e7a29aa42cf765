package index

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/faced/faced/face"
)

func benchFaces(seed uint64, n int) []face.Face {
	fs := make([]face.Face, n)
	for i := range fs {
		f := mkFace(float64(150*i), 0, 100, seed+uint64(i))
		f.Features = unitVec(seed+uint64(i), 1024)
		fs[i] = f
	}
	return fs
}

// BenchmarkReplaceFaces re-analyses one file with 3 faces of 1024 features
// (ids kept by overlap) in a database of 1000 such files.
func BenchmarkReplaceFaces(b *testing.B) {
	ctx := context.Background()
	ix := openTest(b)
	var ids []int64
	for i := range 1000 {
		id, _ := addFile(b, ix, fmt.Sprintf("/p/%04d.jpg", i), benchFaces(uint64(3*i), 3)...)
		ids = append(ids, id)
	}
	batch := benchFaces(77, 3)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := ix.ReplaceFaces(ctx, ids[i%len(ids)], batch, "m"); err != nil {
			b.Fatal(err)
		}
	}
}

var fixtureOnce struct {
	sync.Mutex
	dir string
	dbs map[int]string
}

// faceFixture returns a database with n faces (3 per file, 1024 features),
// built once per test process.
func faceFixture(b *testing.B, n int) string {
	fixtureOnce.Lock()
	defer fixtureOnce.Unlock()
	if p, ok := fixtureOnce.dbs[n]; ok {
		return p
	}
	if fixtureOnce.dir == "" {
		d, err := os.MkdirTemp("", "faced-index-bench")
		if err != nil {
			b.Fatal(err)
		}
		fixtureOnce.dir, fixtureOnce.dbs = d, map[int]string{}
	}
	path := filepath.Join(fixtureOnce.dir, fmt.Sprintf("faces-%d.db", n))
	ctx := context.Background()
	ix, err := Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	err = ix.write(ctx, func(tx *sql.Tx) error {
		for i := 0; i*3 < n; i++ {
			id, err := ix.upsertFile(ctx, tx, File{Path: fmt.Sprintf("/p/%06d.jpg", i), ModTime: time.Unix(1_600_000_000, 0)})
			if err != nil {
				return err
			}
			if _, err := ix.replaceFaces(ctx, tx, id, benchFaces(uint64(3*i), min(3, n-3*i)), "m"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	ix.Close()
	fi, _ := os.Stat(path)
	b.Logf("fixture: %d faces, %d MB, built in %v", n, fi.Size()>>20, time.Since(start).Round(time.Millisecond))
	fixtureOnce.dbs[n] = path
	return path
}

func benchN() int {
	if s := os.Getenv("FACED_BENCH_FACES"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n
		}
	}
	return 100_000
}

// BenchmarkLoadFaces loads every face of a 100 000-face index
// (FACED_BENCH_FACES overrides the count): streamed records with float32
// features, and compact face sets at each precision.
func BenchmarkLoadFaces(b *testing.B) {
	n := benchN()
	path := faceFixture(b, n)
	ctx := context.Background()
	ix, err := Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer ix.Close()
	b.Run("AllFaces", func(b *testing.B) {
		for b.Loop() {
			c := 0
			for _, err := range ix.AllFaces(ctx, FaceQuery{}) {
				if err != nil {
					b.Fatal(err)
				}
				c++
			}
			if c != n {
				b.Fatalf("%d faces", c)
			}
		}
		b.ReportMetric(float64(n), "faces")
	})
	b.Run("AllFaces-NoFeatures", func(b *testing.B) {
		for b.Loop() {
			c := 0
			for _, err := range ix.AllFaces(ctx, FaceQuery{NoFeatures: true}) {
				if err != nil {
					b.Fatal(err)
				}
				c++
			}
			if c != n {
				b.Fatalf("%d faces", c)
			}
		}
	})
	for _, p := range []Precision{Float32, Float16, Int8} {
		b.Run("FaceSet-"+p.String(), func(b *testing.B) {
			var fs *FaceSet
			for b.Loop() {
				if fs, err = ix.LoadFaceSet(ctx, FaceQuery{}, p); err != nil {
					b.Fatal(err)
				}
			}
			if len(fs.Faces) != n {
				b.Fatalf("%d faces", len(fs.Faces))
			}
			b.ReportMetric(float64(fs.Features.Bytes())/(1<<20), "MiB-features")
		})
	}
}

// BenchmarkMatrixAppend converts one 1024-d vector per op.
func BenchmarkMatrixAppend(b *testing.B) {
	v := unitVec(1, 1024)
	for _, p := range []Precision{Float32, Float16, Int8} {
		b.Run(p.String(), func(b *testing.B) {
			m := NewMatrix(p, 1024, 0)
			for i := 0; b.Loop(); i++ {
				if i%1000 == 0 {
					m = NewMatrix(p, 1024, 1000)
				}
				m.Append(v)
			}
		})
	}
}

// BenchmarkAssignFaces assigns 1000 faces automatically per op (the
// clusterer's write after a batch), alternating between two persons.
func BenchmarkAssignFaces(b *testing.B) {
	ctx := context.Background()
	ix := openTest(b)
	var faces []int64
	for i := range 334 {
		_, ids := addFile(b, ix, fmt.Sprintf("/p/%04d.jpg", i), mkFace(0, 0, 100, uint64(3*i)), mkFace(200, 0, 100, uint64(3*i+1)),
			mkFace(400, 0, 100, uint64(3*i+2)))
		faces = append(faces, ids...)
	}
	faces = faces[:1000]
	p1, _ := ix.CreatePerson(ctx, Person{})
	p2, _ := ix.CreatePerson(ctx, Person{})
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		m := make(map[int64]int64, len(faces))
		for _, f := range faces {
			m[f] = []int64{p1, p2}[i%2]
		}
		if n, err := ix.AssignFaces(ctx, m, SourceAuto); err != nil || n != len(faces) {
			b.Fatalf("%d, %v", n, err)
		}
	}
}

// BenchmarkExportReads: the reads behind one sidecar export (file by path,
// its faces without features, a person) in an index of 1000 files with 3
// faces each.
func BenchmarkExportReads(b *testing.B) {
	ctx := context.Background()
	ix := openTest(b)
	var paths []string
	for i := range 1000 {
		p := fmt.Sprintf("/p/%04d.jpg", i)
		addFile(b, ix, p, benchFaces(uint64(3*i), 3)...)
		paths = append(paths, p)
	}
	pid, err := ix.CreatePerson(ctx, Person{Name: "A"})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		f, err := ix.FileByPath(ctx, paths[i%len(paths)])
		if err != nil {
			b.Fatal(err)
		}
		if fs, err := ix.Faces(ctx, FaceQuery{FileID: f.ID, NoFeatures: true}); err != nil || len(fs) != 3 {
			b.Fatalf("faces: %d, %v", len(fs), err)
		}
		if _, err := ix.Person(ctx, pid); err != nil {
			b.Fatal(err)
		}
	}
}
