package review

import (
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/faced/faced/face"
	"github.com/faced/faced/index"
	"github.com/faced/faced/persons"
)

func benchEnv(b *testing.B, name string, def int) int {
	if v := os.Getenv(name); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("%s=%q", name, v)
		}
		return n
	}
	return def
}

// benchServer builds a synthetic library of FACED_BENCH_PERSONS persons
// (default 1 000) and FACED_BENCH_FACES faces (default 100 000), heavy
// tailed: person k has about faces/(k·H) faces (the largest tens of
// thousands at 1 M, a long tail of one-face persons), ten faces a photo.
func benchServer(b *testing.B) (http.Handler, *http.Cookie, []int64) {
	// Built once per process: testing runs a benchmark with b.N = 1 first.
	if benchBuilt.h == nil {
		buildBenchServer(b)
	}
	return benchBuilt.h, benchBuilt.c, benchBuilt.faces
}

var benchBuilt struct {
	dir   string
	h     http.Handler
	c     *http.Cookie
	faces []int64
	s     *persons.Service
	srv   *Server
	pids  []int64 // by expected size, largest first
	// loaded: BenchmarkSuggestions timed a load of every face's vector
	loaded bool
}

func buildBenchServer(b *testing.B) {
	ctx := context.Background()
	np, nf := benchEnv(b, "FACED_BENCH_PERSONS", 1000), benchEnv(b, "FACED_BENCH_FACES", 100_000)
	// Not b.TempDir: the index outlives the b.N = 1 run.
	dir, err := os.MkdirTemp("", "facedbench")
	if err != nil {
		b.Fatal(err)
	}
	benchBuilt.dir = dir // removed by TestMain
	ix, err := index.Open(ctx, filepath.Join(dir, persons.IndexFile))
	if err != nil {
		b.Fatal(err)
	}
	lib := filepath.Join(dir, "photos")
	os.MkdirAll(lib, 0o755)
	photo := filepath.Join(lib, "p.jpg")
	fh, _ := os.Create(photo)
	jpeg.Encode(fh, image.NewGray(image.Rect(0, 0, 400, 400)), nil)
	fh.Close()
	begin := time.Now()
	pids := make([]int64, np)
	for i := range pids {
		if pids[i], err = ix.CreatePerson(ctx, index.Person{}); err != nil {
			b.Fatal(err)
		}
	}
	// Zipf-like sizes: weight 1/k.
	var h float64
	for k := 1; k <= np; k++ {
		h += 1 / float64(k)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	pick := func() int64 {
		x := rng.Float64() * h
		for k := 1; k <= np; k++ {
			if x -= 1 / float64(k); x <= 0 {
				return pids[k-1]
			}
		}
		return pids[np-1]
	}
	// Each person's faces: the person's direction plus noise (unit
	// vectors of FACED_BENCH_DIM values, default 4).
	dim := benchEnv(b, "FACED_BENCH_DIM", 4)
	base := map[int64][]float64{}
	vec := func(p int64) []float32 {
		d := base[p]
		if d == nil {
			d = make([]float64, dim)
			for i := range d {
				d[i] = rng.NormFloat64()
			}
			base[p] = d
		}
		v := make([]float32, dim)
		var n float64
		for i := range v {
			x := d[i] + 0.5*rng.NormFloat64()
			v[i] = float32(x)
			n += x * x
		}
		for i := range v {
			v[i] /= float32(math.Sqrt(n))
		}
		return v
	}
	assign := map[int64]int64{}
	var faces []int64
	for done, n := 0, 0; done < nf; n++ {
		p := photo
		if n > 0 {
			p = filepath.Join(lib, fmt.Sprintf("f%07d.jpg", n))
		}
		fid, err := ix.UpsertFile(ctx, index.File{Path: p, Size: 1, ModTime: time.Unix(int64(n), 0), Kind: face.KindPhoto})
		if err != nil {
			b.Fatal(err)
		}
		var fs []face.Face
		var who []int64
		for j := 0; j < 10 && done < nf; j++ {
			bx := face.Box{X1: float64(j * 30), Y1: 10, X2: float64(j*30 + 28), Y2: 40}
			p := pick()
			who = append(who, p)
			fs = append(fs, face.Face{Box: bx, StoredBox: bx, Score: 0.9, Age: 30, MaleProb: 0.5, Features: vec(p)})
			done++
		}
		ids, err := ix.ReplaceFaces(ctx, fid, fs, "bench")
		if err != nil {
			b.Fatal(err)
		}
		for i, id := range ids {
			assign[id] = who[i]
		}
		faces = append(faces, ids...)
		if len(assign) >= 50_000 {
			if _, err := ix.AssignFaces(ctx, assign, index.SourceAuto); err != nil {
				b.Fatal(err)
			}
			clear(assign)
		}
	}
	if _, err := ix.AssignFaces(ctx, assign, index.SourceAuto); err != nil {
		b.Fatal(err)
	}
	b.Logf("index of %d persons, %d faces built in %v", np, nf, time.Since(begin).Round(time.Second))
	th, err := persons.NewThumbs(ix, lib, filepath.Join(dir, persons.ThumbsDir))
	if err != nil {
		b.Fatal(err)
	}
	s := &Server{S: persons.New(ix, persons.Options{Thumbs: th}), Secret: "0123456789abcdef0123456789abcdef", Addr: "127.0.0.1:7878", Library: lib}
	benchBuilt.h, benchBuilt.c, benchBuilt.faces = s.Handler(), &http.Cookie{Name: cookieName, Value: s.Secret}, faces
	benchBuilt.s, benchBuilt.srv, benchBuilt.pids = s.S, s, pids
}

func serveOnce(b *testing.B, h http.Handler, c *http.Cookie, path string) time.Duration {
	req := httptest.NewRequest("GET", path, nil)
	req.Host = "127.0.0.1:7878"
	req.AddCookie(c)
	rec := httptest.NewRecorder()
	t0 := time.Now()
	h.ServeHTTP(rec, req)
	d := time.Since(t0)
	if rec.Code != http.StatusOK {
		b.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
	}
	return d
}

func reportP95(b *testing.B, ds []time.Duration) {
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)*95/100].Microseconds())/1000, "p95-ms")
	b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, "p50-ms")
}

