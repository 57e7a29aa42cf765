package media

import (
	"encoding/binary"
	"io"
)

// Motion photos: Google (MotionPhoto, earlier MicroVideo) and Samsung write
// a still (JPEG or HEIC) with a short MP4 after it, marked in the still's
// XMP (GCamera:MotionPhoto="1", GCamera:MicroVideo="1", or a Container
// directory naming the MotionPhoto item); Samsung's HEIC also keeps the
// video in a top-level mpvd box. faced analyses the still and records the
// file's kind as Motion.

// maxMotionScan bounds how much of a file IsMotionPhoto reads: the XMP of a
// JPEG sits in its header, a HEIC's in front of (Samsung) or inside its
// meta and mdat boxes, never after the still's boxes.
const maxMotionScan = 64 << 20

// IsMotionPhoto reports whether the JPEG or HEIC file r (size bytes) is a
// Google/Samsung motion photo. Other formats are never motion photos.
func IsMotionPhoto(r io.ReaderAt, size int64, f Format) (bool, error) {
	switch f {
	case JPEG:
		return jpegMotion(r, size)
	case HEIC:
		return heicMotion(r, size)
	}
	return false, nil
}

// jpegMotion looks for the motion photo XMP in the JPEG's marker segments
// before the first scan.
func jpegMotion(r io.ReaderAt, size int64) (bool, error) {
	// Each marker segment is read on its own: the header is usually a few
	// KB, and the APP1 holding XMP at most 64 KB.
	var hdr [4]byte
	for off := int64(2); off+4 <= min(size, 1<<24); {
		if _, err := r.ReadAt(hdr[:], off); err != nil {
			return false, err
		}
		m := hdr[1]
		if hdr[0] != 0xFF || m == 0xDA || m == 0xD9 {
			break
		}
		l := int64(binary.BigEndian.Uint16(hdr[2:]))
		if l < 2 || off+2+l > size {
			break
		}
		if m == 0xE1 {
			seg := make([]byte, l-2)
			if _, err := r.ReadAt(seg, off+4); err != nil && err != io.EOF {
				return false, err
			}
			if HasMotionPhotoXMP(seg) {
				return true, nil
			}
		}
		off += 2 + l
	}
	return false, nil
}

// heicMotion walks the HEIC's top-level boxes: a Samsung mpvd box, or the
// motion photo XMP anywhere in the boxes before it (or before a second
// ftyp: an MP4 appended to the file, as Google does).
func heicMotion(r io.ReaderAt, size int64) (bool, error) {
	var end int64
	var hdr [16]byte
	ftyps := 0
	for off := int64(0); off+8 <= size; {
		if _, err := r.ReadAt(hdr[:8], off); err != nil {
			return false, err
		}
		sz := int64(binary.BigEndian.Uint32(hdr[:4]))
		typ := string(hdr[4:8])
		switch sz {
		case 1:
			if _, err := r.ReadAt(hdr[8:16], off+8); err != nil {
				return false, err
			}
			sz = int64(binary.BigEndian.Uint64(hdr[8:16]))
		case 0:
			sz = size - off
		}
		if typ == "mpvd" {
			return true, nil
		}
		if typ == "ftyp" {
			ftyps++
		}
		if ftyps > 1 || sz < 8 || sz > size-off {
			break
		}
		off += sz
		end = off
	}
	buf := make([]byte, min(end, maxMotionScan))
	n, err := r.ReadAt(buf, 0)
	if err != nil && err != io.EOF {
		return false, err
	}
	return HasMotionPhotoXMP(buf[:n]), nil
}
