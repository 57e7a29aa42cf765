package media

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestPairs(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"IMG_1.JPG", "IMG_1.CR2", "IMG_2.HEIC", "IMG_2.MOV", "IMG_3.NEF", "IMG_4.MOV", "IMG_5.mp4", "IMG_5.jpg", "IMG_6.dng", "IMG_6.heic", "IMG_6.jpg"} {
		os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644)
	}
	p := func(n string) string { return filepath.Join(dir, n) }
	for _, tc := range []struct {
		file, primary string
	}{
		{"IMG_1.CR2", "IMG_1.JPG"},  // RAW+JPEG
		{"IMG_2.MOV", "IMG_2.HEIC"}, // Live Photo
		{"IMG_3.NEF", ""},           // raw alone
		{"IMG_4.MOV", ""},           // video alone
		{"IMG_5.mp4", ""},           // an MP4 beside a JPEG is a video of its own
		{"IMG_1.JPG", ""},           // the still is primary
		{"IMG_6.dng", "IMG_6.jpg"},  // JPEG preferred over HEIC
	} {
		got, ok := PrimaryOf(p(tc.file))
		if want := tc.primary; ok != (want != "") || (ok && got != p(want)) {
			t.Errorf("PrimaryOf(%s) = %q, %v; want %q", tc.file, got, ok, want)
		}
	}
	if c := Companions(p("IMG_1.JPG")); !slices.Equal(c, []string{p("IMG_1.CR2")}) {
		t.Errorf("Companions(IMG_1.JPG) = %v", c)
	}
	if c := Companions(p("IMG_6.heic")); len(c) != 0 {
		t.Errorf("Companions(IMG_6.heic) = %v; the DNG pairs with IMG_6.jpg", c)
	}
	if c := Companions(p("IMG_2.HEIC")); len(c) != 0 {
		t.Errorf("Companions(IMG_2.HEIC) = %v; a Live Photo's MOV has no sidecar", c)
	}
}
