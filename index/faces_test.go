package index

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/faced/faced/face"
)

func TestReplaceFacesKeepsIDs(t *testing.T) {
	ctx := context.Background()
	a, b, c := mkFace(0, 0, 100, 1), mkFace(200, 0, 100, 2), mkFace(400, 0, 100, 3)
	shift := func(f face.Face, dx float64, seed uint64) face.Face {
		g := mkFace(f.Box.X1+dx, f.Box.Y1, f.Box.W(), seed)
		return g
	}
	tests := []struct {
		name string
		old  []face.Face
		new  []face.Face
		// keep[i] is the index of the old face new face i must keep the id
		// of, or -1 for a new id.
		keep []int
	}{
		{"same boxes", []face.Face{a, b}, []face.Face{a, b}, []int{0, 1}},
		{"reordered", []face.Face{a, b}, []face.Face{b, a}, []int{1, 0}},
		{"small shift keeps", []face.Face{a, b}, []face.Face{shift(a, 10, 9), shift(b, -10, 8)}, []int{0, 1}},
		// IoU of 100x100 boxes shifted by 40: 60/140 = 0.43 <= 0.5.
		{"large shift is a new face", []face.Face{a}, []face.Face{shift(a, 40, 9)}, []int{-1}},
		{"one lost one found", []face.Face{a, b}, []face.Face{c, a}, []int{-1, 0}},
		{"all gone", []face.Face{a, b}, nil, nil},
		{"from none", nil, []face.Face{a, b}, []int{-1, -1}},
		// Two new faces over one old: the better overlap wins, the other is new.
		{"one to one", []face.Face{a}, []face.Face{shift(a, 20, 5), shift(a, 5, 6)}, []int{-1, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ix := openTest(t)
			fileID, oldIDs := addFile(t, ix, "/p/x.jpg", tc.old...)
			newIDs, err := ix.ReplaceFaces(ctx, fileID, tc.new, "m2")
			if err != nil {
				t.Fatal(err)
			}
			known := map[int64]bool{}
			for _, id := range oldIDs {
				known[id] = true
			}
			for i, k := range tc.keep {
				if k >= 0 && newIDs[i] != oldIDs[k] {
					t.Errorf("new face %d got id %d, want old id %d", i, newIDs[i], oldIDs[k])
				}
				if k < 0 && known[newIDs[i]] {
					t.Errorf("new face %d took old id %d, want a new one", i, newIDs[i])
				}
			}
			got, err := ix.Faces(ctx, FaceQuery{FileID: fileID})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.new) {
				t.Fatalf("%d faces stored, want %d", len(got), len(tc.new))
			}
			for _, rec := range got {
				if rec.Model != "m2" {
					t.Errorf("face %d model %q, want m2", rec.ID, rec.Model)
				}
			}
		})
	}
}

