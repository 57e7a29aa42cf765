package conformance

import (
	"context"
	"flag"
	"image"
	_ "image/jpeg"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/faced/faced/exporters"
	"github.com/faced/faced/face"
	"github.com/faced/faced/internal/shared"
)

var update = flag.Bool("update", false, "rewrite the golden sidecars under testdata/")

// photoDirs are the shared test photo folders the suite exports to.
var photoDirs = []string{"exif_orientation", "xmp_face_regions", "group", "photoprism_face_testdata"}

// testPhoto is one shared photo copied into a temporary library.
type testPhoto struct {
	name        string // folder/file under testdata/photos
	path        string // the copy
	w, h        int    // stored size
	orientation int
	faces       exporters.Photo
}

// Names faced gives the synthetic faces (see facesFor).
const (
	nameNamed  = "Anna Conform"
	labelNamed = "Person 2"
)

// facesFor returns three faces on a w×h stored frame, chosen to exercise
// the readers, not to be real faces: a named person's face at awkward
// fractions (decimals that need rounding), an unnamed clustered person's face
// touching the right and bottom edges (written "Person 2"), and a face in no
// person (no name at all).
func facesFor(path string, w, h int) exporters.Photo {
	fw, fh := float64(w), float64(h)
	return exporters.Photo{Path: path, StoredWidth: w, StoredHeight: h, Keywords: []string{nameNamed}, Regions: []exporters.Region{
		{FaceID: 1, PersonID: 1, Name: nameNamed, StoredBox: face.Box{X1: fw*0.1 + 0.3, Y1: fh*0.12 + 0.7, X2: fw*0.1 + 0.3 + fw/3.7, Y2: fh*0.12 + 0.7 + fh/3.3},
			Age: 31.25, MaleProb: 0.123456, Score: 0.987654, Model: "conformance"},
		{FaceID: 2, PersonID: 2, StoredBox: face.Box{X1: fw * 0.6, Y1: fh * 0.55, X2: fw, Y2: fh}, Age: 8, MaleProb: 0.9, Score: 0.9},
		{FaceID: 3, StoredBox: face.Box{X1: fw * 0.05, Y1: fh * 0.6, X2: fw * 0.3, Y2: fh * 0.95}, Age: 50, MaleProb: 0.5, Score: 0.8},
	}}
}

// libraryOf copies every shared test JPEG into a temporary library, reads
// its stored size and EXIF orientation, and exports faced's sidecar for it.
func libraryOf(t *testing.T) []testPhoto {
	t.Helper()
	base := shared.Dir(t, "testdata/photos")
	if _, err := exec.LookPath("exiftool"); err != nil {
		t.Skipf("exiftool not installed: %v", err)
	}
	lib := t.TempDir()
	ex, err := exporters.New(exporters.Options{UnnamedLabel: "Person", VisibilityKeywordRoot: "faced", FacedVersion: "conformance"})
	if err != nil {
		t.Fatal(err)
	}
	var out []testPhoto
	for _, d := range photoDirs {
		files, _ := filepath.Glob(filepath.Join(base, d, "*.jpg"))
		sort.Strings(files)
		for _, f := range files {
			dst := filepath.Join(lib, d+"__"+filepath.Base(f))
			copyFile(t, f, dst)
			w, h := storedSize(t, dst)
			tp := testPhoto{name: d + "/" + filepath.Base(f), path: dst, w: w, h: h, orientation: orientationOf(t, dst)}
			tp.faces = facesFor(dst, w, h)
			tp.faces.Visibility = "private"
			if _, err := ex.Export(context.Background(), tp.faces); err != nil {
				t.Fatalf("export %s: %v", tp.name, err)
			}
			out = append(out, tp)
		}
	}
	if len(out) == 0 {
		t.Skip("no shared test photos")
	}
	return out
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	o, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(o, in); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
}

func storedSize(t *testing.T, path string) (int, int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, _, err := image.DecodeConfig(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c.Width, c.Height
}

func orientationOf(t *testing.T, path string) int {
	t.Helper()
	out, err := exec.Command("exiftool", "-s3", "-n", "-IFD0:Orientation", path).Output()
	if err != nil {
		t.Fatalf("exiftool %s: %v", path, err)
	}
	o, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		return 1
	}
	return o
}

// displayed maps a stored-frame box to the displayed frame of EXIF
// orientation o (the corners, by the EXIF definition of each orientation),
// and returns the displayed size.
func displayed(b face.Box, w, h, o int) (face.Box, int, int) {
	fw, fh := float64(w), float64(h)
	m := func(x, y float64) (float64, float64) {
		switch o {
		case 2:
			return fw - x, y
		case 3:
			return fw - x, fh - y
		case 4:
			return x, fh - y
		case 5:
			return y, x
		case 6:
			return fh - y, x
		case 7:
			return fh - y, fw - x
		case 8:
			return y, fw - x
		}
		return x, y
	}
	x1, y1 := m(b.X1, b.Y1)
	x2, y2 := m(b.X2, b.Y2)
	d := face.Box{X1: math.Min(x1, x2), Y1: math.Min(y1, y2), X2: math.Max(x1, x2), Y2: math.Max(y1, y2)}
	if o >= 5 && o <= 8 {
		return d, h, w
	}
	return d, w, h
}

// clampBox is the face box faced writes: clamped to the stored frame.
func clampBox(b face.Box, w, h int) face.Box {
	c := func(v, hi float64) float64 { return math.Max(0, math.Min(hi, v)) }
	return face.Box{X1: c(b.X1, float64(w)), Y1: c(b.Y1, float64(h)), X2: c(b.X2, float64(w)), Y2: c(b.Y2, float64(h))}
}
