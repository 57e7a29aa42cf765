package media

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

const shared = "../../shared/testdata/photos"

func head(t *testing.T, p string) []byte {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Skipf("test data absent: %v", err)
	}
	defer f.Close()
	b := make([]byte, HeadSize)
	n, _ := f.Read(b)
	return b[:n]
}

// TestSniffRealFiles names the real files of the shared test data by their
// bytes.
func TestSniffRealFiles(t *testing.T) {
	for _, tc := range []struct {
		path string
		want Format
		kind Kind
	}{
		{"formats/IMG_2682.heic", HEIC, Photo},
		{"formats/samsung-one-ui-6.heic", HEIC, Photo},
		{"formats/8bit-sRGB.avif", AVIF, Photo},
		{"formats/10bit-HDR-P3-nclx.avif", AVIF, Photo},
		{"formats/8bit-sRGB.jxl", JXL, Photo},
		{"formats/raw_stubs/CanonRaw.cr2", CR2, Raw},
		{"formats/raw_stubs/CanonRaw.cr3", CR3, Raw},
		{"formats/raw_stubs/DNG.dng", DNG, Raw},
		{"formats/raw_stubs/FujiFilm.raf", RAF, Raw},
		{"formats/raw_stubs/Nikon.nef", NEF, Raw},
		{"formats/raw_stubs/Panasonic.rw2", RW2, Raw},
		{"group/deepface_couple.jpg", JPEG, Photo},
		{"video/facenet_pytorch_video.mp4", MP4, Video},
	} {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			p := filepath.Join(shared, tc.path)
			id, ok := Identify(p, head(t, p))
			if !ok || id.Format != tc.want || id.Kind != tc.kind || id.Mismatch {
				t.Fatalf("Identify = %+v, %v; want %s (%s), no mismatch", id, ok, tc.want, tc.kind)
			}
		})
	}
}

func TestIdentifyMismatch(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR")
	id, ok := Identify("/x/photo.JPG", png)
	if !ok || id.Format != PNG || !id.Mismatch || id.ByExt.Format != JPEG {
		t.Fatalf("Identify = %+v, %v", id, ok)
	}
	if n := id.MismatchNote(); n != "extension .jpg but the content is PNG; read as PNG" {
		t.Fatalf("note %q", n)
	}
	// MP4 bytes in a .mov, HEIC brands in an .avif: same family, no note.
	mp4 := []byte("\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2")
	if id, _ := Identify("a.mov", mp4); id.Mismatch || id.Kind != Video {
		t.Fatalf("mp4 in .mov: %+v", id)
	}
	// Unknown bytes: the extension decides.
	if id, ok := Identify("a.jpg", []byte("garbage")); !ok || id.Format != JPEG || id.Mismatch {
		t.Fatalf("unknown bytes: %+v %v", id, ok)
	}
	if _, ok := Identify("a.txt", []byte("garbage")); ok {
		t.Fatal("text file identified")
	}
	// A TIFF-based raw without its own signature is named by its extension.
	tiff := []byte("II*\x00\x08\x00\x00\x00")
	if id, _ := Identify("a.NEF", tiff); id.Format != NEF || id.Mismatch {
		t.Fatalf("nef: %+v", id)
	}
	if id, _ := Identify("a.tif", tiff); id.Format != TIFF {
		t.Fatalf("tif: %+v", id)
	}
}

func TestExtensions(t *testing.T) {
	ext := Extensions()
	for _, want := range []string{".jpg", ".jpe", ".heic", ".avif", ".jxl", ".cr3", ".dng", ".mov", ".mkv"} {
		if !slices.Contains(ext, want) {
			t.Errorf("Extensions() lacks %s", want)
		}
	}
	if slices.Contains(ext, ".xmp") {
		t.Error(".xmp is a sidecar")
	}
	for _, p := range []string{"a.JPE", "b.Heic", "c.cr2", "d.MOV"} {
		if !IsMedia(p) {
			t.Errorf("IsMedia(%s) = false", p)
		}
	}
	if IsMedia("a.xmp") || IsMedia("noext") {
		t.Error("IsMedia accepts a sidecar or an extensionless name")
	}
	if !Known("HEIC") || Known(".xyz") {
		t.Error("Known")
	}
}
