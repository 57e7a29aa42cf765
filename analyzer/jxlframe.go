package analyzer

import (
	"encoding/binary"

	"github.com/faced/faced/analyzer/imgmeta"
)

// jxlStoredFrame names the frame a JPEG XL file's sidecar regions are given
// in, for an upright (decoded and oriented) image of w×h: readers show JPEG
// XL upright (libjxl applies the codestream's orientation) and turn MWG
// regions only by the EXIF Orientation exiftool reads, which comes from
// the file's Exif box and never from the codestream. So with an Exif
// Orientation the regions are in the upright image turned back by it, as
// for HEIF; without one (cjxl 0.7 writes none) in the upright frame with
// orientation 1. Regions given in the coded frame with the codestream's
// orientation landed sideways in Immich and exiftool.
func jxlStoredFrame(buf []byte, w, h int) (o, sw, sh int, ex imgmeta.Info) {
	ex = imgmeta.FromEXIF(jxlExif(buf))
	if ex.OrientationTagged && ex.Orientation != 1 {
		sw, sh = imgmeta.UprightSize(ex.Orientation, w, h)
		return ex.Orientation, sw, sh, ex
	}
	return 1, w, h, ex
}

// jxlExif returns the TIFF data of a JPEG XL container's Exif box (a 4-byte
// offset to the TIFF header, then the data), or nil: a bare codestream has
// no boxes, and a Brotli-compressed box (brob) is not read. exiftool
// appends the box after the codestream, so every box is looked at.
func jxlExif(b []byte) []byte {
	if len(b) < 12 || string(b[4:8]) != "JXL " {
		return nil
	}
	for off := 0; off+8 <= len(b); {
		size := uint64(binary.BigEndian.Uint32(b[off:]))
		typ := string(b[off+4 : off+8])
		hdr := uint64(8)
		switch size {
		case 1:
			if off+16 > len(b) {
				return nil
			}
			size, hdr = binary.BigEndian.Uint64(b[off+8:]), 16
		case 0:
			size = uint64(len(b) - off)
		}
		if size < hdr || size > uint64(len(b)-off) {
			return nil
		}
		body := b[off+int(hdr) : off+int(size)]
		if typ == "Exif" {
			if len(body) < 4 {
				return nil
			}
			skip := uint64(binary.BigEndian.Uint32(body))
			if 4+skip > uint64(len(body)) {
				return nil
			}
			return body[4+skip:]
		}
		off += int(size)
	}
	return nil
}
