package analyzer

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gocv.io/x/gocv"

	"github.com/faced/faced/analyzer/imgmeta"
	"github.com/faced/faced/analyzer/rawpreview"
	"github.com/faced/faced/exporters"
	"github.com/faced/faced/face"
	"github.com/faced/faced/internal/shared"
)

func needExiftool(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("exiftool"); err != nil {
		t.Skip("exiftool not installed")
	}
}

func runExiftool(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("exiftool", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("exiftool %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// makeRaw writes the raw stub of format with preview (a JPEG without EXIF)
// as its largest embedded JPEG and the raw container's Orientation o;
// tagged is preview with EXIF Orientation o (RAF keeps its orientation in
// the preview's EXIF).
func makeRaw(t *testing.T, dir, format string, preview, tagged []byte, o int) string {
	t.Helper()
	stubs := filepath.Join(sharedFormatsDir(t), "raw_stubs")
	src := map[string]string{"cr2": "CanonRaw.cr2", "cr3": "CanonRaw.cr3", "dng": "DNG.dng", "nef": "Nikon.nef", "rw2": "Panasonic.rw2", "raf": "FujiFilm.raf"}[format]
	b, err := os.ReadFile(filepath.Join(stubs, src))
	if err != nil {
		t.Skipf("raw stub absent: %v", err)
	}
	p := filepath.Join(dir, fmt.Sprintf("o%d.%s", o, strings.ToUpper(format)))
	pj := filepath.Join(dir, "preview.jpg")
	os.WriteFile(pj, preview, 0o644)
	switch format {
	case "raf":
		// RAF's header names the preview: offset at byte 84, length at 88.
		off := len(b)
		b = append(b, tagged...)
		binary.BigEndian.PutUint32(b[84:], uint32(off))
		binary.BigEndian.PutUint32(b[88:], uint32(len(tagged)))
		os.WriteFile(p, b, 0o644)
		return p
	}
	os.WriteFile(p, b, 0o644)
	args := []string{"-q", "-q", "-m", "-overwrite_original", "-n", "-Orientation=" + strconv.Itoa(o)}
	if format == "cr3" {
		// exiftool checks CR3's track offsets: orientation first, then
		// the preview box (whose growth moves the stub's empty mdat).
		runExiftool(t, append(args, p)...)
		b, _ = os.ReadFile(p)
		return p + writeFile(t, p, withPRVW(t, b, preview))
	}
	switch format {
	case "cr2":
		args = append(args, "-PreviewImage<="+pj)
	case "dng", "nef", "rw2":
		args = append(args, "-JpgFromRaw<="+pj)
	}
	runExiftool(t, append(args, p)...)
	return p
}

// withPRVW replaces the payload of CR3's preview box (uuid eaf42b5e…,
// PRVW) with jpg, as Canon writes it: 8 bytes, then PRVW: 4 + 2 bytes,
// width, height, 2 bytes, the JPEG's length and the JPEG.
func withPRVW(t *testing.T, b, jpg []byte) []byte {
	t.Helper()
	uuid := []byte{0xea, 0xf4, 0x2b, 0x5e, 0x1c, 0x98, 0x4b, 0x88, 0xb9, 0xfb, 0xb7, 0xdc, 0x40, 0x6e, 0x4d, 0x16}
	for off := 0; off+24 <= len(b); {
		size := int(binary.BigEndian.Uint32(b[off:]))
		if size < 8 || off+size > len(b) {
			break
		}
		if string(b[off+4:off+8]) == "uuid" && bytes.Equal(b[off+8:off+24], uuid) {
			info := readPreviewInfo(t, jpg)
			var box bytes.Buffer
			prvw := 8 + 4 + 2 + 2 + 2 + 2 + 4 + len(jpg)
			binary.Write(&box, binary.BigEndian, uint32(8+16+8+prvw))
			box.WriteString("uuid")
			box.Write(uuid)
			box.Write([]byte{0, 0, 0, 0, 0, 0, 0, 1})
			binary.Write(&box, binary.BigEndian, uint32(prvw))
			box.WriteString("PRVW")
			box.Write([]byte{0, 0, 0, 0, 0, 1})
			binary.Write(&box, binary.BigEndian, uint16(info.X))
			binary.Write(&box, binary.BigEndian, uint16(info.Y))
			box.Write([]byte{0, 1})
			binary.Write(&box, binary.BigEndian, uint32(len(jpg)))
			box.Write(jpg)
			out := append([]byte(nil), b[:off]...)
			out = append(out, box.Bytes()...)
			return append(out, b[off+size:]...)
		}
		off += size
	}
	t.Fatal("CR3 stub has no preview box")
	return nil
}

func readPreviewInfo(t *testing.T, jpg []byte) (sz struct{ X, Y int }) {
	ps := rawpreview.All(jpg)
	if len(ps) == 0 {
		t.Fatal("not a JPEG")
	}
	sz.X, sz.Y = ps[0].Width, ps[0].Height
	return sz
}

func sharedFormatsDir(t *testing.T) string { return shared.Dir(t, "testdata/photos/formats") }

// TestRawPreviews: raw files of six formats holding a face photo as their
// embedded JPEG preview, in four orientations recorded by the raw
// container (RAF: by the preview's EXIF), find the faces of that JPEG (the
// same pixels with the same EXIF orientation), and the sidecar regions of
// the raw, read back by exiftool, land on those faces.
func TestRawPreviews(t *testing.T) {
	needExiftool(t)
	a := newAnalyzer(t, Options{})
	dir := t.TempDir()
	up := gocv.IMRead(sourcePhotos(t)[0], gocv.IMReadColor)
	defer up.Close()
	for _, o := range []int{1, 3, 6, 8} {
		st := storedFor(up, o)
		enc, err := gocv.IMEncodeWithParams(gocv.JPEGFileExt, st, []int{gocv.IMWriteJpegQuality, 95})
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		preview := bytes.Clone(enc.GetBytes())
		enc.Close()
		ref := filepath.Join(dir, fmt.Sprintf("ref_o%d.jpg", o))
		os.WriteFile(ref, preview, 0o644)
		runExiftool(t, "-q", "-overwrite_original", "-n", "-Orientation="+strconv.Itoa(o), ref)
		tagged, _ := os.ReadFile(ref)
		want := analyze(t, a, ref)
		if want.Orientation != o || len(want.Faces) == 0 {
			t.Fatalf("reference o%d: orientation %d, %d faces", o, want.Orientation, len(want.Faces))
		}
		for _, format := range []string{"cr2", "cr3", "dng", "nef", "rw2", "raf"} {
			t.Run(fmt.Sprintf("%s_o%d", format, o), func(t *testing.T) {
				p := makeRaw(t, dir, format, preview, tagged, o)
				got := analyze(t, a, p)
				if got.Format != format || got.Orientation != o || got.Width != want.Width || got.Height != want.Height {
					t.Fatalf("format %s orientation %d size %dx%d; want %s %d %dx%d", got.Format, got.Orientation, got.Width, got.Height, format, o, want.Width, want.Height)
				}
				sameFaces(t, p, got.Faces, want.Faces, 2)
				checkSidecar(t, got)
			})
		}
	}
}

// checkSidecar writes res's faces to its sidecar (full naming, as digiKam
// reads it: photo.CR2.xmp) and checks with exiftool that each MWG region,
// taken through AppliedToDimensions and the raw's Orientation, covers its
// face in the upright image.
func checkSidecar(t *testing.T, res *face.Result) {
	t.Helper()
	exportNamed(t, res)
	full, _ := exporters.SidecarNames(res.File)
	v := exiftoolNumbers(t, full, "RegionAppliedToDimensionsW", "RegionAppliedToDimensionsH", "RegionAreaX", "RegionAreaY", "RegionAreaW", "RegionAreaH")
	aw, ah := v[0][0], v[1][0]
	if int(aw) != res.StoredWidth || int(ah) != res.StoredHeight {
		t.Errorf("AppliedToDimensions %vx%v, want the stored preview %dx%d", aw, ah, res.StoredWidth, res.StoredHeight)
	}
	xs, ys, ws, hs := v[2], v[3], v[4], v[5]
	for _, f := range res.Faces {
		// The region's centre, in stored pixels, turned upright by the
		// orientation, must be the face's centre.
		found := false
		for i := range xs {
			cx, cy := xs[i]*aw, ys[i]*ah
			ux, uy := imgmeta.PointToUpright(res.Orientation, res.StoredWidth, res.StoredHeight, cx, cy)
			if math.Abs(ux-(f.Box.X1+f.Box.X2)/2) < 2 && math.Abs(uy-(f.Box.Y1+f.Box.Y2)/2) < 2 && ws[i] > 0 && hs[i] > 0 {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no region on the face at %v (regions x %v y %v)", full, f.Box, xs, ys)
		}
	}
}

func writeFile(t *testing.T, p string, b []byte) string {
	t.Helper()
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return ""
}

// TestRealRawStubs: ExifTool's sample raw containers carry previews of a
// few bytes only and no sensor data (a few KB for 6-24 MP sensors, which
// LibRaw would otherwise decode into noise or a blank frame): each is named
// unsupported, with the file and both reasons, never a crash, a silent
// skip or an analysed picture of nothing.
func TestRealRawStubs(t *testing.T) {
	a := newAnalyzer(t, Options{})
	dir := filepath.Join(sharedFormatsDir(t), "raw_stubs")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Skip(err)
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".txt") {
			continue
		}
		_, err := a.Analyze(context.Background(), filepath.Join(dir, e.Name()))
		if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "embedded JPEG preview of at least 1000 px") ||
			!strings.Contains(err.Error(), "sensor data cannot be decoded") || !strings.Contains(err.Error(), e.Name()) {
			t.Errorf("%s: %v; want a named unsupported error", e.Name(), err)
		}
		t.Logf("%s: %v", e.Name(), err)
	}
}
