package daemon

import (
	"context"
	"testing"
)

// TestLivePhotoMOVBeforeStill: a Live Photo's MOV copied before its still
// is analysed as a video; once the still (same base name) arrives, the MOV
// leaves the index and the moment is one analysed photo. Both through the
// watcher and through a reconciliation.
func TestLivePhotoMOVBeforeStill(t *testing.T) {
	ctx := context.Background()
	t.Run("watcher", func(t *testing.T) {
		r := newRig(t, Options{})
		r.start(t)
		mov := r.write(t, "IMG_1.MOV", "faces=1")
		r.w.events <- Event{Path: mov}
		waitFor(t, "the MOV analysed alone", func() bool { f, ok, _ := r.st.File(ctx, mov); return ok && f.State == StateDone })
		heic := r.write(t, "IMG_1.HEIC", "faces=2")
		r.w.events <- Event{Path: heic}
		waitFor(t, "the still's sidecar", func() bool { return sidecar(heic) == "faces: 2\n" })
		waitFor(t, "the MOV leaves the index", func() bool { _, ok, _ := r.st.File(ctx, mov); return !ok })
		// A later event for the MOV (still being written) does not bring
		// it back.
		r.w.events <- Event{Path: mov}
		r.write(t, "x.jpg", "faces=0")
		r.w.events <- Event{Path: r.dir + "/x.jpg"}
		waitFor(t, "a later file analysed", func() bool { return sidecar(r.dir+"/x.jpg") == "faces: 0\n" })
		if _, ok, _ := r.st.File(ctx, mov); ok {
			t.Error("the MOV came back into the index")
		}
	})
	t.Run("reconciliation", func(t *testing.T) {
		r := newRig(t, Options{})
		mov := r.write(t, "IMG_2.mov", "faces=1")
		if _, err := r.d.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if f, ok, _ := r.st.File(ctx, mov); !ok || f.State != StateDone {
			t.Fatalf("the MOV alone was not analysed: %+v %v", f, ok)
		}
		r.write(t, "IMG_2.JPG", "faces=2")
		d2, err := New(r.d.opt, Deps{Store: r.st, Analyzer: r.an, Clusterer: r.cl, Exporter: &fakeExporter{st: r.st}})
		if err != nil {
			t.Fatal(err)
		}
		sum, err := d2.RunOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := r.st.File(ctx, mov); ok {
			t.Errorf("the MOV is still in the index beside its still (run %+v)", sum)
		}
		if sum.Analysed != 1 {
			t.Errorf("second run analysed %d files, want the still only", sum.Analysed)
		}
	})
}
