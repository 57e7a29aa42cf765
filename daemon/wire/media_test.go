package wire

import (
	"context"
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
