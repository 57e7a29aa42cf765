// Package media is faced's one table of the files it reads: which
// extensions it looks at, how the first bytes of a file name its format, and
// for each format its kind (photo, raw, video) and the decoder that reads it.
// Config validation, the watcher's filter, reconciliation, the index and the
// analyzer all ask this table, so adding a format is one row here plus its
// decoder.
//
// A file is decoded by what its bytes are, not by its name: Sniff reads the
// magic bytes, and Identify reports when they disagree with the extension so
// that the caller can say so.
package media

import (
	"bytes"
	"encoding/binary"
	"path/filepath"
	"slices"
	"strings"
)

// Kind is what a file holds, as far as face analysis cares.
type Kind string

// Kinds of media.
const (
	// Photo is a still image decoded as a whole.
	Photo Kind = "photo"
	// Raw is a camera raw file, analysed through its embedded preview.
	Raw Kind = "raw"
	// Video is a movie analysed frame by frame.
	Video Kind = "video"
	// Motion is a still photo with a short video embedded (Google/Samsung
	// motion photos): analysed as the still.
	Motion Kind = "motion"
)

// IsVideo reports whether files of kind k are analysed as videos (every
// other kind is analysed as a still photo).
func (k Kind) IsVideo() bool { return k == Video }

// Decoder names the code that turns a format into pixels.
type Decoder string

// Decoders.
const (
	// DecOpenCV: OpenCV's imdecode (libjpeg, libpng, libtiff, libwebp).
	DecOpenCV Decoder = "opencv"
	// DecHEIF: libheif (HEIC, HEIF, AVIF).
	DecHEIF Decoder = "libheif"
	// DecJXL: libjxl.
	DecJXL Decoder = "libjxl"
	// DecRawPreview: the largest JPEG preview embedded in a raw file.
	DecRawPreview Decoder = "raw-preview"
	// DecVideo: OpenCV's VideoCapture (FFmpeg).
	DecVideo Decoder = "video"
)

// Format is a container format, named by its usual extension.
type Format string

// Formats faced recognises.
const (
	JPEG Format = "jpeg"
	PNG  Format = "png"
	TIFF Format = "tiff"
	WebP Format = "webp"
	BMP  Format = "bmp"
	HEIC Format = "heic"
	AVIF Format = "avif"
	JXL  Format = "jxl"

	DNG Format = "dng"
	CR2 Format = "cr2"
	CR3 Format = "cr3"
	NEF Format = "nef"
	NRW Format = "nrw"
	ARW Format = "arw"
	RAF Format = "raf"
	ORF Format = "orf"
	RW2 Format = "rw2"
	PEF Format = "pef"
	SRW Format = "srw"

	MP4 Format = "mp4"
	MOV Format = "mov"
	AVI Format = "avi"
	MKV Format = "mkv"
)

// Entry is one row of the table.
type Entry struct {
	Format  Format
	Kind    Kind
	Decoder Decoder
	// Exts are the extensions (lower case, with the dot) files of this
	// format carry; the first is the usual one.
	Exts []string
}

// table is the media table. Order matters only for Extensions' output.
var table = []Entry{
	{JPEG, Photo, DecOpenCV, []string{".jpg", ".jpeg", ".jpe"}},
	{PNG, Photo, DecOpenCV, []string{".png"}},
	{TIFF, Photo, DecOpenCV, []string{".tif", ".tiff"}},
	{WebP, Photo, DecOpenCV, []string{".webp"}},
	{BMP, Photo, DecOpenCV, []string{".bmp"}},
	{HEIC, Photo, DecHEIF, []string{".heic", ".heif", ".hif"}},
	{AVIF, Photo, DecHEIF, []string{".avif"}},
	{JXL, Photo, DecJXL, []string{".jxl"}},

	{DNG, Raw, DecRawPreview, []string{".dng"}},
	{CR2, Raw, DecRawPreview, []string{".cr2"}},
	{CR3, Raw, DecRawPreview, []string{".cr3"}},
	{NEF, Raw, DecRawPreview, []string{".nef"}},
	{NRW, Raw, DecRawPreview, []string{".nrw"}},
	{ARW, Raw, DecRawPreview, []string{".arw"}},
	{RAF, Raw, DecRawPreview, []string{".raf"}},
	{ORF, Raw, DecRawPreview, []string{".orf"}},
	{RW2, Raw, DecRawPreview, []string{".rw2"}},
	{PEF, Raw, DecRawPreview, []string{".pef"}},
	{SRW, Raw, DecRawPreview, []string{".srw"}},

	{MOV, Video, DecVideo, []string{".mov"}},
	{MP4, Video, DecVideo, []string{".mp4", ".m4v"}},
	{AVI, Video, DecVideo, []string{".avi"}},
	{MKV, Video, DecVideo, []string{".mkv"}},
}

