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

// faced_jpeg_region decodes rows [y0, y1) and at least columns [x0, x1) of
// the JPEG in buf scaled by 1/denom, as BGR. It returns a malloc'ed buffer
// of (*rw) × (y1' - y0) pixels, where the columns start at *rx (aligned
// down to an iMCU boundary by libjpeg) and y1' = min(y1, output height);
// *ow × *oh is the size of the whole scaled image. NULL and msg on error.
static unsigned char *faced_jpeg_region(const unsigned char *buf, unsigned long len, int denom,
		int x0, int y0, int x1, int y1, int *rx, int *rw, int *rh, int *ow, int *oh, char *msg) {
	struct jpeg_decompress_struct cinfo;
	faced_jerr jerr;
	unsigned char *volatile out = NULL;
	cinfo.err = jpeg_std_error(&jerr.pub);
	jerr.pub.error_exit = faced_error_exit;
	jerr.pub.output_message = faced_output_message;
	jerr.msg[0] = 0;
	if (setjmp(jerr.jb)) {
		jpeg_destroy_decompress(&cinfo);
		free(out);
		strncpy(msg, jerr.msg, JMSG_LENGTH_MAX - 1);
		msg[JMSG_LENGTH_MAX - 1] = 0;
		return NULL;
	}
	jpeg_create_decompress(&cinfo);
	jpeg_mem_src(&cinfo, buf, len);
	jpeg_read_header(&cinfo, TRUE);
	if (cinfo.jpeg_color_space != JCS_YCbCr && cinfo.jpeg_color_space != JCS_GRAYSCALE && cinfo.jpeg_color_space != JCS_RGB) {
		jpeg_destroy_decompress(&cinfo);
		strcpy(msg, "colour space not handled by the region decoder");
		return NULL;
	}
	cinfo.scale_num = 1;
	cinfo.scale_denom = denom;
	cinfo.out_color_space = JCS_EXT_BGR;
	jpeg_start_decompress(&cinfo);
	*ow = cinfo.output_width;
	*oh = cinfo.output_height;
	if (x0 < 0) x0 = 0;
	if (y0 < 0) y0 = 0;
	if (x1 > (int)cinfo.output_width) x1 = cinfo.output_width;
	if (y1 > (int)cinfo.output_height) y1 = cinfo.output_height;
	if (x1 <= x0 || y1 <= y0) {
		jpeg_destroy_decompress(&cinfo);
		strcpy(msg, "empty region");
		return NULL;
	}
	JDIMENSION xoff = x0, w = x1 - x0;
	if (xoff > 0 || w < cinfo.output_width) {
		jpeg_crop_scanline(&cinfo, &xoff, &w);
	}
	if (y0 > 0) {
		jpeg_skip_scanlines(&cinfo, y0);
	}
	size_t stride = (size_t)cinfo.output_width * 3;
	out = malloc(stride * (size_t)(y1 - y0));
	if (!out) {
		jpeg_destroy_decompress(&cinfo);
		strcpy(msg, "out of memory");
		return NULL;
	}
	while ((int)cinfo.output_scanline < y1) {
		JSAMPROW row = out + stride * (cinfo.output_scanline - y0);
		if (jpeg_read_scanlines(&cinfo, &row, 1) != 1) {
			break;
		}
	}
	*rx = xoff;
	*rw = cinfo.output_width;
	*rh = cinfo.output_scanline - y0;
	jpeg_abort_decompress(&cinfo);
	jpeg_destroy_decompress(&cinfo);
	return out;
}
*/
import "C"

import (
	"errors"
	"image"
	"unsafe"

	"gocv.io/x/gocv"
)

// decodeJPEGRegion decodes at least the rectangle r (pixels of the image
// scaled by 1/denom, denom 1, 2, 4 or 8, in the stored frame) of the JPEG
// in buf. It returns the BGR pixels, the rectangle of the scaled image they
// cover (r widened to iMCU column boundaries, clamped to the image) and
// the size of the whole scaled image.
func decodeJPEGRegion(buf []byte, denom int, r image.Rectangle) (gocv.Mat, image.Rectangle, image.Point, error) {
	if len(buf) == 0 {
		return gocv.Mat{}, image.Rectangle{}, image.Point{}, errors.New("empty JPEG")
	}
	var rx, rw, rh, ow, oh C.int
	msg := (*C.char)(C.calloc(C.JMSG_LENGTH_MAX, 1))
	defer C.free(unsafe.Pointer(msg))
	// buf holds no Go pointers: libjpeg may read it during the call.
	out := C.faced_jpeg_region((*C.uchar)(unsafe.Pointer(&buf[0])), C.ulong(len(buf)), C.int(denom),
		C.int(r.Min.X), C.int(r.Min.Y), C.int(r.Max.X), C.int(r.Max.Y), &rx, &rw, &rh, &ow, &oh, msg)
	if out == nil {
		return gocv.Mat{}, image.Rectangle{}, image.Point{}, errors.New("JPEG region decode: " + C.GoString(msg))
	}
	defer C.free(unsafe.Pointer(out))
	if rw <= 0 || rh <= 0 {
		return gocv.Mat{}, image.Rectangle{}, image.Point{}, errors.New("JPEG region decode: no rows")
	}
	px := unsafe.Slice((*byte)(unsafe.Pointer(out)), int(rw)*int(rh)*3)
	m, err := gocv.NewMatFromBytes(int(rh), int(rw), gocv.MatTypeCV8UC3, px)
	if err != nil {
		return gocv.Mat{}, image.Rectangle{}, image.Point{}, err
	}
	c := m.Clone() // own the pixels before out is freed
	m.Close()
	y0 := max(0, r.Min.Y)
	return c, image.Rect(int(rx), y0, int(rx+rw), y0+int(rh)), image.Pt(int(ow), int(oh)), nil
}
