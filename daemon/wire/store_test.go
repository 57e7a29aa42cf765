package wire

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/faced/faced/daemon"
	"github.com/faced/faced/face"
	"github.com/faced/faced/index"
)

func openStore(t *testing.T) *Store {
	t.Helper()
	ix, err := index.Open(context.Background(), filepath.Join(t.TempDir(), "faces.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	return NewStore(ix)
}

func lease1(t *testing.T, s *Store, want string) daemon.Job {
	t.Helper()
	jobs, err := s.Lease(context.Background(), 1)
	if err != nil || len(jobs) != 1 || jobs[0].Path != want {
		t.Fatalf("lease = %+v, %v; want %s", jobs, err, want)
	}
	return jobs[0]
}

// TestStoreLifecycle drives the index through the daemon's Store the way
// the coordinator does.
func TestStoreLifecycle(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	mt := time.Unix(1_700_000_000, 123)
	a, b := "/p/a.jpg", "/p/sub/b.jpg"
	for _, p := range []string{a, b} {
		if err := s.Enqueue(ctx, p, "new"); err != nil {
			t.Fatal(err)
		}
	}
	if st, _ := s.Stats(ctx); st.Queue != 2 || st.Pending != 2 {
		t.Errorf("stats after enqueue = %+v", st)
	}

	// a is analysed: done, its faces stored, its sidecar pending.
	ja := lease1(t, s, a)
	res := &face.Result{File: a, Kind: face.KindPhoto, Width: 100, Height: 80, StoredWidth: 100, StoredHeight: 80,
		Faces: []face.Face{{Box: face.Box{X1: 10, Y1: 10, X2: 50, Y2: 50}, StoredBox: face.Box{X1: 10, Y1: 10, X2: 50, Y2: 50},
			Score: 0.99, Age: 30, MaleProb: 0.8, Features: make([]float32, 8)}}, Model: "test"}
	res.Faces[0].Features[0] = 1
	if err := s.Done(ctx, ja, 1234, mt, "hash-a", res); err != nil {
		t.Fatal(err)
	}
	rec, ok, err := s.File(ctx, a)
	if err != nil || !ok || rec.State != daemon.StateDone || rec.Size != 1234 || !rec.ModTime.Equal(mt) || rec.Hash != "hash-a" {
		t.Errorf("File(a) = %+v, %v, %v", rec, ok, err)
	}
	ex, _ := s.PendingExports(ctx, 10)
	if len(ex) != 1 || ex[0].Path != a {
		t.Fatalf("pending exports = %+v", ex)
	}
	if err := s.Exported(ctx, ex[0]); err != nil {
		t.Fatal(err)
	}
	if ex, _ := s.PendingExports(ctx, 10); len(ex) != 0 {
		t.Errorf("still pending after export: %+v", ex)
	}

	// b fails: its size and mtime are kept, so an unchanged file is not
	// queued again by the next scan; retry queues it.
	jb := lease1(t, s, b)
	if err := s.Fail(ctx, jb, 0, mt, "", "empty file (0 bytes)"); err != nil {
		t.Fatal(err)
	}
	rec, ok, _ = s.File(ctx, b)
	if !ok || rec.State != daemon.StateFailed || rec.Size != 0 || !rec.ModTime.Equal(mt) || rec.Reason != "empty file (0 bytes)" {
		t.Errorf("File(b) = %+v", rec)
	}
	if f, _ := s.Failures(ctx, 5); len(f) != 1 || f[0].Path != b {
		t.Errorf("failures = %+v", f)
	}
	if n, err := s.RetryFailed(ctx); err != nil || n != 1 {
		t.Errorf("retry = %d, %v", n, err)
	}
	if err := s.Drop(ctx, lease1(t, s, b)); err != nil {
		t.Fatal(err)
	}

	// Rename keeps the faces; the new name needs a sidecar.
	c := "/p/c.jpg"
	if err := s.Rename(ctx, a, c, 1234, mt); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.File(ctx, a); ok {
		t.Error("old name still known")
	}
	if recs, _ := s.FileByHash(ctx, "hash-a"); len(recs) != 1 || recs[0].Path != c || recs[0].State != daemon.StateDone {
		t.Errorf("by hash = %+v", recs)
	}
	if st, _ := s.Stats(ctx); st.Faces != 1 || st.Done != 1 || st.Failed != 1 || st.Queue != 0 {
		t.Errorf("stats = %+v", st)
	}
	if ex, _ := s.PendingExports(ctx, 10); len(ex) != 1 || ex[0].Path != c {
		t.Errorf("pending exports after rename = %+v", ex)
	}
	if fs, _ := s.Files(ctx, "/p/sub"); len(fs) != 1 || fs[0].Path != b {
		t.Errorf("files under /p/sub = %+v", fs)
	}

	// Remove drops the file and its faces.
	if err := s.Remove(ctx, c); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Stats(ctx); st.Faces != 0 || st.Done != 0 {
		t.Errorf("stats after remove = %+v", st)
	}
	if err := s.Remove(ctx, c); err != nil {
		t.Errorf("removing an unknown file: %v", err)
	}

	// A lease held by a dead process comes back.
	s.Enqueue(ctx, a, "new")
	lease1(t, s, a)
	if n, failed, err := s.RecoverLeases(ctx, 5); err != nil || n != 1 || failed != 0 {
		t.Errorf("recover = %d, %d, %v", n, failed, err)
	}
	lease1(t, s, a)
}