var (
	byExt    = map[string]*Entry{}
	byFormat = map[Format]*Entry{}
)

func init() {
	for i := range table {
		e := &table[i]
		byFormat[e.Format] = e
		for _, x := range e.Exts {
			byExt[x] = e
		}
	}
}

// Extensions are the extensions faced reads by default (lower case, with
// the dot), the default of the config's Extensions.
func Extensions() []string {
	var out []string
	for _, e := range table {
		out = append(out, e.Exts...)
	}
	return out
}

// Known reports whether ext (".heic" or "heic", any case) is in the table.
func Known(ext string) bool {
	_, ok := byExt[normExt(ext)]
	return ok
}

// ByPath returns the entry of path's extension (case-insensitive).
func ByPath(path string) (Entry, bool) {
	e, ok := byExt[normExt(filepath.Ext(path))]
	if !ok {
		return Entry{}, false
	}
	return *e, true
}

// ByFormat returns the entry of format f.
func ByFormat(f Format) (Entry, bool) {
	e, ok := byFormat[f]
	if !ok {
		return Entry{}, false
	}
	return *e, true
}

// IsMedia reports whether path's extension is one faced reads.
func IsMedia(path string) bool {
	_, ok := ByPath(path)
	return ok
}

func normExt(ext string) string {
	ext = strings.ToLower(ext)
	if ext != "" && !strings.HasPrefix(ext, ".") {
		ext = "." + ext
	}
	return ext
}

// HeadSize is how many leading bytes Sniff wants.
const HeadSize = 64

// Sniff names the format of a file from its first bytes (HeadSize of them
// or the whole file when shorter). Raw formats built on TIFF that carry no
// signature of their own (DNG, NEF, NRW, ARW, PEF, SRW) sniff as TIFF; ext
// (the file's extension, may be empty) then settles which one.
func Sniff(head []byte, ext string) (Format, bool) {
	f, ok := sniff(head)
	if ok && f == TIFF {
		if e, ok := byExt[normExt(ext)]; ok && e.Kind == Raw && e.Format != CR2 && e.Format != ORF && e.Format != RW2 {
			return e.Format, true
		}
	}
	return f, ok
}

func sniff(h []byte) (Format, bool) {
	has := func(off int, s string) bool { return len(h) >= off+len(s) && string(h[off:off+len(s)]) == s }
	switch {
	case len(h) >= 3 && h[0] == 0xFF && h[1] == 0xD8 && h[2] == 0xFF:
		return JPEG, true
	case has(0, "\x89PNG\r\n\x1a\n"):
		return PNG, true
	case has(0, "II*\x00") && has(8, "CR"):
		return CR2, true
	case has(0, "IIRO") || has(0, "IIRS") || has(0, "MMOR"):
		return ORF, true
	case has(0, "IIU\x00"):
		return RW2, true
	case has(0, "II*\x00") || has(0, "MM\x00*"):
		return TIFF, true
	case has(0, "FUJIFILMCCD-RAW"):
		return RAF, true
	case has(0, "RIFF") && has(8, "WEBP"):
		return WebP, true
	case has(0, "RIFF") && has(8, "AVI "):
		return AVI, true
	case has(0, "BM") && len(h) >= 18 && binary.LittleEndian.Uint32(h[14:18]) >= 12 && binary.LittleEndian.Uint32(h[14:18]) <= 124:
		return BMP, true
	case has(0, "\xFF\x0A") || has(0, "\x00\x00\x00\x0CJXL \x0D\x0A\x87\x0A"):
		return JXL, true
	case has(0, "\x1A\x45\xDF\xA3"):
		return MKV, true
	case has(4, "ftyp"):
		return sniffFtyp(h)
	case has(4, "moov") || has(4, "mdat") || has(4, "wide") || has(4, "free"):
		return MOV, true
	}
	return "", false
}