func TestReAnalysisKeepsUserAssignment(t *testing.T) {
	ctx := context.Background()
	ix := openTest(t)
	fileID, ids := addFile(t, ix, "/p/x.jpg", mkFace(0, 0, 100, 1), mkFace(300, 0, 100, 2))
	p, err := ix.CreatePerson(ctx, Person{Name: "Alice", NameSource: SourceUser})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := ix.AssignFaces(ctx, map[int64]int64{ids[0]: p}, SourceUser); err != nil || n != 1 {
		t.Fatalf("assign: %d, %v", n, err)
	}
	// Re-analysis with a new model: boxes move a little, features change,
	// the second face is no longer detected.
	moved := mkFace(4, 3, 98, 11)
	newIDs, err := ix.ReplaceFaces(ctx, fileID, []face.Face{moved}, "m2")
	if err != nil {
		t.Fatal(err)
	}
	if newIDs[0] != ids[0] {
		t.Fatalf("re-detected face got id %d, want %d", newIDs[0], ids[0])
	}
	rec, err := ix.Face(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if rec.PersonID != p || rec.Source != SourceUser {
		t.Fatalf("face assigned to %d (%s) after re-analysis, want %d (user)", rec.PersonID, rec.Source, p)
	}
	if rec.Box != moved.Box || rec.Features[0] != moved.Features[0] {
		t.Fatalf("face data not updated: box %v", rec.Box)
	}
	if _, err := ix.Face(ctx, ids[1]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("vanished face still there: %v", err)
	}
	ps, _ := ix.Persons(ctx, PersonQuery{})
	if len(ps) != 1 || ps[0].Name != "Alice" || ps[0].Faces != 1 {
		t.Fatalf("persons after re-analysis: %+v", ps)
	}
}

func TestFaceRecordFields(t *testing.T) {
	ctx := context.Background()
	ix := openTest(t)
	f := mkFace(10, 20, 30, 5)
	f.Age = 10.5
	f.FrameTime, f.Frames = 2.5, 12
	f.StoredBox = face.Box{X1: 1, Y1: 2, X2: 3, Y2: 4}
	_, ids := addFile(t, ix, "/p/v.mp4", f)
	rec, err := ix.Face(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	// Capture 2020: the seed's birth year = 2020 - (10.5 - 0.5).
	if rec.BirthYear != 2010 {
		t.Errorf("birth year %v, want 2010", rec.BirthYear)
	}
	if rec.StoredBox != f.StoredBox || rec.Landmarks != f.Landmarks || rec.FrameTime != 2.5 || rec.Frames != 12 ||
		rec.Age != 10.5 || rec.MaleProb != f.MaleProb || rec.Score != f.Score || rec.Path != "/p/v.mp4" {
		t.Errorf("round trip: got %+v", rec.Face)
	}
	if !rec.CaptureTime.Equal(time.Date(2020, 6, 1, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("capture time %v", rec.CaptureTime)
	}
}

func TestReplaceFacesRejectsBadInput(t *testing.T) {
	ctx := context.Background()
	ix := openTest(t)
	fileID, ids := addFile(t, ix, "/p/x.jpg", mkFace(0, 0, 100, 1))
	noFeat := mkFace(0, 0, 10, 1)
	noFeat.Features = nil
	nan := mkFace(0, 0, 10, 1)
	nan.Features[2] = float32(nanF())
	for name, fs := range map[string][]face.Face{"no features": {noFeat}, "NaN feature": {nan}} {
		if _, err := ix.ReplaceFaces(ctx, fileID, fs, "m"); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := ix.Face(ctx, ids[0]); err != nil {
		t.Errorf("a rejected replace touched the old faces: %v", err)
	}
	if _, err := ix.ReplaceFaces(ctx, 12345, nil, "m"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown file: %v, want ErrNotFound", err)
	}
}

func nanF() float64 { var z float64; return z / z }

func TestFilesLifecycle(t *testing.T) {
	ctx := context.Background()
	ix := openTest(t)
	id, ids := addFile(t, ix, "/p/a.jpg", mkFace(0, 0, 100, 1))
	if _, err := ix.UpsertFile(ctx, File{Path: "/p/a.jpg", Hash: "h1", Size: 5}); err != nil {
		t.Fatal(err)
	}
	f, err := ix.FileByPath(ctx, "/p/a.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if f.ID != id || f.Status != StatusDone || f.Hash != "h1" || f.Analyses != 1 {
		t.Fatalf("after first hash: %+v", f)
	}
	// Content change => pending again, same id.
	if id2, _ := ix.UpsertFile(ctx, File{Path: "/p/a.jpg", Hash: "h2"}); id2 != id {
		t.Fatalf("id changed to %d", id2)
	}
	if f, _ = ix.FileByPath(ctx, "/p/a.jpg"); f.Status != StatusPending {
		t.Fatalf("changed file status %s, want pending", f.Status)
	}
	if _, err := ix.ReplaceFaces(ctx, id, []face.Face{mkFace(0, 0, 100, 1)}, "m"); err != nil {
		t.Fatal(err)
	}
	if _, err := ix.UpsertFile(ctx, File{Path: "/p/a.jpg", Kind: "raw"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad kind: %v", err)
	}

	// Rename: gone, found again by hash under a new name, keeps its faces.
	if err := ix.MarkGone(ctx, "/p/a.jpg"); err != nil {
		t.Fatal(err)
	}
	fs, err := ix.FileByHash(ctx, "h2")
	if err != nil || len(fs) != 1 || fs[0].Status != StatusGone {
		t.Fatalf("by hash: %+v, %v", fs, err)
	}
	if err := ix.MoveFile(ctx, fs[0].Path, "/q/renamed.jpg"); err != nil {
		t.Fatal(err)
	}
	f, err = ix.FileByPath(ctx, "/q/renamed.jpg")
	if err != nil || f.ID != id || f.Status != StatusDone {
		t.Fatalf("renamed: %+v, %v", f, err)
	}
	if rec, err := ix.Face(ctx, ids[0]); err != nil || rec.Path != "/q/renamed.jpg" {
		t.Fatalf("face after rename: %+v, %v", rec, err)
	}
	if _, err := ix.FileByPath(ctx, "/p/a.jpg"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("old path: %v", err)
	}

	// Removal takes faces, assignments and cannot-links along.
	p, _ := ix.CreatePerson(ctx, Person{})
	_, other := addFile(t, ix, "/p/b.jpg", mkFace(0, 0, 100, 2))
	if _, err := ix.AssignFaces(ctx, map[int64]int64{ids[0]: p}, SourceUser); err != nil {
		t.Fatal(err)
	}
	if err := ix.AddCannotLink(ctx, ids[0], other[0]); err != nil {
		t.Fatal(err)
	}
	if err := ix.RemoveFile(ctx, "/q/renamed.jpg"); err != nil {
		t.Fatal(err)
	}
	if _, err := ix.Face(ctx, ids[0]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("face of removed file: %v", err)
	}
	cl, _ := ix.CannotLinks(ctx)
	if len(cl.Faces) != 0 {
		t.Fatalf("cannot-links of a removed face remain: %v", cl.Faces)
	}
	if pp, _ := ix.Person(ctx, p); pp.Faces != 0 {
		t.Fatalf("person still counts %d faces", pp.Faces)
	}
	var nf, nff int
	ix.r.QueryRowContext(ctx, "SELECT (SELECT COUNT(*) FROM faces), (SELECT COUNT(*) FROM face_features)").Scan(&nf, &nff)
	if nf != 1 || nff != 1 {
		t.Fatalf("%d faces and %d feature rows after removal, want 1 and 1", nf, nff)
	}
	if err := ix.RemoveFile(ctx, "/q/renamed.jpg"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second remove: %v", err)
	}

	// Purge of old gone files.
	if err := ix.MarkGone(ctx, "/p/b.jpg"); err != nil {
		t.Fatal(err)
	}
	if n, err := ix.PurgeGone(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("purge of a fresh gone file: %d, %v", n, err)
	}
	if n, err := ix.PurgeGone(ctx, time.Now().Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("purge: %d, %v", n, err)
	}
}

func TestExportRevisions(t *testing.T) {
	ctx := context.Background()
	ix := openTest(t)
	idA, facesA := addFile(t, ix, "/p/a.jpg", mkFace(0, 0, 100, 1))
	idB, _ := addFile(t, ix, "/p/b.jpg", mkFace(0, 0, 100, 2))
	need := func() []int64 {
		fs, err := ix.FilesNeedingExport(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, f := range fs {
			ids = append(ids, f.ID)
		}
		return ids
	}
	if got := need(); len(got) != 2 {
		t.Fatalf("after analysis: %v need export, want both", got)
	}
	for _, id := range []int64{idA, idB} {
		f, _ := ix.FileByID(ctx, id)
		if err := ix.MarkExported(ctx, id, f.ExportRev); err != nil {
			t.Fatal(err)
		}
	}
	if got := need(); len(got) != 0 {
		t.Fatalf("after export: %v", got)
	}
	// Naming a person re-exports only the files showing them.
	p, _ := ix.CreatePerson(ctx, Person{})
	ix.AssignFaces(ctx, map[int64]int64{facesA[0]: p}, SourceAuto)
	f, _ := ix.FileByID(ctx, idA)
	ix.MarkExported(ctx, idA, f.ExportRev)
	if _, err := ix.SetName(ctx, p, "Bob", SourceUser); err != nil {
		t.Fatal(err)
	}
	if got := need(); len(got) != 1 || got[0] != idA {
		t.Fatalf("after naming: %v, want [%d]", got, idA)
	}
	// An export of an older revision leaves the newer one pending.
	if err := ix.MarkExported(ctx, idA, f.ExportRev); err != nil {
		t.Fatal(err)
	}
	if got := need(); len(got) != 1 {
		t.Fatalf("stale export cleared the newer revision: %v", got)
	}
	f, _ = ix.FileByID(ctx, idA)
	ix.MarkExported(ctx, idA, f.ExportRev)
	// Visibility changes re-export; setting the same value again does not.
	if err := ix.SetVisibility(ctx, map[int64]Visibility{idB: VisibilityPublic}); err != nil {
		t.Fatal(err)
	}
	f, _ = ix.FileByID(ctx, idB)
	ix.MarkExported(ctx, idB, f.ExportRev)
	ix.SetVisibility(ctx, map[int64]Visibility{idB: VisibilityPublic})
	if got := need(); len(got) != 0 {
		t.Fatalf("unchanged visibility re-exported: %v", got)
	}
	if err := ix.SetVisibility(ctx, map[int64]Visibility{idB: "secret"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad visibility: %v", err)
	}
}

func TestFaceChanges(t *testing.T) {
	ctx := context.Background()
	ix := openTest(t)
	idA, a := addFile(t, ix, "/p/a.jpg", mkFace(0, 0, 100, 1), mkFace(300, 0, 100, 2))
	_, b := addFile(t, ix, "/p/b.jpg", mkFace(0, 0, 100, 3))
	all, del, rev, err := ix.FaceChanges(ctx, 0, FaceQuery{})
	if err != nil || len(all) != 3 || len(del) != 0 || rev == 0 {
		t.Fatalf("initial: %d faces, %v deleted, rev %d, %v", len(all), del, rev, err)
	}
	if nothing, del, rev2, _ := ix.FaceChanges(ctx, rev, FaceQuery{}); len(nothing) != 0 || len(del) != 0 || rev2 != rev {
		t.Fatalf("no change: %d changed, %v deleted, rev %d -> %d", len(nothing), del, rev, rev2)
	}
	fs, err := ix.LoadFaceSet(ctx, FaceQuery{}, Int8)
	if err != nil || fs.Rev != rev {
		t.Fatalf("face set rev %d, want %d (%v)", fs.Rev, rev, err)
	}
	ids := func(rs []FaceRecord) []int64 {
		var out []int64
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	steps := []struct {
		name    string
		do      func()
		changed []int64
		deleted []int64
	}{
		{"assignment", func() {
			p, _ := ix.CreatePerson(ctx, Person{})
			ix.AssignFaces(ctx, map[int64]int64{b[0]: p}, SourceAuto)
		}, []int64{b[0]}, nil},
		{"naming changes no face", func() {
			ps, _ := ix.Persons(ctx, PersonQuery{})
			ix.SetName(ctx, ps[0].ID, "N", SourceUser)
		}, nil, nil},
		{"re-analysis: one kept, one gone, one new", func() {
			ix.ReplaceFaces(ctx, idA, []face.Face{mkFace(2, 0, 100, 9), mkFace(600, 0, 100, 8)}, "m")
		}, []int64{a[0], a[1] + 2}, []int64{a[1]}},
		{"forget", func() {
			ps, _ := ix.Persons(ctx, PersonQuery{})
			ix.Forget(ctx, ps[0].ID)
		}, []int64{b[0]}, nil},
		{"remove file", func() { ix.RemoveFile(ctx, "/p/b.jpg") }, nil, []int64{b[0]}},
	}
	for _, s := range steps {
		s.do()
		changed, deleted, next, err := ix.FaceChanges(ctx, rev, FaceQuery{NoFeatures: true})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids(changed), s.changed) || !slices.Equal(deleted, s.deleted) {
			t.Errorf("%s: changed %v deleted %v, want %v %v", s.name, ids(changed), deleted, s.changed, s.deleted)
		}
		if next < rev {
			t.Fatalf("%s: revision went back from %d to %d", s.name, rev, next)
		}
		rev = next
	}
}

func TestUndatedFile(t *testing.T) {
	ctx := context.Background()
	ix := openTest(t)
	id, err := ix.UpsertFile(ctx, File{Path: "/p/undated.jpg"})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := ix.ReplaceFaces(ctx, id, []face.Face{mkFace(0, 0, 10, 1)}, "m")
	if err != nil {
		t.Fatal(err)
	}
	f, _ := ix.FileByID(ctx, id)
	rec, _ := ix.Face(ctx, ids[0])
	if !f.ModTime.IsZero() || !rec.CaptureTime.IsZero() || rec.BirthYear != 0 {
		t.Fatalf("undated file: mtime %v, capture %v, birth year %v; want all unknown", f.ModTime, rec.CaptureTime, rec.BirthYear)
	}
}
