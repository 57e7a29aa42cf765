package analyzer

// A JPEG decoder for one rectangle of the image, through the system's
// libjpeg-turbo (the library OpenCV itself decodes JPEGs with): rows above
// the rectangle are skipped without colour conversion and upsampling, rows
// below are never decoded, and columns outside it are cropped before the
// inverse DCT (jpeg_skip_scanlines, jpeg_crop_scanline). Cutting the faces
// of a 12 MP photo from full resolution then costs a fraction of decoding
// the whole image again.

/*
#cgo LDFLAGS: -ljpeg
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>

typedef struct {
	struct jpeg_error_mgr pub;
	jmp_buf jb;
	char msg[JMSG_LENGTH_MAX];
} faced_jerr;

static void faced_error_exit(j_common_ptr c) {
	faced_jerr *e = (faced_jerr *)c->err;
	(*c->err->format_message)(c, e->msg);
	longjmp(e->jb, 1);
}

static void faced_output_message(j_common_ptr c) { (void)c; }

typedef struct {
	struct jpeg_decompress_struct cinfo;
	faced_jerr jerr;
	int y0, y1;
} faced_jdec;

static void faced_set_msg(char *msg, const char *m) {
	strncpy(msg, m, JMSG_LENGTH_MAX - 1);
	msg[JMSG_LENGTH_MAX - 1] = 0;
}

// faced_jpeg_open starts decoding rows [y0, y1) and at least columns
// [x0, x1) of the JPEG in buf scaled by 1/denom, as BGR. The region read
// will be *rw × *rh pixels whose columns start at *rx (aligned down to an
// iMCU boundary by libjpeg); *ow × *oh is the size of the whole scaled
// image. NULL and msg on error. buf must stay valid until faced_jpeg_read
// or faced_jpeg_close.
static faced_jdec *faced_jpeg_open(const unsigned char *buf, unsigned long len, int denom,
		int x0, int y0, int x1, int y1, int *rx, int *rw, int *rh, int *ow, int *oh, char *msg) {
	faced_jdec *d = calloc(1, sizeof(faced_jdec));
	if (!d) {
		faced_set_msg(msg, "out of memory");
		return NULL;
	}
	d->cinfo.err = jpeg_std_error(&d->jerr.pub);
	d->jerr.pub.error_exit = faced_error_exit;
	d->jerr.pub.output_message = faced_output_message;
	if (setjmp(d->jerr.jb)) {
		faced_set_msg(msg, d->jerr.msg);
		jpeg_destroy_decompress(&d->cinfo);
		free(d);
		return NULL;
	}
	jpeg_create_decompress(&d->cinfo);
	jpeg_mem_src(&d->cinfo, buf, len);
	jpeg_read_header(&d->cinfo, TRUE);
	if (d->cinfo.jpeg_color_space != JCS_YCbCr && d->cinfo.jpeg_color_space != JCS_GRAYSCALE && d->cinfo.jpeg_color_space != JCS_RGB) {
		faced_set_msg(msg, "colour space not handled by the region decoder");
		jpeg_destroy_decompress(&d->cinfo);
		free(d);
		return NULL;
	}
	d->cinfo.scale_num = 1;
	d->cinfo.scale_denom = denom;
	d->cinfo.out_color_space = JCS_EXT_BGR;
	jpeg_start_decompress(&d->cinfo);
	*ow = d->cinfo.output_width;
	*oh = d->cinfo.output_height;
	if (x0 < 0) x0 = 0;
	if (y0 < 0) y0 = 0;
	if (x1 > (int)d->cinfo.output_width) x1 = d->cinfo.output_width;
	if (y1 > (int)d->cinfo.output_height) y1 = d->cinfo.output_height;
	if (x1 <= x0 || y1 <= y0) {
		faced_set_msg(msg, "empty region");
		jpeg_destroy_decompress(&d->cinfo);
		free(d);
		return NULL;
	}
	JDIMENSION xoff = x0, w = x1 - x0;
	if (xoff > 0 || w < d->cinfo.output_width) {
		jpeg_crop_scanline(&d->cinfo, &xoff, &w);
	}
	if (y0 > 0) {
		jpeg_skip_scanlines(&d->cinfo, y0);
	}
	d->y0 = y0;
	d->y1 = y1;
	*rx = xoff;
	*rw = d->cinfo.output_width;
	*rh = y1 - y0;
	return d;
}

// faced_jpeg_read reads the region into out (rows of stride bytes, room
// for *rh rows), then frees d. It returns the rows read, -1 and msg on
// error.
static int faced_jpeg_read(faced_jdec *d, unsigned char *out, size_t stride, char *msg) {
	if (setjmp(d->jerr.jb)) {
		faced_set_msg(msg, d->jerr.msg);
		jpeg_destroy_decompress(&d->cinfo);
		free(d);
		return -1;
	}
	while ((int)d->cinfo.output_scanline < d->y1) {
		JSAMPROW row = out + stride * (d->cinfo.output_scanline - d->y0);
		if (jpeg_read_scanlines(&d->cinfo, &row, 1) != 1) {
			break;
		}
	}
	int n = d->cinfo.output_scanline - d->y0;
	jpeg_abort_decompress(&d->cinfo);
	jpeg_destroy_decompress(&d->cinfo);
	free(d);
	return n;
}

// faced_jpeg_close frees d without reading.
static void faced_jpeg_close(faced_jdec *d) {
	jpeg_destroy_decompress(&d->cinfo);
	free(d);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"image"
	"runtime"
	"unsafe"

	"gocv.io/x/gocv"
)

// decodeJPEGRegion decodes at least the rectangle r (pixels of the image
// scaled by 1/denom, denom 1, 2, 4 or 8, in the stored frame) of the JPEG
// in buf. It returns the BGR pixels, the rectangle of the scaled image they
// cover (r widened to iMCU column boundaries, clamped to the image) and
// the size of the whole scaled image. The pixels are those of OpenCV's
// decoder (same library and settings) up to the upsampling context at the
// region's edges.
func decodeJPEGRegion(buf []byte, denom int, r image.Rectangle) (gocv.Mat, image.Rectangle, image.Point, error) {
	fail := func(err error) (gocv.Mat, image.Rectangle, image.Point, error) {
		return gocv.Mat{}, image.Rectangle{}, image.Point{}, err
	}
	if len(buf) == 0 {
		return fail(errors.New("empty JPEG"))
	}
	var rx, rw, rh, ow, oh C.int
	msg := (*C.char)(C.calloc(C.JMSG_LENGTH_MAX, 1))
	defer C.free(unsafe.Pointer(msg))
	// libjpeg reads buf in place and keeps the pointer from open to read:
	// buf is pinned for that time (instead of copied to C memory).
	var pin runtime.Pinner
	pin.Pin(&buf[0])
	defer pin.Unpin()
	d := C.faced_jpeg_open((*C.uchar)(unsafe.Pointer(&buf[0])), C.ulong(len(buf)), C.int(denom),
		C.int(r.Min.X), C.int(r.Min.Y), C.int(r.Max.X), C.int(r.Max.Y), &rx, &rw, &rh, &ow, &oh, msg)
	if d == nil {
		return fail(errors.New("JPEG region decode: " + C.GoString(msg)))
	}
	if rw <= 0 || rh <= 0 {
		C.faced_jpeg_close(d)
		return fail(errors.New("JPEG region decode: empty region"))
	}
	m := gocv.NewMatWithSize(int(rh), int(rw), gocv.MatTypeCV8UC3)
	px, err := m.DataPtrUint8()
	if err != nil || len(px) < int(rw)*int(rh)*3 {
		m.Close()
		C.faced_jpeg_close(d)
		return fail(fmt.Errorf("JPEG region decode: output buffer: %v", err))
	}
	// px is Mat (C) memory, not Go memory.
	n := C.faced_jpeg_read(d, (*C.uchar)(unsafe.Pointer(&px[0])), C.size_t(int(rw)*3), msg)
	if n < 0 {
		m.Close()
		return fail(errors.New("JPEG region decode: " + C.GoString(msg)))
	}
	if int(n) < int(rh) { // data ended early: keep the rows read
		if n == 0 {
			m.Close()
			return fail(errors.New("JPEG region decode: no rows"))
		}
		reg := m.Region(image.Rect(0, 0, int(rw), int(n)))
		c := reg.Clone()
		reg.Close()
		m.Close()
		m, rh = c, n
	}
	y0 := max(0, r.Min.Y)
	return m, image.Rect(int(rx), y0, int(rx+rw), y0+int(rh)), image.Pt(int(ow), int(oh)), nil
}
