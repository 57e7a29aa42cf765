package persons

import (
	"context"
	"testing"
	"time"

	"github.com/faced/faced/exporters"
	"github.com/faced/faced/index"
)

// Names read back from sidecars are adopted under the Service's lock: while
// a verb (or the clusterer's Update) holds it, the adoption waits, and then
// applies.
func TestAdoptNamesWaitsForTheServiceLock(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	f := w.photo("ann")
	s := New(w.ix, Options{})
	p, err := w.ix.CreatePerson(ctx, index.Person{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.ix.AssignFaces(ctx, map[int64]int64{f: p}, index.SourceAuto); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock() // a verb in progress
	done := make(chan error, 1)
	go func() {
		_, err := s.AdoptNames(ctx, []exporters.UserName{{FaceID: f, PersonID: p, Name: "Ann", Sidecar: "ann.xmp"}})
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("AdoptNames ran while a verb held the lock (err %v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	if got, _ := w.ix.Person(ctx, p); got.Name != "" {
		t.Fatalf("person named %q while a verb held the lock", got.Name)
	}
	s.mu.Unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got, _ := w.ix.Person(ctx, p); got.Name != "Ann" || got.NameSource != index.SourceSidecar {
		t.Errorf("after the verb: %q (%s), want Ann (sidecar)", got.Name, got.NameSource)
	}
}
