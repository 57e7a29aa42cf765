package index

import (
	"context"
	"errors"
	"github.com/faced/faced/face"
	"slices"
	"testing"
)

// personFaces returns the ids of the faces assigned to p.
func personFaces(t *testing.T, ix *Index, p int64) []int64 {
	t.Helper()
	recs, err := ix.Faces(context.Background(), FaceQuery{PersonID: p, NoFeatures: true})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, r := range recs {
		ids = append(ids, r.ID)
	}
	return ids
}

// fixture: two persons with three faces each on six files.
func twoPersons(t *testing.T, ix *Index, nameA, nameB string) (a, b int64, fa, fb []int64) {
	t.Helper()
	ctx := context.Background()
	var err error
	if a, err = ix.CreatePerson(ctx, Person{Name: nameA, NameSource: SourceUser}); err != nil {
		t.Fatal(err)
	}
	if b, err = ix.CreatePerson(ctx, Person{Name: nameB, NameSource: SourceAuto}); err != nil {
		t.Fatal(err)
	}
	m := map[int64]int64{}
	for i := range 6 {
		_, ids := addFile(t, ix, "/p/"+string(rune('a'+i))+".jpg", mkFace(0, 0, 100, uint64(i)))
		if i < 3 {
			fa = append(fa, ids[0])
			m[ids[0]] = a
		} else {
			fb = append(fb, ids[0])
			m[ids[0]] = b
		}
	}
	if _, err := ix.AssignFaces(ctx, m, SourceAuto); err != nil {
		t.Fatal(err)
	}
	return a, b, fa, fb
}

func TestSetNameSourcePriority(t *testing.T) {
	ctx := context.Background()
	steps := []struct {
		name    string
		src     Source
		changed bool
		want    string
	}{
		{"Auto 1", SourceAuto, true, "Auto 1"},
		{"Sidecar", SourceSidecar, true, "Sidecar"},
		{"Auto 2", SourceAuto, false, "Sidecar"},
		{"  Alice  ", SourceUser, true, "Alice"},
		{"From XMP", SourceSidecar, false, "Alice"},
		{"Alice", SourceUser, false, "Alice"},
		{"Alicia", SourceUser, true, "Alicia"},
	}
	ix := openTest(t)
	p, _ := ix.CreatePerson(ctx, Person{})
	for _, s := range steps {
		changed, err := ix.SetName(ctx, p, s.name, s.src)
		if err != nil {
			t.Fatalf("SetName(%q, %s): %v", s.name, s.src, err)
		}
		got, _ := ix.Person(ctx, p)
		if changed != s.changed || got.Name != s.want {
			t.Errorf("SetName(%q, %s): changed %v name %q, want %v %q", s.name, s.src, changed, got.Name, s.changed, s.want)
		}
	}
	for _, bad := range []struct {
		name string
		src  Source
	}{{"a\nb", SourceUser}, {"x", "robot"}, {"x", SourceNone}} {
		if _, err := ix.SetName(ctx, p, bad.name, bad.src); !errors.Is(err, ErrInvalid) {
			t.Errorf("SetName(%q, %q): %v, want ErrInvalid", bad.name, bad.src, err)
		}
	}
	if _, err := ix.SetName(ctx, 999, "x", SourceUser); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown person: %v", err)
	}
	if _, err := ix.SetBirthYear(ctx, p, 1700, SourceUser); !errors.Is(err, ErrInvalid) {
		t.Errorf("birth year 1700: %v", err)
	}
	if ch, err := ix.SetBirthYear(ctx, p, 1980, SourceUser); err != nil || !ch {
		t.Errorf("SetBirthYear: %v %v", ch, err)
	}
	if ch, _ := ix.SetBirthYear(ctx, p, 1990, SourceAuto); ch {
		t.Error("auto birth year overwrote the user's")
	}
	if ch, err := ix.SetGender(ctx, p, GenderFemale, SourceAuto); err != nil || !ch {
		t.Errorf("SetGender: %v %v", ch, err)
	}
	got, _ := ix.Person(ctx, p)
	if got.BirthYear != 1980 || got.BirthYearSource != SourceUser || got.Gender != GenderFemale {
		t.Errorf("person %+v", got)
	}
}

