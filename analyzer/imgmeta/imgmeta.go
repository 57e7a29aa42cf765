// Package imgmeta reads what faced must know about a photo before decoding
// it: the container format (from the magic bytes, not the name), the stored
// pixel dimensions from the header (so decompression bombs are refused
// before any pixel buffer exists) and the EXIF Orientation tag (JPEG APP1,
// TIFF IFD0, PNG eXIf, WebP EXIF). It is pure Go and reads only headers.
package imgmeta

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/faced/faced/media"
)

// Sentinel kinds of header errors, for errors.Is.
var (
	// ErrUnsupported: the bytes are not a format faced decodes.
	ErrUnsupported = errors.New("unsupported format")
	// ErrCorrupt: the format is known but the header is broken or truncated.
	ErrCorrupt = errors.New("corrupt file")
)

// Format is an image container format (media's names).
type Format = media.Format

// Formats whose headers Read reads.
const (
	JPEG = media.JPEG
	PNG  = media.PNG
	TIFF = media.TIFF
	WebP = media.WebP
	BMP  = media.BMP
)

// Info is what the header says.
type Info struct {
	Format Format
	// Width and Height are the stored pixel dimensions.
	Width, Height int
	// Orientation is the EXIF Orientation (1..8); 1 when absent or invalid.
	Orientation int
	// OrientationTagged is true when the file carries a valid Orientation
	// tag (1..8), i.e. the camera or an editor recorded which way is up.
	OrientationTagged bool
	// CaptureTime is the EXIF DateTimeOriginal (else CreateDate, else IFD0
	// DateTime), read as UTC wall-clock time since EXIF stores no zone; zero
	// when the file has none.
	CaptureTime time.Time
}

// Sniff returns the format of a file from its first bytes when it is one
// whose header Read reads (media.Sniff names every format faced knows).
func Sniff(head []byte) (Format, bool) {
	f, ok := media.Sniff(head, "")
	switch f {
	case JPEG, PNG, TIFF, WebP, BMP:
		return f, ok
	}
	return "", false
}

// ReadFile reads the header of the file at path.
func ReadFile(path string) (Info, error) {
	f, err := os.Open(path)
	if err != nil {
		return Info{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Info{}, err
	}
	return Read(f, st.Size())
}

// Read reads the header of an image of the given size.
func Read(r io.ReaderAt, size int64) (Info, error) {
	head := make([]byte, media.HeadSize)
	n, _ := r.ReadAt(head, 0)
	head = head[:n]
	if n == 0 {
		return Info{}, fmt.Errorf("%w: empty file", ErrCorrupt)
	}
	f, ok := Sniff(head)
	if !ok {
		return Info{}, fmt.Errorf("%w: not a JPEG, PNG, TIFF, WebP or BMP file", ErrUnsupported)
	}
	info := Info{Format: f, Orientation: 1}
	var err error
	switch f {
	case JPEG:
		err = readJPEG(r, size, &info)
	case PNG:
		err = readPNG(r, size, &info)
	case TIFF:
		err = readTIFF(io.NewSectionReader(r, 0, size), &info, true)
	case WebP:
		err = readWebP(r, size, &info)
	case BMP:
		err = readBMP(head, &info)
	}
	if err != nil {
		return Info{}, err
	}
	if info.Width <= 0 || info.Height <= 0 {
		return Info{}, fmt.Errorf("%w: %s header gives no image size", ErrCorrupt, f)
	}
	if info.Orientation < 1 || info.Orientation > 8 {
		info.Orientation = 1
		info.OrientationTagged = false
	}
	return info, nil
}

func corrupt(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, a...))
}

