package analyzer

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/faced/faced/face"
	"github.com/faced/faced/internal/shared"
)

// TestMotionPhotoJPEG: a Google/Samsung-style motion photo (a JPEG with
// GCamera XMP and an MP4 appended after its end of image) is analysed as
// its still: the faces of the JPEG alone, a photo, no error.
func TestMotionPhotoJPEG(t *testing.T) {
	needExiftool(t)
	a := newAnalyzer(t, Options{})
	src := sourcePhotos(t)[0]
	want := analyze(t, a, src)
	dir := t.TempDir()
	p := filepath.Join(dir, "PXL_20240101_120000000.MP.jpg")
	copyFileT(t, src, p)
	runExiftool(t, "-q", "-overwrite_original", "-XMP-GCamera:MicroVideo=1", "-XMP-GCamera:MicroVideoVersion=1", p)
	mp4, err := os.ReadFile(filepath.Join(shared.Dir(t, "testdata/photos/video"), "face_recognition_short_hamilton_clip.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	runExiftool(t, "-q", "-overwrite_original", "-XMP-GCamera:MicroVideoOffset="+strconv.Itoa(len(mp4)), p)
	still, _ := os.ReadFile(p)
	if err := os.WriteFile(p, append(still, mp4...), 0o644); err != nil {
		t.Fatal(err)
	}
	got := analyze(t, a, p)
	if got.Kind != face.KindPhoto || got.Format != "jpeg" || got.Media != "motion" {
		t.Errorf("kind %s format %s media %s, want a JPEG photo, media motion", got.Kind, got.Format, got.Media)
	}
	sameFaces(t, "motion photo", got.Faces, want.Faces, 2)
	if want.Media != "photo" {
		t.Errorf("%s: media %q, want photo", src, want.Media)
	}
}

// TestMotionPhotoHEIC: Samsung's One UI 6 motion photo HEIC is analysed as
// its still and recorded as a motion photo; an iPhone HEIC is a photo.
func TestMotionPhotoHEIC(t *testing.T) {
	a := newAnalyzer(t, Options{})
	for name, want := range map[string]string{"samsung-one-ui-6.heic": "motion", "IMG_2682.heic": "photo"} {
		got := analyze(t, a, filepath.Join(sharedFormats(t), name))
		if got.Kind != face.KindPhoto || got.Format != "heic" || got.Media != want {
			t.Errorf("%s: kind %s format %s media %q, want a HEIC photo, media %s", name, got.Kind, got.Format, got.Media, want)
		}
	}
}

func copyFileT(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
