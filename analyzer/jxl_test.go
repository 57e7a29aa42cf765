package analyzer

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"gocv.io/x/gocv"

	"github.com/faced/faced/analyzer/imgmeta"
)

// TestJXL: JPEG XL files made by cjxl from a face JPEG stored in four
// orientations (cjxl carries the EXIF orientation into the codestream) find
// the faces of that JPEG, with stored boxes in the frame readers turn by
// the Orientation exiftool reads. The files
// are pixel-lossless (-d 0 from the decoded JPEG): cjxl's default lossless
// JPEG transcoding is decoded by libjxl's own IDCT, whose pixels differ
// from libjpeg's enough to move one box of this photo by 3.4 px.
func TestJXL(t *testing.T) {
	needExiftool(t)
	if _, err := exec.LookPath("cjxl"); err != nil {
		t.Skip("cjxl (Debian libjxl-tools) not installed")
	}
	a := newAnalyzer(t, Options{})
	dir := t.TempDir()
	up := gocv.IMRead(sourcePhotos(t)[0], gocv.IMReadColor)
	defer up.Close()
	for _, o := range []int{1, 3, 6, 8} {
		t.Run(fmt.Sprintf("o%d", o), func(t *testing.T) {
			st := storedFor(up, o)
			enc, err := gocv.IMEncodeWithParams(gocv.JPEGFileExt, st, []int{gocv.IMWriteJpegQuality, 95})
			st.Close()
			if err != nil {
				t.Fatal(err)
			}
			ref := filepath.Join(dir, fmt.Sprintf("o%d.jpg", o))
			os.WriteFile(ref, bytes.Clone(enc.GetBytes()), 0o644)
			enc.Close()
			runExiftool(t, "-q", "-overwrite_original", "-n", "-Orientation="+strconv.Itoa(o), ref)
			p := filepath.Join(dir, fmt.Sprintf("o%d.jxl", o))
			if out, err := exec.Command("cjxl", "--lossless_jpeg=0", "-d", "0", ref, p).CombinedOutput(); err != nil {
				t.Fatalf("cjxl: %v\n%s", err, out)
			}
			want := analyze(t, a, ref)
			got := analyze(t, a, p)
			// The stored frame is the one readers turn by the EXIF
			// Orientation exiftool reads (none: cjxl 0.7 keeps the
			// orientation in the codestream only), see jxlStoredFrame.
			wo := exiftoolOrientation(t, p)
			ww, wh := imgmeta.UprightSize(wo, want.Width, want.Height)
			if got.Format != "jxl" || got.Orientation != wo || got.Width != want.Width || got.Height != want.Height ||
				got.StoredWidth != ww || got.StoredHeight != wh {
				t.Fatalf("%s: %s o%d %dx%d stored %dx%d; want o%d %dx%d stored %dx%d", p, got.Format, got.Orientation, got.Width, got.Height,
					got.StoredWidth, got.StoredHeight, wo, want.Width, want.Height, ww, wh)
			}
			sameFaces(t, p, got.Faces, want.Faces, 2)
			checkStored(t, p, got)
		})
	}
	// The sample file of the shared test data decodes.
	r := analyze(t, a, filepath.Join(sharedFormatsDir(t), "8bit-sRGB.jxl"))
	if r.Width != 1440 || r.Height != 1080 {
		t.Errorf("8bit-sRGB.jxl: %dx%d, want 1440x1080", r.Width, r.Height)
	}
}
