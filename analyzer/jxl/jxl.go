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
	m := gocv.NewMatWithSize(in.Height, in.Width, gocv.MatTypeCV8UC3)
	dst, err := m.DataPtrUint8()
	if err != nil || len(dst) < in.Width*in.Height*3 {
		m.Close()
		return gocv.NewMat(), in, fmt.Errorf("%w: Mat not continuous", ErrDecode)
	}
	C.faced_jxl_rgb_to_bgr(out, (*C.uint8_t)(unsafe.Pointer(&dst[0])), C.size_t(in.Width*in.Height))
	return m, in, nil
}
