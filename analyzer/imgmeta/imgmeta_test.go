package imgmeta

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/faced/faced/face"
	"github.com/faced/faced/internal/shared"
)

// exiftoolInfo asks exiftool for the orientation and size of a file, as an
// independent oracle.
func exiftoolInfo(t *testing.T, path string) (o, w, h int, tagged bool) {
	t.Helper()
	if _, err := exec.LookPath("exiftool"); err != nil {
		t.Skip("exiftool not installed")
	}
	out, err := exec.Command("exiftool", "-s3", "-n", "-Orientation", "-ImageWidth", "-ImageHeight", path).Output()
	if err != nil {
		t.Fatalf("exiftool %s: %v", path, err)
	}
	f := strings.Fields(string(out))
	tagged = len(f) == 3
	if len(f) == 2 {
		f = append([]string{"1"}, f...)
	}
	if len(f) != 3 {
		t.Fatalf("exiftool output %q", out)
	}
	o, _ = strconv.Atoi(f[0])
	w, _ = strconv.Atoi(f[1])
	h, _ = strconv.Atoi(f[2])
	return
}

func TestReadFileAgreesWithExiftool(t *testing.T) {
	var files []string
	for _, pat := range []string{"testdata/photos/exif_orientation/*.jpg", "testdata/photos/group/*.jpg", "testdata/photos/xmp_face_regions/*.jpg"} {
		dir := shared.Dir(t, filepath.Dir(pat))
		m, _ := filepath.Glob(filepath.Join(dir, filepath.Base(pat)))
		files = append(files, m...)
	}
	if len(files) < 10 {
		t.Fatalf("only %d test photos found", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			got, err := ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			o, w, h, tagged := exiftoolInfo(t, f)
			if got.Format != JPEG || got.Orientation != o || got.Width != w || got.Height != h || got.OrientationTagged != tagged {
				t.Errorf("got %+v, exiftool says orientation %d (tagged %v) size %dx%d", got, o, tagged, w, h)
			}
		})
	}
}

func chunk(typ string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, uint32(len(data)))
	b.WriteString(typ)
	b.Write(data)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	return b.Bytes()
}

func TestPNGHeaders(t *testing.T) {
	// A real small PNG with an eXIf chunk (orientation 6) inserted after IHDR.
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 7, 5))); err != nil {
		t.Fatal(err)
	}
	raw := buf.Bytes()
	exif := []byte("MM\x00\x2a\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00\x00\x00\x00\x00")
	withExif := append(append(append([]byte{}, raw[:33]...), chunk("eXIf", exif)...), raw[33:]...)

	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], 40000)
	binary.BigEndian.PutUint32(ihdr[4:], 40000)
	ihdr[8], ihdr[9] = 8, 2
	bomb := append([]byte("\x89PNG\r\n\x1a\n"), chunk("IHDR", ihdr)...)

	tests := []struct {
		name    string
		data    []byte
		want    Info
		wantErr error
	}{
		{"plain", raw, Info{Format: PNG, Width: 7, Height: 5, Orientation: 1}, nil},
		{"exif orientation", withExif, Info{Format: PNG, Width: 7, Height: 5, Orientation: 6, OrientationTagged: true}, nil},
		{"bomb header only", bomb, Info{Format: PNG, Width: 40000, Height: 40000, Orientation: 1}, nil},
		{"truncated signature", raw[:10], Info{}, ErrCorrupt},
		{"empty", nil, Info{}, ErrCorrupt},
		{"text", []byte("hello, I am not a picture\n"), Info{}, ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Read(bytes.NewReader(tt.data), int64(len(tt.data)))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestJPEGTruncated(t *testing.T) {
	// SOI and an APP0 segment claiming more bytes than exist.
	data := []byte{0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F'}
	if _, err := Read(bytes.NewReader(data), int64(len(data))); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err %v, want ErrCorrupt", err)
	}
}

func TestBoxTransformsRoundTrip(t *testing.T) {
	sw, sh := 300, 200
	b := face.Box{X1: 10, Y1: 20, X2: 60, Y2: 90}
	// Expected upright boxes, worked out by hand for a 300×200 stored image.
	want := map[int]face.Box{
		1: {X1: 10, Y1: 20, X2: 60, Y2: 90},
		2: {X1: 240, Y1: 20, X2: 290, Y2: 90},
		3: {X1: 240, Y1: 110, X2: 290, Y2: 180},
		4: {X1: 10, Y1: 110, X2: 60, Y2: 180},
		5: {X1: 20, Y1: 10, X2: 90, Y2: 60},
		6: {X1: 110, Y1: 10, X2: 180, Y2: 60},
		7: {X1: 110, Y1: 240, X2: 180, Y2: 290},
		8: {X1: 20, Y1: 240, X2: 90, Y2: 290},
	}
	for o := 1; o <= 8; o++ {
		u := BoxToUpright(o, sw, sh, b)
		if u != want[o] {
			t.Errorf("orientation %d: upright %v, want %v", o, u, want[o])
		}
		uw, uh := UprightSize(o, sw, sh)
		if back := BoxToStored(o, uw, uh, u); back != b {
			t.Errorf("orientation %d: round trip %v, want %v", o, back, b)
		}
	}
}

func TestJPEGComplete(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(shared.Dir(t, "seed/reference"), "test_image.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	if !JPEGComplete(raw) {
		t.Fatal("the seed's demo photo should be complete")
	}
	for _, cut := range []int{len(raw) - 2, len(raw) / 2, 2000} {
		if JPEGComplete(raw[:cut]) {
			t.Errorf("cut at %d of %d bytes reported complete", cut, len(raw))
		}
	}
}