// BenchmarkGridPage: server time of grid pages (60 persons) spread over the
// whole list.
func BenchmarkGridPage(b *testing.B) {
	h, c, _ := benchServer(b)
	np := benchEnv(b, "FACED_BENCH_PERSONS", 1000)
	first := serveOnce(b, h, c, "/api/persons?offset=0&limit=60")
	b.Logf("first grid page: %v", first.Round(time.Microsecond))
	b.ResetTimer()
	var ds []time.Duration
	for i := 0; i < b.N; i++ {
		off := (i * 997 * 60) % max(np-60, 1)
		ds = append(ds, serveOnce(b, h, c, fmt.Sprintf("/api/persons?offset=%d&limit=60", off)))
	}
	reportP95(b, ds)
}

// BenchmarkGridPageAfterEdit: server time of the first grid page after an
// edit (a person renamed, then a face moved to another person: counts and
// order change), the edit itself not timed.
func BenchmarkGridPageAfterEdit(b *testing.B) {
	h, c, faces := benchServer(b)
	s, pids := benchBuilt.s, benchBuilt.pids
	ctx := context.Background()
	np := len(pids)
	b.ResetTimer()
	var ds []time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if err := s.Name(ctx, pids[(i*31)%np], fmt.Sprintf("Name %d", i)); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Move(ctx, []int64{faces[(i*7919)%len(faces)]}, pids[(i*17)%np]); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		off := (i * 997 * 60) % max(np-60, 1)
		ds = append(ds, serveOnce(b, h, c, fmt.Sprintf("/api/persons?offset=%d&limit=60", off)))
	}
	reportP95(b, ds)
}

// BenchmarkPersonPage: server time of a page of 60 faces of the largest
// person (tens of thousands of faces at 1 M) and of a person of a few
// faces, first page and pages spread over the largest person's faces.
func BenchmarkPersonPage(b *testing.B) {
	h, c, _ := benchServer(b)
	ctx := context.Background()
	ps, _, err := benchBuilt.s.List(ctx, persons.ListQuery{Review: true})
	if err != nil {
		b.Fatal(err)
	}
	largest, small := ps[0], ps[len(ps)-1]
	for _, p := range ps {
		if p.Faces >= 3 && p.Faces <= 10 {
			small = p
		}
	}
	for _, tc := range []struct {
		name string
		p    index.Person
		deep bool
	}{{"largest-first", largest, false}, {"largest-deep", largest, true}, {"small", small, false}} {
		b.Run(tc.name, func(b *testing.B) {
			b.Logf("person #%d: %d faces", tc.p.ID, tc.p.Faces)
			var ds []time.Duration
			for i := 0; i < b.N; i++ {
				off := 0
				if tc.deep {
					off = (i * 7919 * 60) % max(tc.p.Faces-60, 1)
				}
				ds = append(ds, serveOnce(b, h, c, fmt.Sprintf("/api/persons/%d/faces?offset=%d&limit=60", tc.p.ID, off)))
			}
			reportP95(b, ds)
		})
	}
}

// BenchmarkCachedThumbnail: server time of a thumbnail already cropped.
func BenchmarkCachedThumbnail(b *testing.B) {
	h, c, faces := benchServer(b)
	ids := faces[:min(len(faces), 10)]
	for _, id := range ids {
		serveOnce(b, h, c, fmt.Sprintf("/thumb/%d", id))
	}
	b.ResetTimer()
	var ds []time.Duration
	for i := 0; i < b.N; i++ {
		ds = append(ds, serveOnce(b, h, c, fmt.Sprintf("/thumb/%d", ids[i%len(ids)])))
	}
	reportP95(b, ds)
}

// BenchmarkSuggestions: server time of the merge suggestions on a cache
// miss (the cache dropped before each request), compared among the 2 000
// largest persons; and, logged once, what a miss read before the centroids:
// every face's identity vector.
func BenchmarkSuggestions(b *testing.B) {
	h, c, _ := benchServer(b)
	ctx := context.Background()
	b.Run("miss", func(b *testing.B) {
		// Once per process: a full load is seconds at 1 M faces.
		if !benchBuilt.loaded {
			benchBuilt.loaded = true
			t0 := time.Now()
			set, err := benchBuilt.s.Index().LoadFaceSet(ctx, index.FaceQuery{}, index.Float32)
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("what a miss read before: every face's vector, %d faces in %v", len(set.Faces), time.Since(t0).Round(time.Millisecond))
		}
		var ds []time.Duration
		for i := 0; i < b.N; i++ {
			benchBuilt.srv.sugg.invalidate()
			ds = append(ds, serveOnce(b, h, c, "/api/suggestions?limit=50"))
		}
		reportP95(b, ds)
	})
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchBuilt.dir != "" {
		os.RemoveAll(benchBuilt.dir)
	}
	os.Exit(code)
}
