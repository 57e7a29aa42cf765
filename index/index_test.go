package index

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/faced/faced/face"
)

func openTest(t testing.TB) *Index {
	t.Helper()
	ix, err := Open(context.Background(), filepath.Join(t.TempDir(), "faces.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ix.Close(); err != nil {
			t.Error(err)
		}
	})
	return ix
}

// unitVec returns a deterministic random L2-normalised vector.
func unitVec(seed uint64, dim int) []float32 {
	r := rand.New(rand.NewPCG(seed, 7))
	v := make([]float32, dim)
	var s float64
	for i := range v {
		x := r.NormFloat64()
		v[i] = float32(x)
		s += x * x
	}
	for i := range v {
		v[i] /= float32(math.Sqrt(s))
	}
	return v
}

func mkFace(x, y, w float64, seed uint64) face.Face {
	b := face.Box{X1: x, Y1: y, X2: x + w, Y2: y + w}
	return face.Face{Box: b, StoredBox: b, Score: 0.99, Age: 30, MaleProb: 0.8, Features: unitVec(seed, 16),
		Landmarks: [10]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}
}

// addFile creates a done file at path with faces and returns the file and face ids.
func addFile(t testing.TB, ix *Index, path string, faces ...face.Face) (int64, []int64) {
	t.Helper()
	ctx := context.Background()
	id, err := ix.UpsertFile(ctx, File{Path: path, Size: 1, ModTime: time.Unix(1_600_000_000, 0),
		CaptureTime: time.Date(2020, 6, 1, 12, 0, 0, 0, time.UTC), CaptureSource: "exif"})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := ix.ReplaceFaces(ctx, id, faces, "test-model")
	if err != nil {
		t.Fatal(err)
	}
	return id, ids
}

func TestOpenMigratesEmptyDatabase(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "faces.db")
	ix, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := ix.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v != SchemaVersion() || v < 2 {
		t.Fatalf("version %d after Open, want %d", v, SchemaVersion())
	}
	var mode string
	if err := ix.r.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode %q (%v), want wal", mode, err)
	}
	// 16 KiB pages hold a row with 1024 float32 features without overflow pages.
	var ps int
	if err := ix.r.QueryRowContext(ctx, "PRAGMA page_size").Scan(&ps); err != nil || ps != 16384 {
		t.Fatalf("page_size %d (%v), want 16384", ps, err)
	}
	var fk int
	if err := ix.w.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Fatalf("foreign_keys %d (%v), want 1", fk, err)
	}
	if _, err := ix.r.ExecContext(ctx, "INSERT INTO queue (path, enqueued_at) VALUES ('x', 0)"); err == nil {
		t.Fatal("read pool accepted a write")
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopening is a no-op for the schema.
	ix, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := ix.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_version").Scan(&n); err != nil || n != SchemaVersion() {
		t.Fatalf("%d schema_version rows (%v), want %d", n, err, SchemaVersion())
	}
	if err := ix.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
	ix.Close()
}

func TestUpgradeKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "faces.db")
	old, err := open(ctx, path, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.r.ExecContext(ctx, "SELECT 1 FROM age_samples"); err == nil {
		t.Fatal("version 1 already has age_samples")
	}
	// Data written with version 1's schema (today's code writes the newest).
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO files (id, path, mtime, status) VALUES (1, '/p/a.jpg', 1, 'done')`, nil},
		{`INSERT INTO faces (id, file_id, x1, y1, x2, y2, sx1, sy1, sx2, sy2, age, features, model, created_at, updated_at)
			VALUES (7, 1, 10, 10, 60, 60, 10, 10, 60, 60, 30, ?, 'm', 0, 0)`, []any{encodeFeatures(unitVec(1, 16))}},
		{`INSERT INTO persons (id, name, name_source, created_at, updated_at) VALUES (3, 'Ann', 'user', 0, 0)`, nil},
		{`INSERT INTO assignments (face_id, person_id, source, assigned_at) VALUES (7, 3, 'user', 0)`, nil},
		{`INSERT INTO queue (path, enqueued_at) VALUES ('/p/b.jpg', 0)`, nil},
	} {
		if _, err := old.w.ExecContext(ctx, q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	faceIDs := []int64{7}
	old.Close()

	ix, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if v, _ := ix.Version(ctx); v != SchemaVersion() {
		t.Fatalf("version %d after upgrade, want %d", v, SchemaVersion())
	}
	rec, err := ix.Face(ctx, faceIDs[0])
	if err != nil {
		t.Fatalf("face lost in upgrade: %v", err)
	}
	if want := unitVec(1, 16); len(rec.Features) != 16 || rec.Features[3] != want[3] {
		t.Fatalf("features changed in upgrade")
	}
	if rec.PersonID != 3 || rec.Source != SourceUser || rec.Box.X2 != 60 {
		t.Fatalf("face after upgrade: %+v", rec)
	}
	if p, err := ix.Person(ctx, 3); err != nil || p.Name != "Ann" || p.Faces != 1 || p.Files != 1 {
		t.Fatalf("person after upgrade: %+v, %v", p, err)
	}
	if best, err := ix.BestFace(ctx, 3); err != nil || best != 7 {
		t.Fatalf("best face after upgrade: %d, %v", best, err)
	}
	if cs, err := ix.Centroids(ctx, 0); err != nil || len(cs) != 1 || cs[0].PersonID != 3 || cs[0].Faces != 1 ||
		math.Abs(float64(cs[0].Mean[3]-unitVec(1, 16)[3])) > 1e-6 {
		t.Fatalf("centroids after upgrade: %+v, %v", cs, err)
	}
	if w, _, _ := ix.QueueLen(ctx); w != 1 {
		t.Fatalf("queue has %d entries after upgrade, want 1", w)
	}
	if _, err := ix.RefreshAgeSamples(ctx); err != nil {
		t.Fatalf("new table unusable: %v", err)
	}
	// Faces from before the change feed get revisions, and new changes come after them.
	all, _, rev, err := ix.FaceChanges(ctx, 0, FaceQuery{})
	if err != nil || len(all) != 1 || all[0].Rev == 0 || rev < all[0].Rev {
		t.Fatalf("change feed after upgrade: %+v rev %d, %v", all, rev, err)
	}
	addFile(t, ix, "/p/c.jpg", mkFace(0, 0, 50, 2))
	if changed, _, _, _ := ix.FaceChanges(ctx, rev, FaceQuery{}); len(changed) != 1 || changed[0].Path != "/p/c.jpg" {
		t.Fatalf("changes after upgrade: %+v", changed)
	}
}

func TestSchemaTooNew(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "faces.db")
	ix, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ix.w.ExecContext(ctx, "INSERT INTO schema_version VALUES (999, 'future', 0)"); err != nil {
		t.Fatal(err)
	}
	ix.Close()
	if _, err := Open(ctx, path); !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open of a newer schema: %v, want ErrSchemaTooNew", err)
	}
}

func TestOpenBadPath(t *testing.T) {
	for _, p := range []string{"", filepath.Join(t.TempDir(), "missing", "faces.db"), "/tmp/a?b.db"} {
		if ix, err := Open(context.Background(), p); err == nil {
			ix.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

func TestFeatureRoundTrip(t *testing.T) {
	v := []float32{0, -1, 1.5, float32(math.SmallestNonzeroFloat32), math.MaxFloat32, -0.123456789}
	got, err := decodeFeatures(nil, encodeFeatures(v))
	if err != nil {
		t.Fatal(err)
	}
	for i := range v {
		if got[i] != v[i] {
			t.Fatalf("value %d: %v, want %v", i, got[i], v[i])
		}
	}
	if b := encodeFeatures([]float32{1}); b[0] != 0 || b[3] != 0x3f || b[2] != 0x80 {
		t.Fatalf("1.0 encoded as % x, want little-endian 00 00 80 3f", b)
	}
	if _, err := decodeFeatures(nil, []byte{1, 2, 3}); err == nil {
		t.Fatal("3-byte blob decoded")
	}
}

// TestConcurrentWriters opens the file twice (as the daemon and facedctl
// do) and writes from both while a third handle reads: the busy timeout and
// BEGIN IMMEDIATE serialise them without SQLITE_BUSY errors.
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "faces.db")
	var ixs []*Index
	for range 3 {
		ix, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer ix.Close()
		ixs = append(ixs, ix)
	}
	const perWriter = 60
	errc := make(chan error, 4)
	for w := range 2 {
		go func() {
			for i := range perWriter {
				p := filepath.Join("/w", string(rune('a'+w)), string(rune('A'+i%26))+string(rune('0'+i/26)))
				id, err := ixs[w].UpsertFile(ctx, File{Path: p})
				if err == nil {
					_, err = ixs[w].ReplaceFaces(ctx, id, []face.Face{mkFace(0, 0, 10, uint64(i))}, "m")
				}
				if err == nil {
					var pid int64
					if pid, err = ixs[w].CreatePerson(ctx, Person{}); err == nil {
						_, err = ixs[w].SetName(ctx, pid, "x", SourceUser)
					}
				}
				if err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
	}
	go func() {
		for range 50 {
			if _, err := ixs[2].Stats(ctx, 3); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	for range 3 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	st, err := ixs[2].Stats(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if st.Faces != 2*perWriter || st.Persons != 2*perWriter || st.Files[StatusDone] != 2*perWriter {
		t.Fatalf("stats after concurrent writes: %+v", st)
	}
}
