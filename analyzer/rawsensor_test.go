package analyzer

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"gocv.io/x/gocv"
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
