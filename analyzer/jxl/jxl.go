// Package jxl is a thin cgo binding of libjxl's decoder (Debian libjxl 0.7):
// a JPEG XL file to 8-bit BGR pixels as stored, with the codestream's
// orientation (the caller turns them upright), alpha dropped.
package jxl

/*
#cgo pkg-config: libjxl
#include <stdlib.h>
#include <jxl/decode.h>

// faced_jxl_decode decodes data into a malloc'd RGB buffer (*out, the
// caller frees it); returns 0 on success, or the JxlDecoderStatus step
// that failed (negative: allocation).
static int faced_jxl_decode(const uint8_t* data, size_t size, int max_pixels_mp,
		uint8_t** out, uint32_t* w, uint32_t* h, uint32_t* xsize, uint32_t* ysize, int* orientation) {
	*out = NULL;
	JxlDecoder* dec = JxlDecoderCreate(NULL);
	if (!dec) return -1;
	int rc = 0;
	if (JxlDecoderSubscribeEvents(dec, JXL_DEC_BASIC_INFO | JXL_DEC_FULL_IMAGE) != JXL_DEC_SUCCESS) { rc = 1; goto done; }
	if (JxlDecoderSetInput(dec, data, size) != JXL_DEC_SUCCESS) { rc = 2; goto done; }
	JxlDecoderCloseInput(dec);
	// The stored pixels and their orientation: faced turns them upright
	// itself and needs the orientation for the stored frame of regions.
	if (JxlDecoderSetKeepOrientation(dec, JXL_TRUE) != JXL_DEC_SUCCESS) { rc = 10; goto done; }
	JxlPixelFormat fmt = {3, JXL_TYPE_UINT8, JXL_NATIVE_ENDIAN, 0};
	JxlBasicInfo info;
	for (;;) {
		JxlDecoderStatus st = JxlDecoderProcessInput(dec);
		if (st == JXL_DEC_ERROR) { rc = 3; goto done; }
		if (st == JXL_DEC_NEED_MORE_INPUT) { rc = 4; goto done; }
		if (st == JXL_DEC_BASIC_INFO) {
			if (JxlDecoderGetBasicInfo(dec, &info) != JXL_DEC_SUCCESS) { rc = 5; goto done; }
			*xsize = info.xsize;
			*ysize = info.ysize;
			*orientation = (int)info.orientation;
			if ((double)info.xsize * (double)info.ysize > (double)max_pixels_mp * 1e6) { rc = 6; goto done; }
			*w = info.xsize;
			*h = info.ysize;
		} else if (st == JXL_DEC_NEED_IMAGE_OUT_BUFFER) {
			size_t n;
			if (JxlDecoderImageOutBufferSize(dec, &fmt, &n) != JXL_DEC_SUCCESS) { rc = 7; goto done; }
			*out = (uint8_t*)malloc(n);
			if (!*out) { rc = -2; goto done; }
			if (JxlDecoderSetImageOutBuffer(dec, &fmt, *out, n) != JXL_DEC_SUCCESS) { rc = 8; goto done; }
		} else if (st == JXL_DEC_FULL_IMAGE) {
			// One frame is enough (an animation's first).
			break;
		} else if (st == JXL_DEC_SUCCESS) {
			if (!*out) rc = 9;
			break;
		}
	}
done:
	JxlDecoderDestroy(dec);
	if (rc != 0 && *out) { free(*out); *out = NULL; }
	return rc;
}

// faced_jxl_jpeg reconstructs the JPEG a JPEG XL file was transcoded
// from (its jbrd box) into a malloc'd buffer (*out, *outlen; the caller
// frees it), without decoding pixels; *orientation is the codestream's.
// Returns 0 on success, 1 when the file holds no JPEG reconstruction
// data, 2 when the JPEG would exceed max_bytes, negative on errors.
static int faced_jxl_jpeg(const uint8_t* data, size_t size, size_t max_bytes, uint8_t** out, size_t* outlen, int* orientation) {
	*out = NULL;
	*outlen = 0;
	JxlDecoder* dec = JxlDecoderCreate(NULL);
	if (!dec) return -1;
	int rc = -2;
	size_t cap = 0;
	if (JxlDecoderSubscribeEvents(dec, JXL_DEC_BASIC_INFO | JXL_DEC_JPEG_RECONSTRUCTION | JXL_DEC_FULL_IMAGE) != JXL_DEC_SUCCESS) goto done;
	// Without it basic info reports the identity orientation.
	if (JxlDecoderSetKeepOrientation(dec, JXL_TRUE) != JXL_DEC_SUCCESS) goto done;
	if (JxlDecoderSetInput(dec, data, size) != JXL_DEC_SUCCESS) goto done;
	JxlDecoderCloseInput(dec);
	for (;;) {
		JxlDecoderStatus st = JxlDecoderProcessInput(dec);
		if (st == JXL_DEC_BASIC_INFO) {
			JxlBasicInfo info;
			if (JxlDecoderGetBasicInfo(dec, &info) != JXL_DEC_SUCCESS) goto done;
			*orientation = (int)info.orientation;
		} else if (st == JXL_DEC_JPEG_RECONSTRUCTION) {
			// The JPEG is about the size of the JPEG XL file; grown below.
			cap = size + size / 4 + 65536;
			if (cap > max_bytes) cap = max_bytes;
			*out = malloc(cap);
			if (!*out) goto done;
			if (JxlDecoderSetJPEGBuffer(dec, *out, cap) != JXL_DEC_SUCCESS) goto done;
		} else if (st == JXL_DEC_JPEG_NEED_MORE_OUTPUT) {
			size_t used = cap - JxlDecoderReleaseJPEGBuffer(dec);
			if (cap >= max_bytes) {
				rc = 2;
				goto done;
			}
			size_t ncap = cap * 2 > max_bytes ? max_bytes : cap * 2;
			uint8_t* b = realloc(*out, ncap);
			if (!b) goto done;
			*out = b;
			cap = ncap;
			if (JxlDecoderSetJPEGBuffer(dec, *out + used, cap - used) != JXL_DEC_SUCCESS) goto done;
		} else if (st == JXL_DEC_NEED_IMAGE_OUT_BUFFER) {
			// Pixels wanted: no reconstruction data.
			rc = 1;
			goto done;
		} else if (st == JXL_DEC_FULL_IMAGE || st == JXL_DEC_SUCCESS) {
			if (!*out) {
				rc = 1;
				goto done;
			}
			*outlen = cap - JxlDecoderReleaseJPEGBuffer(dec);
			rc = 0;
			goto done;
		} else if (st == JXL_DEC_ERROR || st == JXL_DEC_NEED_MORE_INPUT) {
			rc = -3;
			goto done;
		}
	}
done:
	JxlDecoderDestroy(dec);
	if (rc != 0 && *out) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

static void faced_jxl_rgb_to_bgr(const uint8_t* src, uint8_t* dst, size_t n) {
	for (size_t i = 0; i < n; i++) {
		dst[3*i] = src[3*i+2];
		dst[3*i+1] = src[3*i+1];
		dst[3*i+2] = src[3*i];
	}
}
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"

	"gocv.io/x/gocv"
)

var (
	// ErrDecode: not a JPEG XL file libjxl decodes (damaged, truncated).
	ErrDecode = errors.New("cannot decode JPEG XL")
	// ErrTooLarge: more pixels than the caller allows.
	ErrTooLarge = errors.New("JPEG XL image too large")
)

// Info describes a decoded image.
type Info struct {
	// Width and Height are the stored dimensions (the Mat's), before
	// the orientation.
	Width, Height int
	// Orientation is the codestream's orientation (EXIF values 1-8).
	Orientation int
}

// Decode decodes the first frame of the JPEG XL file buf into an 8-bit BGR
// Mat of the stored pixels (the caller closes it), refusing images of more than
// maxMP megapixels before any pixel buffer is allocated.
func Decode(buf []byte, maxMP int) (gocv.Mat, Info, error) {
	if len(buf) == 0 {
		return gocv.NewMat(), Info{}, fmt.Errorf("%w: empty file", ErrDecode)
	}
	var out *C.uint8_t
	var w, h, xs, ys C.uint32_t
	var o C.int
	rc := C.faced_jxl_decode((*C.uint8_t)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)), C.int(maxMP), &out, &w, &h, &xs, &ys, &o)
	in := Info{Width: int(w), Height: int(h), Orientation: int(o)}
	if in.Orientation < 1 || in.Orientation > 8 {
		in.Orientation = 1
	}
	switch {
	case rc == 6:
		return gocv.NewMat(), in, fmt.Errorf("%w: %dx%d", ErrTooLarge, int(xs), int(ys))
	case rc != 0:
		return gocv.NewMat(), in, fmt.Errorf("%w (libjxl step %d)", ErrDecode, int(rc))
	}
	defer C.free(unsafe.Pointer(out))
	// Not NewMatWithSize, which zeroes it first: every byte is written below.
	m := gocv.NewMatWithSizes([]int{in.Height, in.Width}, gocv.MatTypeCV8UC3)
	dst, err := m.DataPtrUint8()
	if err != nil || len(dst) < in.Width*in.Height*3 {
		m.Close()
		return gocv.NewMat(), in, fmt.Errorf("%w: Mat not continuous", ErrDecode)
	}
	C.faced_jxl_rgb_to_bgr(out, (*C.uint8_t)(unsafe.Pointer(&dst[0])), C.size_t(in.Width*in.Height))
	return m, in, nil
}

// JPEG returns the JPEG the JPEG XL file buf was losslessly transcoded from
// (cjxl's default for a JPEG input, what converting a photo library makes),
// reconstructed bit for bit from its jbrd box without decoding pixels, and
// the codestream's orientation; release frees the bytes (C memory). ok is
// false, with no error, when the file holds no reconstruction data (an
// image encoded from pixels): decode it with Decode. A JPEG larger than
// maxBytes is refused with ErrTooLarge.
func JPEG(buf []byte, maxBytes int) (jpeg []byte, orientation int, release func(), ok bool, err error) {
	release = func() {}
	if len(buf) == 0 {
		return nil, 1, release, false, fmt.Errorf("%w: empty file", ErrDecode)
	}
	var out *C.uint8_t
	var n C.size_t
	o := C.int(1)
	rc := C.faced_jxl_jpeg((*C.uint8_t)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)), C.size_t(maxBytes), &out, &n, &o)
	orientation = int(o)
	if orientation < 1 || orientation > 8 {
		orientation = 1
	}
	switch {
	case rc == 1:
		return nil, orientation, release, false, nil
	case rc == 2:
		return nil, orientation, release, false, fmt.Errorf("%w: reconstructed JPEG over %d bytes", ErrTooLarge, maxBytes)
	case rc != 0 || out == nil:
		return nil, orientation, release, false, fmt.Errorf("%w (JPEG reconstruction step %d)", ErrDecode, int(rc))
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(out)), int(n)), orientation, func() { C.free(unsafe.Pointer(out)) }, true, nil
}