func TestMergeKeepsNamesAndFaces(t *testing.T) {
	tests := []struct {
		name         string
		nameA, nameB string // a: user source, b: auto source
		into         int    // 0: merge b into a; 1: a into b
		want         string
	}{
		{"into named", "Alice", "", 0, "Alice"},
		{"from named", "", "Bob", 0, "Bob"},
		{"user name beats auto name", "Alice", "Bob", 1, "Alice"},
		{"user name stays", "Alice", "Bob", 0, "Alice"},
		{"both unnamed", "", "", 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			ix := openTest(t)
			a, b, fa, fb := twoPersons(t, ix, tc.nameA, tc.nameB)
			into, from := a, b
			if tc.into == 1 {
				into, from = b, a
			}
			// A cannot-link that the merge contradicts.
			if err := ix.AddCannotLink(ctx, fa[0], fb[0]); err != nil {
				t.Fatal(err)
			}
			if err := ix.Merge(ctx, into, from); err != nil {
				t.Fatal(err)
			}
			got, _ := ix.Person(ctx, into)
			if got.Name != tc.want || got.Faces != 6 {
				t.Fatalf("merged person %+v, want name %q with 6 faces", got, tc.want)
			}
			if f := personFaces(t, ix, into); !slices.Equal(f, slices.Sorted(slices.Values(append(append([]int64{}, fa...), fb...)))) {
				t.Fatalf("faces %v", f)
			}
			old, _ := ix.Person(ctx, from)
			if old.MergedInto != into || old.Active() {
				t.Fatalf("retired person %+v", old)
			}
			if r, _ := ix.ResolvePerson(ctx, from); r != into {
				t.Fatalf("resolve %d -> %d, want %d", from, r, into)
			}
			cl, _ := ix.CannotLinks(ctx)
			if len(cl.Faces) != 0 {
				t.Fatalf("contradicted cannot-link kept: %v", cl.Faces)
			}
			if err := ix.Merge(ctx, into, from); !errors.Is(err, ErrPersonInactive) {
				t.Fatalf("merging a merged person: %v", err)
			}
			if _, err := ix.AssignFaces(ctx, map[int64]int64{fa[0]: from}, SourceUser); !errors.Is(err, ErrPersonInactive) {
				t.Fatalf("assign to merged person: %v", err)
			}
			ps, _ := ix.Persons(ctx, PersonQuery{})
			if len(ps) != 1 {
				t.Fatalf("%d active persons, want 1", len(ps))
			}
		})
	}
}

func TestSplitKeepsNameAndBlocksReturn(t *testing.T) {
	ctx := context.Background()
	ix := openTest(t)
	a, _, fa, fb := twoPersons(t, ix, "Alice", "")
	if _, err := ix.Split(ctx, a, []int64{fb[0]}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("split with a foreign face: %v", err)
	}
	if _, err := ix.Split(ctx, a, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty split: %v", err)
	}
	n, err := ix.Split(ctx, a, []int64{fa[1], fa[2], fa[1]})
	if err != nil {
		t.Fatal(err)
	}
	orig, _ := ix.Person(ctx, a)
	np, _ := ix.Person(ctx, n)
	if orig.Name != "Alice" || orig.Faces != 1 || np.Name != "" || np.Faces != 2 {
		t.Fatalf("after split: %+v / %+v", orig, np)
	}
	for _, f := range fa[1:] {
		rec, _ := ix.Face(ctx, f)
		if rec.PersonID != n || rec.Source != SourceUser {
			t.Fatalf("split face %d: person %d source %s", f, rec.PersonID, rec.Source)
		}
	}
	// The clusterer cannot put them back ...
	if c, err := ix.AssignFaces(ctx, map[int64]int64{fa[1]: a, fa[2]: a}, SourceAuto); err != nil || c != 0 {
		t.Fatalf("auto re-assignment after split: %d changed, %v", c, err)
	}
	cl, _ := ix.CannotLinks(ctx)
	if !slices.Contains(cl.FacePersons, [2]int64{fa[1], a}) || !slices.Contains(cl.FacePersons, [2]int64{fa[2], a}) {
		t.Fatalf("cannot-links %v", cl.FacePersons)
	}
	// ... the user can, which lifts the constraint.
	if c, err := ix.AssignFaces(ctx, map[int64]int64{fa[1]: a}, SourceUser); err != nil || c != 1 {
		t.Fatalf("user re-assignment: %d, %v", c, err)
	}
	cl, _ = ix.CannotLinks(ctx)
	if slices.Contains(cl.FacePersons, [2]int64{fa[1], a}) {
		t.Fatal("user assignment left its cannot-link")
	}
}

