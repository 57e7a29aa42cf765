package media

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestIsMotionPhoto: Samsung's One UI 6 HEIC (XMP GCamera:MotionPhoto and
// an mpvd box holding the MP4) is a motion photo, an iPhone HEIC and plain
// JPEGs are not; a JPEG with Google's XMP in its header is, and the same
// words in its pixel data are not looked at.
func TestIsMotionPhoto(t *testing.T) {
	for _, tc := range []struct {
		path string
		f    Format
		want bool
	}{
		{"formats/samsung-one-ui-6.heic", HEIC, true},
		{"formats/IMG_2682.heic", HEIC, false},
		{"group/deepface_couple.jpg", JPEG, false},
	} {
		b, err := os.ReadFile(filepath.Join(shared, tc.path))
		if err != nil {
			t.Skipf("test data absent: %v", err)
		}
		got, err := IsMotionPhoto(bytes.NewReader(b), int64(len(b)), tc.f)
		if err != nil || got != tc.want {
			t.Errorf("%s: %v, %v; want %v", tc.path, got, err, tc.want)
		}
	}
	jpeg, err := os.ReadFile(filepath.Join(shared, "group/deepface_couple.jpg"))
	if err != nil {
		t.Skip(err)
	}
	xmp := []byte(`<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:GCamera="http://ns.google.com/photos/1.0/camera/" GCamera:MotionPhoto="1"/></rdf:RDF></x:xmpmeta>`)
	app1 := append([]byte("http://ns.adobe.com/xap/1.0/\x00"), xmp...)
	seg := []byte{0xFF, 0xE1, byte((len(app1) + 2) >> 8), byte(len(app1) + 2)}
	motion := append(append(append([]byte{0xFF, 0xD8}, seg...), app1...), jpeg[2:]...)
	if ok, _ := IsMotionPhoto(bytes.NewReader(motion), int64(len(motion)), JPEG); !ok {
		t.Error("JPEG with GCamera:MotionPhoto XMP: not a motion photo")
	}
	// The words after the start of scan (in a trailer) do not count.
	tail := append(append([]byte(nil), jpeg...), xmp...)
	if ok, _ := IsMotionPhoto(bytes.NewReader(tail), int64(len(tail)), JPEG); ok {
		t.Error("XMP words after the image data made a motion photo")
	}
}
