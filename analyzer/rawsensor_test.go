package analyzer

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"gocv.io/x/gocv"

	"github.com/faced/faced/face"
)

// writeCFADNG writes an uncompressed Bayer (RGGB) DNG without any preview
// whose sensor holds img (8-bit BGR, the stored frame) at twice its size:
// each pixel a 2×2 block of linear 16-bit R, G, G, B (the sRGB curve
// undone), with orientation o, the sRGB primaries as its colour matrix and
// a neutral white balance, as a camera would store it.
func writeCFADNG(t *testing.T, p string, img gocv.Mat, o int) {
	t.Helper()
	w, h := img.Cols()*2, img.Rows()*2
	lin := func(v uint8) uint16 {
		c := float64(v) / 255
		if c <= 0.04045 {
			c /= 12.92
		} else {
			c = math.Pow((c+0.055)/1.055, 2.4)
		}
		return uint16(math.Round(c * 65535))
	}
	data := make([]byte, w*h*2)
	bgr, _ := img.DataPtrUint8()
	cols := img.Cols()
	put := func(x, y int, v uint16) { binary.LittleEndian.PutUint16(data[(y*w+x)*2:], v) }
	for y := 0; y < img.Rows(); y++ {
		for x := 0; x < cols; x++ {
			i := (y*cols + x) * 3
			b, g, r := lin(bgr[i]), lin(bgr[i+1]), lin(bgr[i+2])
			put(2*x, 2*y, r)
			put(2*x+1, 2*y, g)
			put(2*x, 2*y+1, g)
			put(2*x+1, 2*y+1, b)
		}
	}
	type entry struct {
		tag, typ uint16
		count    uint32
		val      []byte // the value's bytes (inline when ≤ 4)
	}
	le := binary.LittleEndian
	short := func(tag uint16, vs ...uint16) entry {
		b := make([]byte, 2*len(vs))
		for i, v := range vs {
			le.PutUint16(b[2*i:], v)
		}
		return entry{tag, 3, uint32(len(vs)), b}
	}
	long := func(tag uint16, v uint32) entry { return entry{tag, 4, 1, le.AppendUint32(nil, v)} }
	ascii := func(tag uint16, s string) entry { return entry{tag, 2, uint32(len(s) + 1), append([]byte(s), 0)} }
	srational := func(tag uint16, typ uint16, vs ...float64) entry {
		var b []byte
		for _, v := range vs {
			b = le.AppendUint32(b, uint32(int32(math.Round(v*10000))))
			b = le.AppendUint32(b, 10000)
		}
		return entry{tag, typ, uint32(len(vs)), b}
	}
	es := []entry{
		long(254, 0), long(256, uint32(w)), long(257, uint32(h)), short(258, 16), short(259, 1), short(262, 32803),
		ascii(271, "faced"), ascii(272, "test sensor"), long(273, 0), short(274, uint16(o)), short(277, 1),
		long(278, uint32(h)), long(279, uint32(len(data))), short(284, 1), short(33421, 2, 2),
		{33422, 1, 4, []byte{0, 1, 1, 2}}, {50706, 1, 4, []byte{1, 4, 0, 0}}, ascii(50708, "faced test sensor"),
		long(50717, 65535),
		// XYZ (D65) to camera: the camera sees linear sRGB.
		srational(50721, 10, 3.2406, -1.5372, -0.4986, -0.9689, 1.8758, 0.0415, 0.0557, -0.2040, 1.0570),
		srational(50728, 5, 1, 1, 1), short(50778, 21),
	}
	sort.Slice(es, func(i, j int) bool { return es[i].tag < es[j].tag })
	ifdSize := 2 + 12*len(es) + 4
	extra := 8 + ifdSize
	var ext bytes.Buffer
	offs := make([]uint32, len(es))
	for i, e := range es {
		if len(e.val) > 4 {
			offs[i] = uint32(extra + ext.Len())
			ext.Write(e.val)
			if ext.Len()%2 == 1 {
				ext.WriteByte(0)
			}
		}
	}
	dataOff := uint32(extra + ext.Len())
	var f bytes.Buffer
	f.WriteString("II*\x00")
	binary.Write(&f, le, uint32(8))
	binary.Write(&f, le, uint16(len(es)))
	for i, e := range es {
		if e.tag == 273 {
			e.val = le.AppendUint32(nil, dataOff)
		}
		binary.Write(&f, le, e.tag)
		binary.Write(&f, le, e.typ)
		binary.Write(&f, le, e.count)
		if len(e.val) > 4 {
			binary.Write(&f, le, offs[i])
		} else {
			v := make([]byte, 4)
			copy(v, e.val)
			f.Write(v)
		}
	}
	binary.Write(&f, le, uint32(0))
	f.Write(ext.Bytes())
	f.Write(data)
	if err := os.WriteFile(p, f.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRawSensorDNG: a DNG without any embedded preview, holding a face
// photo as Bayer sensor data and stored in four orientations, is decoded
// by LibRaw (half size) and finds the faces of the photo in the upright
// frame; its sidecar regions, read back by exiftool, land on them. A
// truncated copy is named unsupported with the file and the reason.
func TestRawSensorDNG(t *testing.T) {
	needExiftool(t)
	a := newAnalyzer(t, Options{})
	dir := t.TempDir()
	src := sourcePhotos(t)[0]
	want := analyze(t, a, src)
	up := gocv.IMRead(src, gocv.IMReadColor)
	defer up.Close()
	for _, o := range []int{1, 3, 6, 8} {
		t.Run(fmt.Sprintf("o%d", o), func(t *testing.T) {
			st := storedFor(up, o)
			defer st.Close()
			p := filepath.Join(dir, fmt.Sprintf("sensor_o%d.dng", o))
			writeCFADNG(t, p, st, o)
			got := analyze(t, a, p)
			if got.Format != "dng" || got.Orientation != o || got.Width != want.Width || got.Height != want.Height ||
				got.StoredWidth != st.Cols() || got.StoredHeight != st.Rows() {
				t.Fatalf("%s o%d %dx%d stored %dx%d; want dng o%d %dx%d stored %dx%d", got.Format, got.Orientation, got.Width, got.Height,
					got.StoredWidth, got.StoredHeight, o, want.Width, want.Height, st.Cols(), st.Rows())
			}
			if !strings.Contains(got.Note, "sensor data decoded at half size") {
				t.Errorf("note %q does not say the sensor data was decoded", got.Note)
			}
			// LibRaw's rendering (its gamma, auto-brightness) is not the
			// JPEG's pixels: boxes are compared, ages and sex logged.
			if len(got.Faces) != len(want.Faces) {
				t.Fatalf("%d faces, the photo has %d", len(got.Faces), len(want.Faces))
			}
			for _, w := range want.Faces {
				i, iou := bestIoU(w.Box, boxesOf(got.Faces))
				g := got.Faces[i]
				t.Logf("face %v: IoU %.3f, box off by %.1f px, age %.1f vs %.1f, male %.3f vs %.3f", w.Box, iou,
					max(math.Abs(g.Box.X1-w.Box.X1), math.Abs(g.Box.Y1-w.Box.Y1), math.Abs(g.Box.X2-w.Box.X2), math.Abs(g.Box.Y2-w.Box.Y2)),
					g.Age, w.Age, g.MaleProb, w.MaleProb)
				if iou < 0.8 {
					t.Errorf("face %v: best IoU %.3f with %v", w.Box, iou, g.Box)
				}
			}
			checkSidecar(t, got)
		})
	}
	// Cut short: LibRaw must not turn the missing data into a picture.
	b, err := os.ReadFile(filepath.Join(dir, "sensor_o1.dng"))
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.dng")
	writeFile(t, cut, b[:len(b)/3])
	_, err = a.Analyze(context.Background(), cut)
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "cut.dng") || !strings.Contains(err.Error(), "sensor data") {
		t.Errorf("truncated DNG: %v; want a named unsupported error about its sensor data", err)
	}
	t.Logf("truncated DNG: %v", err)
}

// TestRawPreviewCrop: a raw whose embedded preview shows only a centred
// crop of the sensor image (a 4:3 in-camera aspect on a wider sensor; here
// a DNG with real sensor data and such a preview appended) has its faces
// placed on the whole image LibRaw develops (what digiKam and darktable
// show): boxes on the faces of the full photo at the sensor's scale, the
// sidecar's AppliedToDimensions the sensor image, regions read back by
// exiftool on the faces. Before, the boxes stayed in the preview's frame.
func TestRawPreviewCrop(t *testing.T) {
	needExiftool(t)
	a := newAnalyzer(t, Options{})
	dir := t.TempDir()
	src := sourcePhotos(t)[0]
	want := analyze(t, a, src)
	up := gocv.IMRead(src, gocv.IMReadColor)
	defer up.Close()
	for _, o := range []int{1, 6} {
		t.Run(fmt.Sprintf("o%d", o), func(t *testing.T) {
			st := storedFor(up, o)
			defer st.Close()
			p := filepath.Join(dir, fmt.Sprintf("crop_o%d.dng", o))
			writeCFADNG(t, p, st, o)
			// The preview: the centred 4:3 (3:4) crop of the stored
			// image, enlarged 1.5 times to pass the 1 000 px minimum.
			w, h := st.Cols(), st.Rows()
			cw, ch := h*4/3, h
			if w < h {
				cw, ch = w, w*4/3
			}
			crop := st.Region(image.Rect((w-cw)/2, (h-ch)/2, (w-cw)/2+cw, (h-ch)/2+ch))
			big := gocv.NewMat()
			defer big.Close()
			gocv.Resize(crop, &big, image.Point{X: cw * 3 / 2, Y: ch * 3 / 2}, 0, 0, gocv.InterpolationLinear)
			crop.Close()
			enc, err := gocv.IMEncodeWithParams(gocv.JPEGFileExt, big, []int{gocv.IMWriteJpegQuality, 95})
			if err != nil {
				t.Fatal(err)
			}
			f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			f.Write(enc.GetBytes())
			f.Close()
			enc.Close()
			got := analyze(t, a, p)
			if got.Width != 2*want.Width || got.Height != 2*want.Height || got.StoredWidth != 2*w || got.StoredHeight != 2*h || got.Orientation != o {
				t.Fatalf("%dx%d stored %dx%d o%d; want the sensor image %dx%d stored %dx%d o%d (note %q)", got.Width, got.Height,
					got.StoredWidth, got.StoredHeight, got.Orientation, 2*want.Width, 2*want.Height, 2*w, 2*h, o, got.Note)
			}
			if !strings.Contains(got.Note, "crop of the raw's") {
				t.Errorf("note %q does not say the preview is a crop", got.Note)
			}
			if len(got.Faces) != len(want.Faces) {
				t.Fatalf("%d faces, the photo has %d", len(got.Faces), len(want.Faces))
			}
			for _, wf := range want.Faces {
				b := wf.Box
				b2 := face.Box{X1: 2 * b.X1, Y1: 2 * b.Y1, X2: 2 * b.X2, Y2: 2 * b.Y2}
				i, iou := bestIoU(b2, boxesOf(got.Faces))
				t.Logf("face %v: IoU %.3f with %v", b2, iou, got.Faces[i].Box)
				if iou < 0.8 {
					t.Errorf("face %v (sensor scale): best IoU %.3f with %v", b2, iou, got.Faces[i].Box)
				}
			}
			checkStored(t, p, got)
			checkSidecar(t, got)
		})
	}
}
