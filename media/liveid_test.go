package media

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// appleJPEG is a JPEG header holding an Apple iOS maker note whose tag
// 0x0011 is id, laid out as an iPhone writes it (IFD0 → Exif IFD →
// MakerNote "Apple iOS\0", version 1, "MM", then an IFD whose offsets
// count from the maker note's start).
func appleJPEG(id string) []byte {
	be := binary.BigEndian
	var mn bytes.Buffer
	mn.WriteString("Apple iOS\x00\x00\x01MM")
	binary.Write(&mn, be, uint16(1))
	binary.Write(&mn, be, []uint32{0x00110002, uint32(len(id) + 1), 32})
	binary.Write(&mn, be, uint32(0))
	mn.WriteString(id + "\x00")
	var tiff bytes.Buffer
	tiff.WriteString("MM\x00\x2a")
	binary.Write(&tiff, be, uint32(8))
	binary.Write(&tiff, be, uint16(1)) // IFD0: ExifIFD pointer
	binary.Write(&tiff, be, []uint32{0x87690004, 1, 26, 0})
	binary.Write(&tiff, be, uint16(1)) // Exif IFD: MakerNote
	binary.Write(&tiff, be, []uint32{0x927c0007, uint32(mn.Len()), 44, 0})
	tiff.Write(mn.Bytes())
	app1 := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	out := []byte{0xFF, 0xD8, 0xFF, 0xE1, byte((len(app1) + 2) >> 8), byte(len(app1) + 2)}
	out = append(out, app1...)
	return append(out, 0xFF, 0xD9)
}

func box(typ string, body ...[]byte) []byte {
	b := bytes.Join(body, nil)
	out := binary.BigEndian.AppendUint32(nil, uint32(8+len(b)))
	return append(append(out, typ...), b...)
}

// liveMeta is a QuickTime moov/meta box naming id as the movie's
// com.apple.quicktime.content.identifier, as an iPhone writes it.
func liveMeta(id string) []byte {
	be := binary.BigEndian
	key := "com.apple.quicktime.content.identifier"
	hdlr := box("hdlr", make([]byte, 8), []byte("mdta"), make([]byte, 13))
	keys := box("keys", make([]byte, 4), be.AppendUint32(nil, 1), be.AppendUint32(nil, uint32(8+len(key))), []byte("mdta"+key))
	item := box(string(be.AppendUint32(nil, 1)), box("data", be.AppendUint32(nil, 1), make([]byte, 4), []byte(id)))
	return box("meta", hdlr, keys, box("ilst", item))
}

// liveMOV is a QuickTime movie holding only the metadata box.
func liveMOV(id string) []byte {
	return append(box("ftyp", []byte("qt  \x00\x00\x00\x00qt  ")), box("moov", liveMeta(id))...)
}

// TestLivePhotoContentID: a Live Photo's still and movie pair by Apple's
// content identifier when both carry one (a same-named movie of another
// moment stays a video of its own), by the base name otherwise; exiftool
// reads the identifiers of the files made here as faced does.
func TestLivePhotoContentID(t *testing.T) {
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	const a, b = "1F3E7C2A-5B6D-4E8F-9A0B-C1D2E3F4A5B6", "9E8D7C6B-5A49-4382-B1C0-D9E8F7A6B5C4"
	files := map[string][]byte{
		"IMG_7.JPG": appleJPEG(a), "IMG_7.MOV": liveMOV(a), // the same moment
		"IMG_8.HEIC": appleJPEG(a), "IMG_8.MOV": liveMOV(b), // another moment under the same name
		"IMG_9.JPG": []byte("\xFF\xD8\xFF\xD9"), "IMG_9.MOV": liveMOV(b), // the still says nothing: base name
	}
	for n, c := range files {
		if err := os.WriteFile(p(n), c, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for n, want := range map[string]string{"IMG_7.JPG": a, "IMG_7.MOV": a, "IMG_8.MOV": b, "IMG_9.JPG": ""} {
		if got := ContentID(p(n)); got != want {
			t.Errorf("ContentID(%s) = %q, want %q", n, got, want)
		}
	}
	for _, tc := range []struct{ mov, still string }{{"IMG_7.MOV", "IMG_7.JPG"}, {"IMG_8.MOV", ""}, {"IMG_9.MOV", "IMG_9.JPG"}} {
		got, ok := PrimaryOf(p(tc.mov))
		if ok != (tc.still != "") || (ok && got != p(tc.still)) {
			t.Errorf("PrimaryOf(%s) = %q, %v; want %q", tc.mov, got, ok, tc.still)
		}
	}
	if v := LiveVideos(p("IMG_7.JPG")); !slices.Equal(v, []string{p("IMG_7.MOV")}) {
		t.Errorf("LiveVideos(IMG_7.JPG) = %v", v)
	}
	if v := LiveVideos(p("IMG_8.HEIC")); len(v) != 0 {
		t.Errorf("LiveVideos(IMG_8.HEIC) = %v; its MOV is another moment", v)
	}
	if _, err := exec.LookPath("exiftool"); err != nil {
		t.Skip("exiftool not installed: the files are not checked against it")
	}
	out, err := exec.Command("exiftool", "-s3", "-MediaGroupUUID", "-ContentIdentifier", p("IMG_7.JPG"), p("IMG_7.MOV")).CombinedOutput()
	if err != nil || strings.Count(string(out), a) != 2 {
		t.Errorf("exiftool reads %q (%v), want %s twice", out, err, a)
	}
}

// TestContentIDReadOncePerVersion: the walk asks for a pair's identifiers
// at every reconciliation; an unchanged file is not read again, a changed
// one is (its new identifier, not the cached one).
func TestContentIDReadOncePerVersion(t *testing.T) {
	dir := t.TempDir()
	still := filepath.Join(dir, "IMG_1.JPG")
	const a, b = "1F3E7C2A-5B6D-4E8F-9A0B-C1D2E3F4A5B6", "9E8D7C6B-5A49-4382-B1C0-D9E8F7A6B5C4"
	if err := os.WriteFile(still, appleJPEG(a), 0o644); err != nil {
		t.Fatal(err)
	}
	r0 := idReads.Load()
	for i := 0; i < 3; i++ {
		if got := ContentID(still); got != a {
			t.Fatalf("call %d: ContentID = %q, want %q", i, got, a)
		}
	}
	if n := idReads.Load() - r0; n != 1 {
		t.Errorf("an unchanged still was read %d times in 3 calls, want 1", n)
	}
	// The same size, a new identifier: rewritten in place.
	if err := os.WriteFile(still, appleJPEG(b), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := ContentID(still); got != b {
		t.Errorf("after the rewrite ContentID = %q, want %q", got, b)
	}
}
