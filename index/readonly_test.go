package index

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fileState is what must not change when a database is only read.
type fileState struct {
	data  []byte
	mtime time.Time
}

func stateOf(t *testing.T, path string) fileState {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fileState{b, fi.ModTime()}
}

func sideFiles(path string) []string {
	var out []string
	for _, s := range []string{"-wal", "-shm", "-journal"} {
		if _, err := os.Lstat(path + s); err == nil {
			out = append(out, filepath.Base(path+s))
		}
	}
	return out
}

// readAll runs the read paths facedctl status and persons use.
func readAll(t *testing.T, ix *Index) Stats {
	t.Helper()
	ctx := context.Background()
	st, err := ix.Stats(ctx, 20)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := ix.Persons(ctx, PersonQuery{Inactive: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if _, err := ix.Person(ctx, p.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := ix.Faces(ctx, FaceQuery{PersonID: p.ID, NoFeatures: true}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, _, err := ix.FaceChanges(ctx, 0, FaceQuery{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ix.LoadFaceSet(ctx, FaceQuery{}, Float16); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestOpenReadOnlyChangesNothing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "faces.db")
	ix, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	_, ids := addFile(t, ix, "/p/a.jpg", mkFace(10, 10, 50, 1), mkFace(100, 10, 50, 2))
	pid, err := ix.CreatePerson(ctx, Person{Name: "Ann", NameSource: SourceUser})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ix.AssignFaces(ctx, map[int64]int64{ids[0]: pid}, SourceUser); err != nil {
		t.Fatal(err)
	}
	if err := ix.MarkFailed(ctx, "/p/bad.jpg", errors.New("truncated JPEG")); err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	if left := sideFiles(path); len(left) > 0 {
		t.Fatalf("Close of the writer left %v", left)
	}
	// A read-only copy (root ignores the mode: the checks below are on the
	// bytes, the mtime and the folder).
	for _, mode := range []os.FileMode{0o444, 0o644} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		before := stateOf(t, path)
		time.Sleep(20 * time.Millisecond) // a write would show in the mtime
		ro, err := OpenReadOnly(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		if !ro.ReadOnly() {
			t.Fatal("ReadOnly() false")
		}
		st := readAll(t, ro)
		if st.Faces != 2 || st.Persons != 1 || st.Files[StatusFailed] != 1 || len(st.Errors) != 1 {
			t.Fatalf("read-only stats %+v, want 2 faces, 1 person, 1 failed file", st)
		}
		// Every kind of write is refused before it reaches SQLite.
		if _, err := ro.SetName(ctx, pid, "Bob", SourceUser); !errors.Is(err, ErrReadOnly) {
			t.Fatalf("SetName on a read-only index: %v, want ErrReadOnly", err)
		}
		if err := ro.Enqueue(ctx, "/p/c.jpg", "test"); !errors.Is(err, ErrReadOnly) {
			t.Fatalf("Enqueue on a read-only index: %v, want ErrReadOnly", err)
		}
		// Even raw SQL cannot write (mode=ro, query_only).
		if _, err := ro.r.ExecContext(ctx, `UPDATE persons SET name = 'Bob'`); err == nil {
			t.Fatal("raw UPDATE succeeded on a read-only index")
		}
		if err := ro.Close(); err != nil {
			t.Fatal(err)
		}
		after := stateOf(t, path)
		if !bytes.Equal(before.data, after.data) || !before.mtime.Equal(after.mtime) {
			t.Fatalf("mode %v: database changed by a read-only open (mtime %v -> %v)", mode, before.mtime, after.mtime)
		}
		if left := sideFiles(path); len(left) > 0 {
			t.Fatalf("mode %v: read-only open left %v behind", mode, left)
		}
	}
}

func TestOpenReadOnlySeesLiveWriter(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "faces.db")
	w, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	addFile(t, w, "/p/a.jpg", mkFace(10, 10, 50, 1))
	ro, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	addFile(t, w, "/p/b.jpg", mkFace(10, 10, 50, 2)) // committed to the WAL, not checkpointed
	st, err := ro.Stats(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if st.Faces != 2 || st.Files[StatusDone] != 2 {
		t.Fatalf("read-only view %+v, want the writer's 2 files and 2 faces", st)
	}
}

func TestOpenReadOnlyRefusesOldSchemaAndMissingFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "faces.db")
	old, err := open(ctx, path, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	before := stateOf(t, path)
	if _, err := OpenReadOnly(ctx, path); !errors.Is(err, ErrSchemaTooOld) {
		t.Fatalf("OpenReadOnly of a version-1 index: %v, want ErrSchemaTooOld", err)
	}
	after := stateOf(t, path)
	if !bytes.Equal(before.data, after.data) {
		t.Fatal("OpenReadOnly migrated an old schema")
	}
	missing := filepath.Join(dir, "none.db")
	if _, err := OpenReadOnly(ctx, missing); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("OpenReadOnly of a missing file: %v, want ErrNotExist", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("OpenReadOnly created a missing database")
	}
	// A database that is not an index at all.
	other := filepath.Join(dir, "other.db")
	if err := os.WriteFile(other, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenReadOnly(ctx, other); !errors.Is(err, ErrSchemaTooOld) {
		t.Fatalf("OpenReadOnly of an empty file: %v, want ErrSchemaTooOld", err)
	}
}

// A writer that opens the database while a read-only handle (which found no
// WAL files) is open keeps its WAL files when the reader closes.
func TestOpenReadOnlyCloseKeepsWritersWAL(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "faces.db")
	w, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	addFile(t, w, "/p/a.jpg", mkFace(10, 10, 50, 1))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, ro)
	w, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	addFile(t, w, "/p/b.jpg", mkFace(10, 10, 50, 2))
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	if left := sideFiles(path); len(left) != 2 {
		t.Fatalf("WAL files of a live writer after the reader closed: %v, want -wal and -shm", left)
	}
	addFile(t, w, "/p/c.jpg", mkFace(10, 10, 50, 3))
	st, err := w.Stats(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if st.Faces != 3 {
		t.Fatalf("writer sees %d faces, want 3", st.Faces)
	}
	if err := w.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestFaceQueryIDs(t *testing.T) {
	ix := openTest(t)
	ctx := context.Background()
	_, a := addFile(t, ix, "/p/a.jpg", mkFace(10, 10, 50, 1), mkFace(100, 10, 50, 2))
	_, b := addFile(t, ix, "/p/b.jpg", mkFace(10, 10, 50, 3))
	for _, tc := range []struct {
		ids  []int64
		want int
	}{{nil, 3}, {[]int64{}, 0}, {[]int64{a[1], b[0], 999}, 2}} {
		set, err := ix.LoadFaceSet(ctx, FaceQuery{IDs: tc.ids}, Float32)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := ix.Faces(ctx, FaceQuery{IDs: tc.ids, NoFeatures: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(set.Faces) != tc.want || len(recs) != tc.want {
			t.Fatalf("IDs %v: %d/%d faces, want %d", tc.ids, len(set.Faces), len(recs), tc.want)
		}
		if tc.want == 2 && (set.Faces[0].ID != a[1] || set.Faces[1].ID != b[0]) {
			t.Fatalf("IDs %v: got %d, %d", tc.ids, set.Faces[0].ID, set.Faces[1].ID)
		}
	}
}
