package analyzer

import (
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/faced/faced/internal/shared"
)

// TestVideoCaptureTime: a clip whose QuickTime CreateDate is set (by
// exiftool, on a copy) reports it; the original clips carry zero dates
// ("0000:00:00 00:00:00") and report none, so the daemon falls back to mtime.
func TestVideoCaptureTime(t *testing.T) {
	if _, err := exec.LookPath("exiftool"); err != nil {
		t.Skip("exiftool not installed")
	}
	src := filepath.Join(shared.Dir(t, "testdata/photos/video"), "facenet_pytorch_video.mp4")
	dated := filepath.Join(t.TempDir(), "dated.mp4")
	if out, err := exec.Command("exiftool", "-q", "-o", dated, "-QuickTime:CreateDate=2019:07:04 12:30:00", src).CombinedOutput(); err != nil {
		t.Fatalf("exiftool: %v\n%s", err, out)
	}
	var d videoDates
	defer d.close()
	tests := []struct {
		name, path string
		want       time.Time
	}{
		{"dated copy", dated, time.Date(2019, 7, 4, 12, 30, 0, 0, time.UTC)},
		{"original, zero dates", src, time.Time{}},
		{"missing file", filepath.Join(t.TempDir(), "nope.mp4"), time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := d.captureTime(tt.path); !got.Equal(tt.want) {
				t.Errorf("captureTime = %v, want %v", got, tt.want)
			}
		})
	}
}
