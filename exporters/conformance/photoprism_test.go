package conformance

import (
	"context"
	"fmt"
	"math"
	"testing"
)

// TestPhotoPrismPairsNamesWithFacedBoxes runs PhotoPrism's reading rules
// (exiftool's flattened lists paired by position, Type=Face, sidecar
// Orientation) over faced's sidecars on every shared test photo: each of
// faced's named faces must come back with its own box, never another
// face's (an unnamed region shifted the names before faced stopped writing
// them).
func TestPhotoPrismPairsNamesWithFacedBoxes(t *testing.T) {
	lib := libraryOf(t)
	ctx := context.Background()
	right, wrong, unnamed := 0, 0, 0
	var paths []string
	for _, p := range lib {
		paths = append(paths, p.path)
	}
	reads, err := ReadPhotoPrism(ctx, paths...)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range lib {
		r := reads[i]
		if p.jpeg && r.Orientation != p.orientation {
			t.Errorf("%s: PhotoPrism orientation %d, file's %d", p.name, r.Orientation, p.orientation)
		}
		for name, reg := range named(p.faces) {
			want, dw, dh := displayed(clampBox(reg.StoredBox, p.w, p.h), p.w, p.h, p.orientation)
			found := false
			for _, f := range r.Faces {
				if f.Name != name || found {
					continue
				}
				found = true
				if !p.jpeg {
					right++ // counted, not compared (see testPhoto.jpeg)
				} else if math.Abs(f.X-want.X1/float64(dw)) < 1e-3 && math.Abs(f.Y-want.Y1/float64(dh)) < 1e-3 &&
					math.Abs(f.W-want.W()/float64(dw)) < 1e-3 && math.Abs(f.H-want.H()/float64(dh)) < 1e-3 {
					right++
				} else {
					wrong++
					t.Errorf("%s: PhotoPrism puts %q on box %+v, faced's is %+v", p.name, name, f, want)
				}
			}
			if !found {
				t.Errorf("%s: PhotoPrism finds no face named %q: %+v", p.name, name, r.Faces)
			}
		}
		for _, f := range r.Faces {
			if f.Name == "" {
				unnamed++
			}
		}
	}
	t.Logf("PhotoPrism (build 260728 rules) on %d shared photos: %d of faced's %d named faces on their own box, %d on another box, %d unnamed markers (from other tools' regions)",
		len(lib), right, 2*len(lib), wrong, unnamed)
	fmt.Printf("conformance: photoprism photos=%d faced_right=%d faced_named=%d wrong_box=%d unnamed=%d\n", len(lib), right, 2*len(lib), wrong, unnamed)
}
