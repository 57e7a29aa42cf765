package wire

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/faced/faced/face"
)

// TestMediaKindRecorded: the media kind the analyzer reports (a motion
// photo, a raw) is kept in the index with the file and counted in the
// daemon's status, by kind.
func TestMediaKindRecorded(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	dir := t.TempDir()
	for _, tc := range []struct{ name, media string }{
		{"PXL_1.MP.jpg", "motion"}, {"samsung.heic", "motion"}, {"IMG_2.CR2", "raw"}, {"a.jpg", "photo"},
	} {
		p := filepath.Join(dir, tc.name)
		if err := s.Enqueue(ctx, p, "new"); err != nil {
			t.Fatal(err)
		}
		job := lease1(t, s, p)
		res := &face.Result{File: p, Kind: face.KindPhoto, Width: 10, Height: 10, StoredWidth: 10, StoredHeight: 10, Faces: []face.Face{}, Model: "test", Media: tc.media}
		if err := s.Done(ctx, job, 1, time.Unix(1, 0), "h"+tc.name, res); err != nil {
			t.Fatal(err)
		}
		f, err := s.ix.FileByPath(ctx, p)
		if err != nil || f.Media != tc.media || f.Kind != face.KindPhoto {
			t.Errorf("%s: index has media %q kind %s (%v), want %s photo", tc.name, f.Media, f.Kind, err, tc.media)
		}
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Media["motion"] != 2 || st.Media["raw"] != 1 || st.Media["photo"] != 1 {
		t.Errorf("status counts %v, want 2 motion, 1 raw, 1 photo", st.Media)
	}
}

// TestCompanionAnalysedWhileStillArrives: a Live Photo's MOV whose
// analysis was under way when its still arrived is not recorded as a
// video of its own: its queue entry and any older entry go.
func TestCompanionAnalysedWhileStillArrives(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	dir := t.TempDir()
	mov, heic := filepath.Join(dir, "IMG_3.MOV"), filepath.Join(dir, "IMG_3.HEIC")
	if err := os.WriteFile(mov, []byte("movie"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Enqueue(ctx, mov, "new"); err != nil {
		t.Fatal(err)
	}
	job := lease1(t, s, mov)
	if err := os.WriteFile(heic, []byte("still"), 0o644); err != nil { // the still arrives meanwhile
		t.Fatal(err)
	}
	res := &face.Result{File: mov, Kind: face.KindVideo, Faces: []face.Face{}, Model: "test", Media: "video"}
	if err := s.Done(ctx, job, 5, time.Unix(1, 0), "hmov", res); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.File(ctx, mov); ok || err != nil {
		t.Errorf("the MOV was recorded beside its still (%v)", err)
	}
	st, _ := s.Stats(ctx)
	if st.Pending != 0 || st.Done != 0 {
		t.Errorf("stats %+v, want nothing done or queued", st)
	}
}
