package analyzer

import (
	"math"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/faced/faced/face"
	"github.com/faced/faced/internal/shared"
)

// TestPhoneVideoHEVC: a phone-style video, HEVC 10-bit in a MOV, stored
// sideways with a display matrix saying 90° (as a phone held upright
// records it), is decoded by Debian's OpenCV/FFmpeg and turned upright: the
// face seen in most frames of the source H.264 clip is found at the same
// place (within 4 px: the two encodings differ) with orientation 6.
func TestPhoneVideoHEVC(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed")
	}
	src := filepath.Join(shared.Dir(t, "testdata/photos/video"), "face_recognition_short_hamilton_clip.mp4")
	dir := t.TempDir()
	sideways, p := filepath.Join(dir, "sideways.mov"), filepath.Join(dir, "IMG_0001.MOV")
	for _, args := range [][]string{
		{"-i", src, "-vf", "transpose=2", "-c:v", "libx265", "-x265-params", "log-level=error", "-pix_fmt", "yuv420p10le", "-tag:v", "hvc1", "-an", sideways},
		{"-i", sideways, "-c", "copy", "-metadata:s:v:0", "rotate=90", p},
	} {
		if out, err := exec.Command("ffmpeg", append([]string{"-v", "error", "-y"}, args...)...).CombinedOutput(); err != nil {
			t.Skipf("ffmpeg cannot make the HEVC test video (libx265?): %v\n%s", err, out)
		}
	}
	a := newAnalyzer(t, Options{MinNoFrames: 2})
	want := analyze(t, a, src)
	got := analyze(t, a, p)
	if got.Kind != face.KindVideo || got.Orientation != 6 || got.Width != want.Width || got.Height != want.Height ||
		got.StoredWidth != want.Height || got.StoredHeight != want.Width {
		t.Fatalf("kind %s orientation %d %dx%d stored %dx%d; want video, 6, %dx%d upright", got.Kind, got.Orientation, got.Width, got.Height,
			got.StoredWidth, got.StoredHeight, want.Width, want.Height)
	}
	main := func(fs []face.Face) face.Face {
		var m face.Face
		for _, f := range fs {
			if f.Frames > m.Frames {
				m = f
			}
		}
		return m
	}
	w, g := main(want.Faces), main(got.Faces)
	if w.Frames == 0 || g.Frames == 0 {
		t.Fatalf("faces: source %d, HEVC %d", len(want.Faces), len(got.Faces))
	}
	d := max(math.Abs(g.Box.X1-w.Box.X1), math.Abs(g.Box.Y1-w.Box.Y1), math.Abs(g.Box.X2-w.Box.X2), math.Abs(g.Box.Y2-w.Box.Y2))
	if d > 4 || math.Abs(g.Age-w.Age) > 1 {
		t.Errorf("main face %v age %.1f (%d frames); source %v age %.1f (%d frames)", g.Box, g.Age, g.Frames, w.Box, w.Age, w.Frames)
	}
	checkStored(t, p, got)
}
