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

// TestJXLTranscodedJPEG: a JPEG XL file that is cjxl's lossless
// transcoding of a JPEG (its default) gives exactly the faces of that JPEG
// (the JPEG is rebuilt from the file and analysed as one), in the
// orientations 1 and 6, with JPEG XL's stored frame (jxlStoredFrame).
// Decoding libjxl's pixels instead moved a box by 3.4 px.
func TestJXLTranscodedJPEG(t *testing.T) {
	needExiftool(t)
	if _, err := exec.LookPath("cjxl"); err != nil {
		t.Skip("cjxl (Debian libjxl-tools) not installed")
	}
	a := newAnalyzer(t, Options{})
	dir := t.TempDir()
	up := gocv.IMRead(sourcePhotos(t)[0], gocv.IMReadColor)
	defer up.Close()
	for _, o := range []int{1, 6} {
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
			if out, err := exec.Command("cjxl", ref, p).CombinedOutput(); err != nil {
				t.Fatalf("cjxl: %v\n%s", err, out)
			}
			want := analyze(t, a, ref)
			got := analyze(t, a, p)
			if len(want.Faces) == 0 {
				t.Fatal("no faces in the JPEG")
			}
			so, sw, sh, _ := jxlStoredFrame(mustRead(t, p), want.Width, want.Height)
			if got.Format != "jxl" || got.Width != want.Width || got.Height != want.Height || got.Orientation != so ||
				got.StoredWidth != sw || got.StoredHeight != sh {
				t.Fatalf("%s o%d %dx%d stored %dx%d; want jxl o%d %dx%d stored %dx%d", got.Format, got.Orientation, got.Width, got.Height,
					got.StoredWidth, got.StoredHeight, so, want.Width, want.Height, sw, sh)
			}
			sameFaces(t, p, got.Faces, want.Faces, 0.001)
			for i, f := range got.Faces {
				if sb := imgmeta.BoxToStored(so, got.Width, got.Height, f.Box); f.StoredBox != sb {
					t.Errorf("face %d: stored box %v, want %v", i, f.StoredBox, sb)
				}
			}
		})
	}
}