// sniffFtyp names an ISO BMFF file by its major and compatible brands.
func sniffFtyp(h []byte) (Format, bool) {
	size := int(binary.BigEndian.Uint32(h[:4]))
	end := min(len(h), max(size, 16))
	var brands []string
	for o := 8; o+4 <= end; o += 4 {
		if o == 12 { // minor version
			continue
		}
		brands = append(brands, string(h[o:o+4]))
	}
	if len(brands) == 0 {
		return "", false
	}
	switch major := brands[0]; major {
	case "crx ":
		return CR3, true
	case "avif", "avis":
		return AVIF, true
	case "heic", "heix", "heim", "heis", "mif1", "msf1", "hevc", "hevx", "MiHE":
		// mif1 is HEIF's generic brand; an AVIF written with it lists avif
		// among the compatible brands.
		if major == "mif1" || major == "msf1" {
			if slices.Contains(brands, "avif") && !slices.Contains(brands, "heic") {
				return AVIF, true
			}
		}
		return HEIC, true
	case "qt  ":
		return MOV, true
	}
	if slices.Contains(brands, "qt  ") {
		return MOV, true
	}
	// isom, iso2, mp41, mp42, M4V , 3gp4, ...: an MPEG-4 movie.
	return MP4, true
}

// Identity is what Identify tells about one file.
type Identity struct {
	Entry
	// ByExt is the entry of the file's extension (zero when unknown).
	ByExt Entry
	// Mismatch is set when the bytes name another format than the
	// extension; the file is then read by its bytes.
	Mismatch bool
}

// Identify names the format of the file at path from its first bytes head,
// falling back to the extension when the bytes are not recognised.
func Identify(path string, head []byte) (Identity, bool) {
	ext := filepath.Ext(path)
	byName, extOK := ByPath(path)
	f, ok := Sniff(head, ext)
	if !ok {
		if !extOK {
			return Identity{}, false
		}
		return Identity{Entry: byName, ByExt: byName}, true
	}
	e := *byFormat[f]
	id := Identity{Entry: e, ByExt: byName}
	// MP4 and MOV share a container (and .m4v/.mp4 carry either brand):
	// both read as video, no mismatch worth reporting. Same for the
	// HEIF family.
	if extOK && byName.Format != f && !sameFamily(byName.Format, f) {
		id.Mismatch = true
	}
	return id, true
}

func sameFamily(a, b Format) bool {
	fam := func(f Format) string {
		switch f {
		case MP4, MOV:
			return "bmff-video"
		case HEIC, AVIF:
			return "heif"
		}
		return string(f)
	}
	return fam(a) == fam(b)
}

// MismatchNote is the sentence status shows for a file whose bytes
// disagree with its extension.
func (id Identity) MismatchNote() string {
	if !id.Mismatch {
		return ""
	}
	return "extension " + id.ByExt.Exts[0] + " but the content is " + strings.ToUpper(string(id.Format)) + "; read as " + strings.ToUpper(string(id.Format))
}

// HasMotionPhotoXMP reports whether an XMP packet (or any bytes holding
// one) marks a Google/Samsung motion photo: GCamera:MotionPhoto="1",
// GCamera:MicroVideo="1" or a Container directory with a MotionPhoto item.
func HasMotionPhotoXMP(b []byte) bool {
	for _, s := range [][]byte{[]byte(`MotionPhoto="1"`), []byte(`MicroVideo="1"`), []byte(`<GCamera:MotionPhoto>1<`), []byte(`<GCamera:MicroVideo>1<`), []byte(`Item:Semantic="MotionPhoto"`)} {
		if bytes.Contains(b, s) {
			return true
		}
	}
	return false
}
