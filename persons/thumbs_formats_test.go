package persons

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/faced/faced/analyzer"
	"github.com/faced/faced/analyzer/heif"
	"github.com/faced/faced/face"
	"github.com/faced/faced/index"
	"github.com/faced/faced/internal/confine"
	"github.com/faced/faced/internal/shared"
	"github.com/faced/faced/models"
)

var (
	regOnce sync.Once
	reg     *models.Registry
	regErr  error
)

func testAnalyzer(t *testing.T, opt analyzer.Options) *analyzer.Analyzer {
	t.Helper()
	dir := shared.DataDir(t)
	regOnce.Do(func() {
		lib, err := models.FindORTLibrary("")
		if err != nil {
			regErr = err
			return
		}
		if regErr = models.InitRuntime(lib); regErr != nil {
			return
		}
		reg, regErr = models.OpenRegistry(dir)
	})
	if regErr != nil {
		t.Skipf("models not usable: %v", regErr)
	}
	opt.Threads = 1
	a, err := analyzer.New(reg, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// Thumbnails of a HEIC and a NEF stored sideways (orientation 6, as phones
// and cameras write) and of a video's faces are cropped from the real image
// through the analyzer's decoders, upright: each shows the face (the
// detector, without its sideways retry, finds one in it) and the HEIC's and
// the NEF's are the JPEG's face. Before, all were placeholders
// (ErrNoThumbnail).
func TestThumbnailsOfEveryFormat(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(shared.Dir(t, "testdata/photos/group"), "face_recognition_two_people.jpg")
	video := filepath.Join(shared.Dir(t, "testdata/photos/video"), "facenet_pytorch_video.mp4")
	an := testAnalyzer(t, analyzer.Options{})
	check := testAnalyzer(t, analyzer.Options{NoRotationRetry: true})

	lib := t.TempDir()
	copyFile := func(from, to string) {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	jpg, heic, mp4 := filepath.Join(lib, "a.jpg"), filepath.Join(lib, "a.heic"), filepath.Join(lib, "v.mp4")
	copyFile(src, jpg)
	copyFile(video, mp4)
	up := gocv.IMRead(src, gocv.IMReadColor)
	defer up.Close()
	stored := gocv.NewMat() // orientation 6: the upright photo turned a quarter counter-clockwise
	defer stored.Close()
	gocv.Rotate(up, &stored, gocv.Rotate90CounterClockwise)
	if err := heif.Encode(heic, stored, heif.HEVC, -1, 6, 6); err != nil {
		t.Fatal(err)
	}

	paths := []string{jpg, heic, mp4}
	// A Nikon raw (the shared stub) whose embedded JPEG is the photo
	// stored sideways, the container saying orientation 6.
	nef := filepath.Join(lib, "a.NEF")
	if _, err := exec.LookPath("exiftool"); err != nil {
		t.Log("exiftool not installed: no raw case")
	} else {
		copyFile(filepath.Join(shared.Dir(t, "testdata/photos/formats/raw_stubs"), "Nikon.nef"), nef)
		pj := filepath.Join(t.TempDir(), "preview.jpg")
		if !gocv.IMWrite(pj, stored) {
			t.Fatal("cannot write the preview")
		}
		if out, err := exec.Command("exiftool", "-q", "-q", "-m", "-overwrite_original", "-n", "-Orientation=6",
			"-JpgFromRaw<="+pj, nef).CombinedOutput(); err != nil {
			t.Fatalf("exiftool: %v\n%s", err, out)
		}
		paths = append(paths, nef)
	}

	ix, err := index.Open(ctx, filepath.Join(t.TempDir(), "faces.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	faces := map[string][]index.FaceRecord{}
	for _, p := range paths {
		res, err := an.Analyze(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Faces) == 0 {
			t.Fatalf("%s: no face found", p)
		}
		t.Logf("%s: %d faces, %dx%d upright %s", filepath.Base(p), len(res.Faces), res.Width, res.Height, res.Note)
		fid, _, err := ix.RecordAnalysis(ctx, index.Analysis{File: index.File{Path: p, Size: 1, ModTime: time.Unix(1, 0)}, Result: *res})
		if err != nil {
			t.Fatal(err)
		}
		if faces[p], err = ix.Faces(ctx, index.FaceQuery{FileID: fid, NoFeatures: true}); err != nil {
			t.Fatal(err)
		}
	}

	conf, err := confine.New(lib, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conf.Close()
	th, err := NewThumbs(ix, lib, filepath.Join(t.TempDir(), ThumbsDir))
	if err != nil {
		t.Fatal(err)
	}
	th.DecodeWith(func(ctx context.Context, path string, frameTime float64) (image.Image, error) {
		return analyzer.UprightImage(ctx, analyzer.Options{Open: conf.Open}, path, frameTime)
	})
	thumb := func(f index.FaceRecord) image.Image {
		t.Helper()
		b, err := th.Get(ctx, f.ID)
		if err != nil {
			t.Fatalf("thumbnail of face #%d (%s): %v", f.ID, filepath.Base(f.Path), err)
		}
		img, err := jpeg.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		// the thumbnail shows a face, upright
		p := filepath.Join(t.TempDir(), "thumb.jpg")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		res, err := check.Analyze(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Faces) == 0 {
			t.Errorf("no upright face in the thumbnail of face #%d (%s)", f.ID, filepath.Base(f.Path))
		}
		return img
	}
	for _, f := range faces[mp4] {
		thumb(f)
	}
	for _, hf := range append(faces[heic], faces[nef]...) {
		// the JPEG's face at the same upright place
		var jf *index.FaceRecord
		for i, c := range faces[jpg] {
			if face.IoU(c.Box, hf.Box) > 0.8 {
				jf = &faces[jpg][i]
			}
		}
		if jf == nil {
			t.Fatalf("%s face %v has no JPEG face in the same place", filepath.Base(hf.Path), hf.Box)
		}
		if d := meanDiff(thumb(hf), thumb(*jf)); d > 12 {
			t.Errorf("%s face #%d thumbnail differs from the JPEG's by %.1f levels on average", filepath.Base(hf.Path), hf.ID, d)
		}
	}
}

// meanDiff is the mean absolute difference of two images' 8-bit RGB values.
func meanDiff(a, b image.Image) float64 {
	r := a.Bounds().Intersect(b.Bounds())
	var sum, n float64
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := b.At(x, y).RGBA()
			for _, d := range []int{int(r1>>8) - int(r2>>8), int(g1>>8) - int(g2>>8), int(b1>>8) - int(b2>>8)} {
				sum += float64(max(d, -d))
				n++
			}
		}
	}
	return sum / n
}
