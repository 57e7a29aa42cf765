package xmp

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/faced/faced/internal/shared"
)

// corpus returns the XMP packets of the real test files: the sidecar as is,
// the photos' embedded packets through exiftool.
func corpus(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, sub := range []string{"testdata/photos/xmp_face_regions", "testdata/photos/exif_orientation"} {
		dir := shared.Dir(t, sub)
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			p := filepath.Join(dir, e.Name())
			var data []byte
			if filepath.Ext(p) == ".xmp" {
				data, err = os.ReadFile(p)
			} else {
				if _, lerr := exec.LookPath("exiftool"); lerr != nil {
					continue
				}
				data, err = exec.Command("exiftool", "-xmp", "-b", p).Output()
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(data) > 0 {
				out[e.Name()] = data
			}
		}
	}
	if len(out) == 0 {
		t.Skip("no XMP in the test corpus")
	}
	return out
}

func TestParseWriteFixedPoint(t *testing.T) {
	for name, data := range corpus(t) {
		t.Run(name, func(t *testing.T) {
			d, err := Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			b1 := d.Bytes()
			d2, err := Parse(b1)
			if err != nil {
				t.Fatalf("re-parse: %v\n%s", err, b1)
			}
			if b2 := d2.Bytes(); !bytes.Equal(b1, b2) {
				t.Fatalf("not a fixed point:\n%s\n----\n%s", b1, b2)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{"", "<a>", "<x:xmpmeta xmlns:x='adobe:ns:meta/'></x:xmpmeta>", "<a></b>", "not xml"} {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("Parse(%q): no error", in)
		}
	}
}
