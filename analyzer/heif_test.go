package analyzer

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"

	"gocv.io/x/gocv"

	"github.com/faced/faced/analyzer/heif"
	"github.com/faced/faced/analyzer/imgmeta"
	"github.com/faced/faced/face"
	"github.com/faced/faced/internal/shared"
)

// inverseOrientation is the EXIF orientation undoing o.
func inverseOrientation(o int) int {
	switch o {
	case 6:
		return 8
	case 8:
		return 6
	}
	return o
}

// storedFor returns the upright image m as a camera would store it under
// EXIF orientation o (a new Mat).
func storedFor(m gocv.Mat, o int) gocv.Mat { return orientMat(m, inverseOrientation(o)) }

// checkStored checks that the stored boxes of got are the source's upright
// boxes taken to got's stored frame.
func checkStored(t *testing.T, name string, got *face.Result) {
	t.Helper()
	for _, f := range got.Faces {
		want := imgmeta.BoxToStored(got.Orientation, got.Width, got.Height, f.Box)
		if f.StoredBox != want {
			t.Errorf("%s: stored box %v, want %v", name, f.StoredBox, want)
		}
	}
}

// TestHEIFFormats: HEIC and AVIF files made from face photos, each with the
// photo rotated and mirrored as stored pixels and irot/imir boxes (and, as
// phones write them, an Exif Orientation saying the same), find the faces of
// the source JPEG in the upright frame.
func TestHEIFFormats(t *testing.T) {
	a := newAnalyzer(t, Options{})
	dir := t.TempDir()
	for si, src := range sourcePhotos(t)[:1] {
		want := analyze(t, a, src)
		if len(want.Faces) == 0 {
			t.Fatalf("%s: no faces in the source", src)
		}
		up := gocv.IMRead(src, gocv.IMReadColor)
		defer up.Close()
		for _, tc := range []struct {
			codec heif.Codec
			ext   string
			o     int
			exif  bool
		}{
			{heif.HEVC, "heic", 1, false}, {heif.HEVC, "heic", 3, false}, {heif.HEVC, "heic", 6, true},
			{heif.HEVC, "heic", 8, false}, {heif.HEVC, "heic", 5, true},
			{heif.AV1, "avif", 1, false}, {heif.AV1, "avif", 6, false},
		} {
			name := fmt.Sprintf("%d_o%d_exif%v.%s", si, tc.o, tc.exif, tc.ext)
			t.Run(name, func(t *testing.T) {
				m := storedFor(up, tc.o)
				defer m.Close()
				p := filepath.Join(dir, name)
				eo := 0
				if tc.exif {
					eo = tc.o
				}
				if err := heif.Encode(p, m, tc.codec, -1, tc.o, eo); err != nil {
					t.Fatal(err)
				}
				got := analyze(t, a, p)
				if got.Format != tc.ext || got.Width != want.Width || got.Height != want.Height {
					t.Fatalf("format %s size %dx%d; want %s %dx%d", got.Format, got.Width, got.Height, tc.ext, want.Width, want.Height)
				}
				wo := 1
				if tc.exif {
					wo = tc.o
				}
				if got.Orientation != wo {
					t.Errorf("orientation %d, want %d", got.Orientation, wo)
				}
				sameFaces(t, name, got.Faces, want.Faces, 2)
				checkStored(t, name, got)
			})
		}
	}
}

// TestAVIF10Bit: a 10-bit AVIF (avifenc) of a face photo finds its faces.
func TestAVIF10Bit(t *testing.T) {
	if _, err := exec.LookPath("avifenc"); err != nil {
		t.Skip("avifenc (Debian libavif-bin) not installed")
	}
	a := newAnalyzer(t, Options{})
	src := sourcePhotos(t)[0]
	want := analyze(t, a, src)
	dir := t.TempDir()
	png := filepath.Join(dir, "src.png")
	m := gocv.IMRead(src, gocv.IMReadColor)
	defer m.Close()
	gocv.IMWrite(png, m)
	p := filepath.Join(dir, "ten.avif")
	if out, err := exec.Command("avifenc", "--depth", "10", "--yuv", "444", "--min", "0", "--max", "0", png, p).CombinedOutput(); err != nil {
		t.Fatalf("avifenc: %v\n%s", err, out)
	}
	got := analyze(t, a, p)
	sameFaces(t, "10-bit avif", got.Faces, want.Faces, 2)
}

// TestRealHEIFFiles: the phone and sample files of the shared test data
// decode (the HEIC's Exif orientation taken when it agrees with the
// transformations).
func TestRealHEIFFiles(t *testing.T) {
	a := newAnalyzer(t, Options{})
	dir := sharedFormats(t)
	for _, tc := range []struct {
		name          string
		w, h, o       int
		storeW, store int
	}{
		{"IMG_2682.heic", 4032, 3024, 1, 4032, 3024},
		{"samsung-one-ui-6.heic", 3000, 4000, 6, 4000, 3000},
		{"8bit-sRGB.avif", 1617, 1080, 1, 1617, 1080},
		{"10bit-HDR-P3-nclx.avif", 3681, 5594, 1, 3681, 5594},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := analyze(t, a, filepath.Join(dir, tc.name))
			if r.Width != tc.w || r.Height != tc.h || r.Orientation != tc.o || r.StoredWidth != tc.storeW || r.StoredHeight != tc.store {
				t.Errorf("%dx%d o%d stored %dx%d; want %dx%d o%d stored %dx%d", r.Width, r.Height, r.Orientation, r.StoredWidth, r.StoredHeight, tc.w, tc.h, tc.o, tc.storeW, tc.store)
			}
		})
	}
}

func sharedFormats(t *testing.T) string {
	t.Helper()
	return shared.Dir(t, "testdata/photos/formats")
}
