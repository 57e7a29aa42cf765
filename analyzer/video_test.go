package analyzer

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/faced/faced/analyzer/imgmeta"
	"github.com/faced/faced/face"
	"github.com/faced/faced/internal/shared"
)

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

func needTools(t *testing.T, tools ...string) {
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
}

// TestVideos: both clips give faces; a .mov remux, an .avi re-encode and a
// copy whose pixels are stored rotated with a compensating rotation tag give
// the same face groups; a copy that only gets `exiftool -Rotation=90` is
// rotated once (OpenCV does it), not twice.
func TestVideos(t *testing.T) {
	needTools(t, "ffmpeg", "exiftool")
	vdir := shared.Dir(t, "testdata/photos/video")
	a := newAnalyzer(t, Options{VideoFPS: 2})
	tmp := t.TempDir()

	for _, clip := range []string{"face_recognition_short_hamilton_clip.mp4", "facenet_pytorch_video.mp4"} {
		t.Run(clip, func(t *testing.T) {
			// The first 3 s, re-encoded once so every variant starts from
			// the same frames.
			base := filepath.Join(tmp, "base_"+clip)
			run(t, "ffmpeg", "-v", "error", "-i", filepath.Join(vdir, clip), "-t", "3", "-an", "-c:v", "libx264", "-preset", "ultrafast", "-qp", "10", base)
			want := analyze(t, a, base)
			if want.Kind != face.KindVideo || len(want.Faces) == 0 {
				t.Fatalf("%s: kind %s, %d face groups; want faces", clip, want.Kind, len(want.Faces))
			}
			for _, f := range want.Faces {
				if f.Frames < a.Options().MinNoFrames || len(f.Features) != 1024 || f.StoredBox != f.Box {
					t.Errorf("group %+v: frames %d, %d features", f.Box, f.Frames, len(f.Features))
				}
			}
			t.Logf("%s: %dx%d, %d groups", clip, want.Width, want.Height, len(want.Faces))

			mov := filepath.Join(tmp, "copy.mov")
			run(t, "ffmpeg", "-v", "error", "-y", "-i", base, "-c", "copy", mov)
			avi := filepath.Join(tmp, "copy.avi")
			run(t, "ffmpeg", "-v", "error", "-y", "-i", base, "-c:v", "mjpeg", "-q:v", "2", avi)
			// Pixels stored turned 90° clockwise, tagged so players (and
			// OpenCV) turn them back upright.
			rot := filepath.Join(tmp, "rotated.mp4")
			run(t, "ffmpeg", "-v", "error", "-y", "-i", base, "-vf", "transpose=1", "-c:v", "libx264", "-preset", "ultrafast", "-qp", "10", rot)
			run(t, "exiftool", "-q", "-overwrite_original", "-Rotation=90", rot)

			for _, v := range []string{mov, avi, rot} {
				got := analyze(t, a, v)
				if got.Width != want.Width || got.Height != want.Height {
					t.Errorf("%s: %dx%d, want %dx%d", filepath.Base(v), got.Width, got.Height, want.Width, want.Height)
				}
				matched := 0
				// A group is the same person when its mean identity
				// features agree (the representative frame may differ
				// when a face is first found one sample later).
				for _, wf := range want.Faces {
					best := 0.0
					for _, g := range got.Faces {
						best = max(best, cosine(wf.Features, g.Features))
					}
					if best >= 0.85 {
						matched++
					}
				}
				t.Logf("%s: %d groups, %d of %d original groups matched", filepath.Base(v), len(got.Faces), matched, len(want.Faces))
				if matched < len(want.Faces)-1 || matched == 0 || len(got.Faces) > len(want.Faces)+1 {
					t.Errorf("%s: %d groups, %d of the original %d matched", filepath.Base(v), len(got.Faces), matched, len(want.Faces))
				}
				if v == rot {
					if got.Orientation == 1 || got.StoredWidth != want.Height || got.StoredHeight != want.Width {
						t.Errorf("rotated copy: orientation %d stored %dx%d", got.Orientation, got.StoredWidth, got.StoredHeight)
					}
					for _, g := range got.Faces {
						if back := imgmeta.BoxToUpright(got.Orientation, got.StoredWidth, got.StoredHeight, g.StoredBox); face.IoU(back, g.Box) < 0.99 {
							t.Errorf("stored box %v does not map back to %v", g.StoredBox, g.Box)
						}
					}
				}
			}

			// Tag only: displayed sideways, so frames come out W↔H swapped
			// (rotated once, by OpenCV; twice would restore the original size).
			tag := filepath.Join(tmp, "tagonly.mp4")
			data, err := os.ReadFile(base)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(tag, data, 0o644); err != nil {
				t.Fatal(err)
			}
			run(t, "exiftool", "-q", "-overwrite_original", "-Rotation=90", tag)
			got := analyze(t, a, tag)
			if got.Width != want.Height || got.Height != want.Width {
				t.Errorf("tag-only rotated copy: %dx%d, want %dx%d", got.Width, got.Height, want.Height, want.Width)
			}
		})
	}
}