func TestForget(t *testing.T) {
	ctx := context.Background()
	ix := openTest(t)
	a, b, fa, _ := twoPersons(t, ix, "Alice", "Bob")
	if _, err := ix.SetBirthYear(ctx, a, 1990, SourceUser); err != nil {
		t.Fatal(err)
	}
	if err := ix.Forget(ctx, a); err != nil {
		t.Fatal(err)
	}
	got, _ := ix.Person(ctx, a)
	if !got.OptOut || got.Name != "" || got.BirthYear != 0 || got.Faces != 0 {
		t.Fatalf("forgotten person %+v", got)
	}
	for _, f := range fa {
		rec, _ := ix.Face(ctx, f)
		if rec.PersonID != 0 || rec.ForgottenBy != a || rec.Features != nil {
			t.Fatalf("face %d: person %d forgotten_by %d, %d features", f, rec.PersonID, rec.ForgottenBy, len(rec.Features))
		}
	}
	// The identity features are gone, and a re-analysis does not store
	// them again.
	if set, err := ix.LoadFaceSet(ctx, FaceQuery{IDs: fa}, Float32); err != nil || len(set.Faces) != 0 {
		t.Fatalf("features of forgotten faces: %v, %v", set, err)
	}
	rec, _ := ix.Face(ctx, fa[0])
	nf := rec.Face
	nf.Features = make([]float32, 8)
	nf.Features[0] = 1
	if ids, err := ix.ReplaceFaces(ctx, rec.FileID, []face.Face{nf}, "m2"); err != nil || ids[0] != fa[0] {
		t.Fatalf("re-analysis of a forgotten face: %v, %v", ids, err)
	}
	if set, _ := ix.LoadFaceSet(ctx, FaceQuery{IDs: fa[:1]}, Float32); len(set.Faces) != 0 {
		t.Fatal("a re-analysis stored the features of a forgotten face again")
	}
	// Automatic assignment never takes the faces again, not even to another person.
	if c, _ := ix.AssignFaces(ctx, map[int64]int64{fa[0]: b}, SourceAuto); c != 0 {
		t.Fatal("auto assignment of a forgotten face")
	}
	if _, err := ix.AssignFaces(ctx, map[int64]int64{fa[0]: a}, SourceUser); !errors.Is(err, ErrPersonInactive) {
		t.Fatalf("assign to opted-out person: %v", err)
	}
	if _, err := ix.SetName(ctx, a, "Alice", SourceSidecar); !errors.Is(err, ErrPersonInactive) {
		t.Fatalf("naming an opted-out person: %v", err)
	}
	ps, _ := ix.Persons(ctx, PersonQuery{})
	if len(ps) != 1 || ps[0].ID != b || ps[0].Name != "Bob" {
		t.Fatalf("other persons changed: %+v", ps)
	}
	// A new person never reuses the id.
	if n, _ := ix.CreatePerson(ctx, Person{}); n <= b {
		t.Fatalf("new person id %d reuses an old one", n)
	}
	if s, _ := ix.Stats(ctx, 0); s.OptedOut != 1 || s.Persons != 2 || s.NamedPersons != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestAssignFacesRules(t *testing.T) {
	ctx := context.Background()
	ix := openTest(t)
	a, b, fa, fb := twoPersons(t, ix, "A", "B")
	// User moves fa[0] to b; the clusterer then cannot move it back.
	if c, err := ix.AssignFaces(ctx, map[int64]int64{fa[0]: b}, SourceUser); err != nil || c != 1 {
		t.Fatalf("%d %v", c, err)
	}
	if c, _ := ix.AssignFaces(ctx, map[int64]int64{fa[0]: a, fa[1]: 0}, SourceAuto); c != 1 {
		t.Fatalf("auto changed %d, want only the unassignment of the auto face", c)
	}
	if rec, _ := ix.Face(ctx, fa[0]); rec.PersonID != b {
		t.Fatal("auto overrode a user assignment")
	}
	if rec, _ := ix.Face(ctx, fa[1]); rec.PersonID != 0 {
		t.Fatal("auto unassignment ignored")
	}
	// "This face is not B".
	if err := ix.AddFacePersonCannotLink(ctx, fb[0], b); err != nil {
		t.Fatal(err)
	}
	if rec, _ := ix.Face(ctx, fb[0]); rec.PersonID != 0 {
		t.Fatal("cannot-link kept the assignment")
	}
	if c, _ := ix.AssignFaces(ctx, map[int64]int64{fb[0]: b}, SourceAuto); c != 0 {
		t.Fatal("auto assignment against a cannot-link")
	}
	// Unknown faces: an error for the user, skipped for the clusterer.
	if _, err := ix.AssignFaces(ctx, map[int64]int64{9999: a}, SourceUser); !errors.Is(err, ErrNotFound) {
		t.Fatalf("user, unknown face: %v", err)
	}
	if _, err := ix.AssignFaces(ctx, map[int64]int64{9999: a}, SourceAuto); err != nil {
		t.Fatalf("auto, unknown face: %v", err)
	}
	if _, err := ix.AssignFaces(ctx, map[int64]int64{fa[2]: a}, SourceSidecar); !errors.Is(err, ErrInvalid) {
		t.Fatalf("sidecar source: %v", err)
	}
	if err := ix.AddCannotLink(ctx, fa[2], fa[2]); !errors.Is(err, ErrInvalid) {
		t.Fatalf("self cannot-link: %v", err)
	}
	if err := ix.AddCannotLink(ctx, fb[2], fa[2]); err != nil {
		t.Fatal(err)
	}
	cl, _ := ix.CannotLinks(ctx)
	if len(cl.Faces) != 1 || cl.Faces[0] != [2]int64{min(fa[2], fb[2]), max(fa[2], fb[2])} {
		t.Fatalf("cannot-links %v", cl.Faces)
	}
}
