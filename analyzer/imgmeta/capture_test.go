package imgmeta

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faced/faced/internal/shared"
)

// TestCaptureTime: the capture date read from EXIF agrees with exiftool's
// DateTimeOriginal (else CreateDate, else ModifyDate) on every real photo,
// and is zero where exiftool finds none.
func TestCaptureTime(t *testing.T) {
	if _, err := exec.LookPath("exiftool"); err != nil {
		t.Skip("exiftool not installed")
	}
	var files []string
	for _, dir := range []string{"testdata/photos/exif_orientation", "testdata/photos/xmp_face_regions", "testdata/photos/group"} {
		m, _ := filepath.Glob(filepath.Join(shared.Dir(t, dir), "*.jpg"))
		files = append(files, m...)
	}
	dated := 0
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			out, err := exec.Command("exiftool", "-m", "-s3", "-d", "%Y-%m-%dT%H:%M:%S",
				"-EXIF:DateTimeOriginal", "-EXIF:CreateDate", "-EXIF:ModifyDate", f).Output()
			if err != nil {
				t.Fatalf("exiftool: %v", err)
			}
			var want time.Time
			for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				if w, err := time.Parse("2006-01-02T15:04:05", strings.TrimSpace(l)); err == nil {
					want = w
					break
				}
			}
			info, err := ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if !info.CaptureTime.Equal(want) {
				t.Errorf("CaptureTime = %v, exiftool says %v", info.CaptureTime, want)
			}
			if !want.IsZero() {
				dated++
			}
		})
	}
	if dated == 0 {
		t.Error("no photo with an EXIF date among the test photos: the check did not bite")
	}
}
