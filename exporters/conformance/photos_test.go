package conformance

import (
	"context"
	"flag"
	"fmt"
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
	"sync"
	"testing"

	"github.com/faced/faced/exporters"
	"github.com/faced/faced/face"
	"github.com/faced/faced/internal/shared"
)

var update = flag.Bool("update", false, "rewrite the golden sidecars under testdata/")

// photoDirs are the shared test photo folders the suite exports to.
var photoDirs = []string{"exif_orientation", "xmp_face_regions", "group", "photoprism_face_testdata", "formats"}

// testPhoto is one shared photo copied into a temporary library.
type testPhoto struct {
	name string // folder/file under testdata/photos
	path string // the copy
	w, h int    // stored size
	// jpeg: the stored frame is certain (JPEG pixels + EXIF orientation);
	// for HEIC, AVIF and JPEG XL the readers' boxes are checked for being
	// finite and in the image, and counted, but not compared (their
	// container rotations are not part of this suite).
	jpeg        bool
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
		// First, so that a region written for it would shift the names of
		// the others in readers that pair lists by position.
		{FaceID: 3, StoredBox: face.Box{X1: fw * 0.05, Y1: fh * 0.6, X2: fw * 0.3, Y2: fh * 0.95}, Age: 50, MaleProb: 0.5, Score: 0.8},
		{FaceID: 1, PersonID: 1, Name: nameNamed, StoredBox: face.Box{X1: fw*0.1 + 0.3, Y1: fh*0.12 + 0.7, X2: fw*0.1 + 0.3 + fw/3.7, Y2: fh*0.12 + 0.7 + fh/3.3},
			Age: 31.25, MaleProb: 0.123456, Score: 0.987654, Model: "conformance"},
		{FaceID: 2, PersonID: 2, StoredBox: face.Box{X1: fw * 0.6, Y1: fh * 0.55, X2: fw, Y2: fh}, Age: 8, MaleProb: 0.9, Score: 0.9},
	}}
}

// named returns the regions faced writes a name for (their person's, or
// "Person 2"), with that name.
func named(p exporters.Photo) map[string]exporters.Region {
	out := map[string]exporters.Region{}
	for _, r := range p.Regions {
		switch {
		case r.Name != "":
			out[r.Name] = r
		case r.PersonID > 0:
			out[fmt.Sprintf("Person %d", r.PersonID)] = r
		}
	}
	return out
}

var (
	libOnce  sync.Once
	libDir   string
	libPhoto []testPhoto
	libErr   string
	libSkip  string
)

// TestMain removes the shared library after the tests.
func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if libDir != "" {
		os.RemoveAll(libDir)
	}
	os.Exit(code)
}

// libraryOf copies every shared test JPEG into a temporary library (once
// per test binary), reads its stored size and EXIF orientation, and exports
// faced's sidecar for it.
func libraryOf(t *testing.T) []testPhoto {
	t.Helper()
	libOnce.Do(buildLibrary)
	if libSkip != "" {
		t.Skip(libSkip)
	}
	if libErr != "" {
		t.Fatal(libErr)
	}
	return libPhoto
}

func buildLibrary() {
	base := filepath.Join(shared.SharedDir(), "testdata", "photos")
	if _, err := os.Stat(base); err != nil {
		libSkip = fmt.Sprintf("evaluation data %s not present (%v): this test needs ../shared next to the repository", base, err)
		return
	}
	if _, err := exec.LookPath("exiftool"); err != nil {
		libSkip = fmt.Sprintf("exiftool not installed: %v", err)
		return
	}
	var err error
	if libDir, err = os.MkdirTemp("", "faced-conformance-"); err != nil {
		libErr = err.Error()
		return
	}
	ex, err := exporters.New(exporters.Options{UnnamedLabel: "Person", VisibilityKeywordRoot: "faced", FacedVersion: "conformance"})
	if err != nil {
		libErr = err.Error()
		return
	}
	for _, d := range photoDirs {
		files, _ := filepath.Glob(filepath.Join(base, d, "*.jpg"))
		for _, ext := range []string{"*.heic", "*.avif", "*.jxl"} {
			more, _ := filepath.Glob(filepath.Join(base, d, ext))
			files = append(files, more...)
		}
		sort.Strings(files)
		for _, f := range files {
			dst := filepath.Join(libDir, d+"__"+filepath.Base(f))
			if err := copyPlain(f, dst); err != nil {
				libErr = err.Error()
				return
			}
			isJPEG := strings.EqualFold(filepath.Ext(dst), ".jpg")
			w, h, err := storedSize(dst)
			if !isJPEG {
				w, h, err = exiftoolSize(dst)
			}
			if err != nil {
				libErr = err.Error()
				return
			}
			tp := testPhoto{name: d + "/" + filepath.Base(f), path: dst, w: w, h: h, orientation: orientationOf(dst), jpeg: isJPEG}
			tp.faces = facesFor(dst, w, h)
			tp.faces.Visibility = "private"
			if _, err := ex.Export(context.Background(), tp.faces); err != nil {
				libErr = fmt.Sprintf("export %s: %v", tp.name, err)
				return
			}
			libPhoto = append(libPhoto, tp)
		}
	}
	if len(libPhoto) == 0 {
		libSkip = "no shared test photos"
	}
}

func copyPlain(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	o, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(o, in); err != nil {
		o.Close()
		return err
	}
	return o.Close()
}

func storedSize(path string) (int, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	c, _, err := image.DecodeConfig(f)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	return c.Width, c.Height, nil
}

// exiftoolSize is the image size exiftool reports (HEIC, AVIF, JPEG XL).
func exiftoolSize(path string) (int, int, error) {
	out, err := exec.Command("exiftool", "-s3", "-n", "-ImageWidth", "-ImageHeight", path).Output()
	if err != nil {
		return 0, 0, fmt.Errorf("exiftool %s: %w", path, err)
	}
	f := strings.Fields(string(out))
	if len(f) < 2 {
		return 0, 0, fmt.Errorf("exiftool %s: no image size", path)
	}
	w, err1 := strconv.Atoi(f[0])
	h, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("exiftool %s: size %q", path, out)
	}
	return w, h, nil
}

func orientationOf(path string) int {
	out, err := exec.Command("exiftool", "-s3", "-n", "-IFD0:Orientation", path).Output()
	if err != nil {
		return 1
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

func itoa(v int) string { return strconv.Itoa(v) }

func ftoa(v float64) string { return strconv.FormatFloat(v, 'f', 6, 64) }