func readAt(r io.ReaderAt, off int64, n int) ([]byte, error) {
	b := make([]byte, n)
	m, err := r.ReadAt(b, off)
	if m < n {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return b, nil
}

func readJPEG(r io.ReaderAt, size int64, info *Info) error {
	off := int64(2)
	for off < size {
		h, err := readAt(r, off, 4)
		if err != nil {
			return corrupt("JPEG truncated before its frame header")
		}
		if h[0] != 0xFF {
			return corrupt("JPEG marker expected at byte %d", off)
		}
		m := h[1]
		if m == 0xFF { // fill byte
			off++
			continue
		}
		if m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7) {
			off += 2
			continue
		}
		if m == 0xD9 || m == 0xDA {
			return corrupt("JPEG has no frame header before its image data")
		}
		l := int64(binary.BigEndian.Uint16(h[2:4]))
		if l < 2 {
			return corrupt("JPEG segment length %d at byte %d", l, off)
		}
		seg := off + 4
		switch {
		case m == 0xE1 && info.Orientation == 1 && l >= 8:
			b, err := readAt(r, seg, int(l-2))
			if err == nil && bytes.HasPrefix(b, []byte("Exif\x00\x00")) {
				_ = readTIFF(bytes.NewReader(b[6:]), info, false)
			}
		case m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC:
			b, err := readAt(r, seg, 5)
			if err != nil {
				return corrupt("JPEG frame header truncated")
			}
			info.Height = int(binary.BigEndian.Uint16(b[1:3]))
			info.Width = int(binary.BigEndian.Uint16(b[3:5]))
			return nil
		}
		off = seg + l - 2
	}
	return corrupt("JPEG truncated before its frame header")
}

func readPNG(r io.ReaderAt, size int64, info *Info) error {
	off := int64(8)
	first := true
	for off+8 <= size {
		h, err := readAt(r, off, 8)
		if err != nil {
			break
		}
		l := int64(binary.BigEndian.Uint32(h[:4]))
		typ := string(h[4:8])
		if first {
			if typ != "IHDR" || l < 8 {
				return corrupt("PNG does not start with IHDR")
			}
			b, err := readAt(r, off+8, 8)
			if err != nil {
				return corrupt("PNG IHDR truncated")
			}
			info.Width = int(binary.BigEndian.Uint32(b[:4]))
			info.Height = int(binary.BigEndian.Uint32(b[4:8]))
			if info.Width <= 0 || info.Height <= 0 || info.Width > 1<<30 || info.Height > 1<<30 {
				return corrupt("PNG IHDR size %dx%d", info.Width, info.Height)
			}
			first = false
		}
		switch typ {
		case "eXIf":
			if l < 1<<20 {
				if b, err := readAt(r, off+8, int(l)); err == nil {
					_ = readTIFF(bytes.NewReader(b), info, false)
				}
			}
			return nil
		case "IDAT", "IEND":
			return nil
		}
		off += 12 + l
	}
	if first {
		return corrupt("PNG truncated before IHDR")
	}
	return nil
}

func readWebP(r io.ReaderAt, size int64, info *Info) error {
	off := int64(12)
	for off+8 <= size {
		h, err := readAt(r, off, 8)
		if err != nil {
			break
		}
		typ := string(h[:4])
		l := int64(binary.LittleEndian.Uint32(h[4:8]))
		body := off + 8
		switch typ {
		case "VP8X":
			b, err := readAt(r, body, 10)
			if err != nil {
				return corrupt("WebP VP8X truncated")
			}
			info.Width = 1 + int(uint32(b[4])|uint32(b[5])<<8|uint32(b[6])<<16)
			info.Height = 1 + int(uint32(b[7])|uint32(b[8])<<8|uint32(b[9])<<16)
			if b[0]&0x08 == 0 { // no EXIF flag
				return nil
			}
		case "VP8 ":
			b, err := readAt(r, body, 10)
			if err != nil || b[3] != 0x9d || b[4] != 0x01 || b[5] != 0x2a {
				return corrupt("WebP VP8 frame header broken")
			}
			if info.Width == 0 {
				info.Width = int(binary.LittleEndian.Uint16(b[6:8]) & 0x3fff)
				info.Height = int(binary.LittleEndian.Uint16(b[8:10]) & 0x3fff)
			}
		case "VP8L":
			b, err := readAt(r, body, 5)
			if err != nil || b[0] != 0x2f {
				return corrupt("WebP VP8L header broken")
			}
			if info.Width == 0 {
				v := binary.LittleEndian.Uint32(b[1:5])
				info.Width = int(v&0x3fff) + 1
				info.Height = int((v>>14)&0x3fff) + 1
			}
		case "EXIF":
			if l < 1<<20 {
				if b, err := readAt(r, body, int(l)); err == nil {
					b = bytes.TrimPrefix(b, []byte("Exif\x00\x00"))
					_ = readTIFF(bytes.NewReader(b), info, false)
				}
			}
			return nil
		}
		off = body + l + l%2
	}
	if info.Width == 0 {
		return corrupt("WebP has no image chunk")
	}
	return nil
}

