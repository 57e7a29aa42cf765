// Package rawpreview finds the JPEG previews camera raw files carry (DNG,
// CR2, CR3, NEF, NRW, ARW, RAF, ORF, RW2, PEF, SRW) and the orientation the
// camera recorded, without decoding the raw sensor data.
//
// Every raw format faced reads stores its previews as complete baseline
// JPEG streams: in TIFF IFDs (JpgFromRaw, PreviewImage, OtherImage; CR2,
// DNG, NEF, ARW, PEF, SRW), in a TIFF-like IFD0 tag (RW2's JpgFromRaw), at
// a header offset (RAF) or in ISO BMFF boxes and the first track (CR3's PRVW
// and full-size JPEG). Rather than one parser per container, Find walks the
// file for JPEG streams: every SOI, its marker segments up to the frame
// header (SOF0-2: baseline or progressive; the lossless SOF3 streams holding
// CR2 and DNG sensor data are not previews) and its end of image, and keeps
// the largest. A stream is accepted only when its segments parse, so the
// random FF D8 FF inside compressed sensor data (about one per 16 MB) does
// not pass.
package rawpreview

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"

	"github.com/faced/faced/analyzer/imgmeta"
)

// ErrNoPreview: the file holds no usable JPEG preview.
var ErrNoPreview = errors.New("no embedded JPEG preview")

// Preview is one embedded JPEG stream.
type Preview struct {
	// Offset and Length locate the stream in the file.
	Offset, Length int
	// Width and Height are the stored dimensions of the JPEG.
	Width, Height int
}

// Bytes returns the preview's bytes inside file (no copy).
func (p Preview) Bytes(file []byte) []byte { return file[p.Offset : p.Offset+p.Length] }

// All returns the JPEG streams embedded in file, in file order.
func All(file []byte) []Preview {
	var out []Preview
	soi := []byte{0xFF, 0xD8, 0xFF}
	for off := 0; off < len(file); {
		i := bytes.Index(file[off:], soi)
		if i < 0 {
			break
		}
		start := off + i
		if p, ok := parse(file, start); ok {
			out = append(out, p)
			// Thumbnails inside this stream's APP1 are smaller: skip them.
			off = p.Offset + p.Length
			continue
		}
		off = start + 2
	}
	return out
}

// Largest returns the largest embedded JPEG (by pixels).
func Largest(file []byte) (Preview, error) {
	var best Preview
	for _, p := range All(file) {
		if p.Width*p.Height > best.Width*best.Height {
			best = p
		}
	}
	if best.Length == 0 {
		return best, ErrNoPreview
	}
	return best, nil
}

// parse reads the JPEG stream starting at file[start] (an SOI).
func parse(file []byte, start int) (Preview, bool) {
	off := start + 2
	p := Preview{Offset: start}
	for off+4 <= len(file) {
		if file[off] != 0xFF {
			return p, false
		}
		m := file[off+1]
		if m == 0xFF {
			off++
			continue
		}
		if m == 0xD8 || m == 0xD9 || m == 0x01 || (m >= 0xD0 && m <= 0xD7) {
			return p, false // no SOI, EOI or RST before the scan
		}
		l := int(binary.BigEndian.Uint16(file[off+2 : off+4]))
		if l < 2 || off+2+l > len(file) {
			return p, false
		}
		switch {
		case m == 0xC0 || m == 0xC1 || m == 0xC2:
			if l < 8 {
				return p, false
			}
			p.Height = int(binary.BigEndian.Uint16(file[off+5 : off+7]))
			p.Width = int(binary.BigEndian.Uint16(file[off+7 : off+9]))
			if p.Width == 0 || p.Height == 0 {
				return p, false
			}
		case m >= 0xC3 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC:
			return p, false // lossless or arithmetic: sensor data, not a preview
		case m == 0xDA:
			if p.Width == 0 {
				return p, false
			}
			// Inside entropy-coded data FF is followed by 00 or RSTn:
			// the first FF D9 ends the image.
			e := bytes.Index(file[off+2+l:], []byte{0xFF, 0xD9})
			if e < 0 {
				return p, false
			}
			p.Length = off + 2 + l + e + 2 - start
			return p, true
		}
		off += 2 + l
	}
	return p, false
}

// Orientation returns the EXIF Orientation the raw container records for
// its image (1..8, tagged) — IFD0 of TIFF-based files (including ORF's and
// RW2's own header magic), CR3's CMT1 box — or (1, false).
func Orientation(file []byte) (int, bool) {
	if len(file) < 16 {
		return 1, false
	}
	var tiff io.ReaderAt
	switch {
	case bytes.HasPrefix(file, []byte("II*\x00")) || bytes.HasPrefix(file, []byte("MM\x00*")):
		tiff = bytes.NewReader(file)
	case bytes.HasPrefix(file, []byte("IIRO")) || bytes.HasPrefix(file, []byte("IIRS")) || bytes.HasPrefix(file, []byte("IIU\x00")):
		tiff = patched{file, []byte("II*\x00")}
	case bytes.HasPrefix(file, []byte("MMOR")):
		tiff = patched{file, []byte("MM\x00*")}
	case string(file[4:8]) == "ftyp":
		if c := cr3Box(file, "CMT1"); c != nil {
			tiff = bytes.NewReader(c)
		}
	}
	if tiff == nil {
		return 1, false
	}
	info := imgmeta.FromEXIFReader(tiff)
	return info.Orientation, info.OrientationTagged
}

// patched is file with its first bytes replaced by head.
type patched struct {
	file, head []byte
}

func (p patched) ReadAt(b []byte, off int64) (int, error) {
	if off >= int64(len(p.file)) {
		return 0, io.EOF
	}
	n := copy(b, p.file[off:])
	for i := 0; i < n; i++ {
		if o := off + int64(i); o < int64(len(p.head)) {
			b[i] = p.head[o]
		}
	}
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

// cr3Box returns the payload of the first box of type typ inside CR3's
// moov/uuid(Canon) box.
func cr3Box(file []byte, typ string) []byte {
	var find func(b []byte, depth int) []byte
	find = func(b []byte, depth int) []byte {
		for off := 0; off+8 <= len(b); {
			size := int(binary.BigEndian.Uint32(b[off:]))
			t := string(b[off+4 : off+8])
			hdr := 8
			if size == 1 && off+16 <= len(b) {
				size, hdr = int(binary.BigEndian.Uint64(b[off+8:])), 16
			}
			if size == 0 {
				size = len(b) - off
			}
			if size < hdr || off+size > len(b) || size < 0 {
				return nil
			}
			body := b[off+hdr : off+size]
			if t == typ {
				return body
			}
			if depth < 3 && (t == "moov" || t == "uuid") {
				inner := body
				if t == "uuid" && len(inner) >= 16 {
					inner = inner[16:]
				}
				if r := find(inner, depth+1); r != nil {
					return r
				}
			}
			off += size
		}
		return nil
	}
	return find(file, 0)
}
