package wire

import (
	"context"
	"testing"
	"time"

	"github.com/faced/faced/exporters"
	"github.com/faced/faced/face"
	"github.com/faced/faced/index"
)

// TestAdoptNames: names users gave faced's regions in their photo manager
// reach the index as sidecar names, never over a name set by the user with
// facedctl, and an unassigned face named in the sidecar becomes a person.
func TestAdoptNames(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	ix := s.ix
	j := func(p string) {
		if err := s.Enqueue(ctx, p, "new"); err != nil {
			t.Fatal(err)
		}
	}
	j("/p/a.jpg")
	job := lease1(t, s, "/p/a.jpg")
	mk := func(x float64) face.Face {
		b := face.Box{X1: x, Y1: 10, X2: x + 40, Y2: 50}
		f := face.Face{Box: b, StoredBox: b, Score: 0.99, Age: 30, MaleProb: 0.8, Features: make([]float32, 8)}
		f.Features[0] = 1
		return f
	}
	res := &face.Result{File: "/p/a.jpg", Kind: face.KindPhoto, Width: 300, Height: 80, StoredWidth: 300, StoredHeight: 80,
		Faces: []face.Face{mk(10), mk(100), mk(200)}, Model: "test"}
	if err := s.Done(ctx, job, 1, time.Unix(1, 0), "h", res); err != nil {
		t.Fatal(err)
	}
	faces, err := ix.Faces(ctx, index.FaceQuery{NoFeatures: true})
	if err != nil || len(faces) != 3 {
		t.Fatalf("faces = %v, %v", faces, err)
	}
	auto, err := ix.CreatePerson(ctx, index.Person{Name: "Person 1"})
	if err != nil {
		t.Fatal(err)
	}
	user, err := ix.CreatePerson(ctx, index.Person{Name: "Alice", NameSource: index.SourceUser})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ix.AssignFaces(ctx, map[int64]int64{faces[0].ID: auto, faces[1].ID: user}, index.SourceAuto); err != nil {
		t.Fatal(err)
	}
	err = AdoptNames(ctx, ix, []exporters.UserName{
		{FaceID: faces[0].ID, PersonID: auto, Name: "Bob", Sidecar: "a.jpg.xmp"},
		{FaceID: faces[1].ID, PersonID: user, Name: "Alicia", Sidecar: "a.jpg.xmp"},
		{FaceID: faces[2].ID, Name: "Carol", Sidecar: "a.jpg.xmp"},
		{FaceID: 999999, Name: "Gone", Sidecar: "a.jpg.xmp"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := ix.Person(ctx, auto); p.Name != "Bob" || p.NameSource != index.SourceSidecar {
		t.Errorf("auto-named person after adoption = %q (%s), want Bob (sidecar)", p.Name, p.NameSource)
	}
	if p, _ := ix.Person(ctx, user); p.Name != "Alice" {
		t.Errorf("user-named person renamed from the sidecar to %q", p.Name)
	}
	f3, err := ix.Face(ctx, faces[2].ID)
	if err != nil || f3.PersonID == 0 {
		t.Fatalf("unassigned face named in the sidecar: %+v, %v", f3, err)
	}
	if p, _ := ix.Person(ctx, f3.PersonID); p.Name != "Carol" {
		t.Errorf("new person = %q, want Carol", p.Name)
	}
}