func readBMP(head []byte, info *Info) error {
	if len(head) < 26 {
		return corrupt("BMP header truncated")
	}
	hs := binary.LittleEndian.Uint32(head[14:18])
	if hs == 12 {
		info.Width = int(binary.LittleEndian.Uint16(head[18:20]))
		info.Height = int(binary.LittleEndian.Uint16(head[20:22]))
		return nil
	}
	w := int32(binary.LittleEndian.Uint32(head[18:22]))
	h := int32(binary.LittleEndian.Uint32(head[22:26]))
	if h < 0 {
		h = -h
	}
	info.Width, info.Height = int(w), int(h)
	return nil
}

// readTIFF reads IFD0 of a TIFF structure: Orientation (0x0112) and, when
// dims is set (a TIFF file rather than an EXIF block), ImageWidth (0x0100)
// and ImageLength (0x0101).
func readTIFF(r io.ReaderAt, info *Info, dims bool) error {
	h, err := readAt(r, 0, 8)
	if err != nil {
		return corrupt("TIFF header truncated")
	}
	var bo binary.ByteOrder
	switch string(h[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return corrupt("TIFF byte order mark missing")
	}
	if bo.Uint16(h[2:4]) != 42 {
		return corrupt("TIFF magic number missing")
	}
	ifd := int64(bo.Uint32(h[4:8]))
	nb, err := readAt(r, ifd, 2)
	if err != nil {
		return corrupt("TIFF IFD0 out of the file")
	}
	n := int(bo.Uint16(nb))
	if n > 4096 {
		return corrupt("TIFF IFD0 claims %d entries", n)
	}
	ents, err := readAt(r, ifd+2, 12*n)
	if err != nil {
		return corrupt("TIFF IFD0 truncated")
	}
	var exifIFD int64
	var dateTime time.Time
	defer func() {
		info.CaptureTime = dateTime
		if exifIFD > 0 {
			if t := exifDateOriginal(r, bo, exifIFD); !t.IsZero() {
				info.CaptureTime = t
			}
		}
	}()
	for i := 0; i < n; i++ {
		e := ents[12*i : 12*i+12]
		tag, typ := bo.Uint16(e[:2]), bo.Uint16(e[2:4])
		if tag == 0x0132 {
			dateTime = exifTime(r, bo, e)
			continue
		}
		var v int
		switch typ {
		case 3: // SHORT
			v = int(bo.Uint16(e[8:10]))
		case 4: // LONG
			v = int(bo.Uint32(e[8:12]))
		default:
			continue
		}
		switch tag {
		case 0x8769:
			exifIFD = int64(v)
		case 0x0112:
			info.Orientation = v
			info.OrientationTagged = v >= 1 && v <= 8
		case 0x0100:
			if dims {
				info.Width = v
			}
		case 0x0101:
			if dims {
				info.Height = v
			}
		}
	}
	return nil
}

// exifDateOriginal returns DateTimeOriginal (0x9003), else CreateDate
// (0x9004), from the EXIF sub-IFD at off; zero when absent or unreadable.
func exifDateOriginal(r io.ReaderAt, bo binary.ByteOrder, off int64) time.Time {
	nb, err := readAt(r, off, 2)
	if err != nil {
		return time.Time{}
	}
	n := int(bo.Uint16(nb))
	if n > 4096 {
		return time.Time{}
	}
	ents, err := readAt(r, off+2, 12*n)
	if err != nil {
		return time.Time{}
	}
	var created time.Time
	for i := 0; i < n; i++ {
		e := ents[12*i : 12*i+12]
		switch bo.Uint16(e[:2]) {
		case 0x9003:
			if t := exifTime(r, bo, e); !t.IsZero() {
				return t
			}
		case 0x9004:
			created = exifTime(r, bo, e)
		}
	}
	return created
}

// exifTime decodes an ASCII "YYYY:MM:DD HH:MM:SS" entry (or its ISO 8601
// spelling, zone ignored: wall-clock time as exiftool -d shows it); zero
// when it is not one (cameras write blanks or zeros when the clock was never set).
func exifTime(r io.ReaderAt, bo binary.ByteOrder, e []byte) time.Time {
	if bo.Uint16(e[2:4]) != 2 { // ASCII
		return time.Time{}
	}
	cnt := int(bo.Uint32(e[4:8]))
	if cnt < 19 || cnt > 64 {
		return time.Time{}
	}
	b, err := readAt(r, int64(bo.Uint32(e[8:12])), 19)
	if err != nil {
		return time.Time{}
	}
	t, err := time.Parse("2006:01:02 15:04:05", string(b))
	if err != nil { // some tools write ISO 8601 instead, zone after the 19 characters
		t, err = time.Parse("2006-01-02T15:04:05", string(b))
	}
	if err != nil || t.Year() < 1826 {
		return time.Time{}
	}
	return t
}

// JPEGComplete reports whether a whole JPEG held in memory reaches its End
// Of Image marker after the start of its entropy-coded data. libjpeg
// decodes a truncated file "successfully" (the missing rows grey), so this
// is how a cut-off download is told from a photo. In entropy-coded data a
// 0xFF byte is always stuffed (FF 00) or a restart marker, so the first
// FF D9 after the first Start Of Scan is the real EOI.
func JPEGComplete(b []byte) bool {
	off := 2
	for off+4 <= len(b) {
		if b[off] != 0xFF {
			return false
		}
		m := b[off+1]
		if m == 0xFF {
			off++
			continue
		}
		if m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7) {
			off += 2
			continue
		}
		l := int(binary.BigEndian.Uint16(b[off+2 : off+4]))
		if m == 0xDA {
			return bytes.Contains(b[off+2+l:], []byte{0xFF, 0xD9})
		}
		if m == 0xD9 {
			return false
		}
		off += 2 + l
	}
	return false
}

// FromEXIF reads the Orientation and capture time of an Exif block given
// from its TIFF header on (HEIF's Exif item, a raw file's IFD0); Width and
// Height stay 0. Orientation is 1 when absent or invalid.
func FromEXIF(tiff []byte) Info {
	info := Info{Orientation: 1}
	if len(tiff) >= 8 {
		_ = readTIFF(bytes.NewReader(tiff), &info, false)
	}
	if info.Orientation < 1 || info.Orientation > 8 {
		info.Orientation, info.OrientationTagged = 1, false
	}
	return info
}

// FromEXIFReader is FromEXIF reading the TIFF structure through r.
func FromEXIFReader(r io.ReaderAt) Info {
	info := Info{Orientation: 1}
	_ = readTIFF(r, &info, false)
	if info.Orientation < 1 || info.Orientation > 8 {
		info.Orientation, info.OrientationTagged = 1, false
	}
	return info
}
