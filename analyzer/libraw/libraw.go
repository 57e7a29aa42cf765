// Package libraw decodes camera raw sensor data with LibRaw (Debian
// libraw-dev 0.20), for the raws whose embedded JPEG previews are too small
// to find faces in. It decodes at half size (each 2×2 Bayer block one
// pixel: no interpolation, a quarter of the pixels, enough for detection),
// with the camera's white balance, and leaves the image in its stored
// (sensor) frame: the orientation LibRaw read (its flip) is returned as an
// EXIF orientation for the caller to apply, as for a JPEG.
package libraw

/*
#cgo pkg-config: libraw_r
#include <stdlib.h>
#include <libraw/libraw.h>

static void faced_libraw_params(libraw_data_t *lr) {
	lr->params.half_size = 1;
	lr->params.use_camera_wb = 1;
	lr->params.output_bps = 8;
	lr->params.user_flip = 0;   // keep the stored frame: the caller turns it
	lr->params.output_color = 1; // sRGB
}
// faced_data_error records the first data error LibRaw meets (corrupt or
// truncated sensor data: offset, -1 at end of file) instead of printing it.
static void faced_data_error(void *data, const char *file, const int offset) {
	int *first = (int *)data;
	if (first[0] == 0) {
		first[0] = 1;
		first[1] = offset;
	}
}
static void faced_libraw_silence(libraw_data_t *lr, int *errs) {
	libraw_set_dataerror_handler(lr, faced_data_error, errs);
}
static int faced_libraw_flip(libraw_data_t *lr) { return lr->sizes.flip; }
static int faced_libraw_w(libraw_data_t *lr) { return lr->sizes.width; }
static int faced_libraw_h(libraw_data_t *lr) { return lr->sizes.height; }
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"gocv.io/x/gocv"
)

// ErrDecode: LibRaw could not read the file; the message names why.
var ErrDecode = errors.New("libraw")

// ErrTooLarge: the sensor has more pixels than the caller allows.
var ErrTooLarge = errors.New("raw image too large")

// Info describes a decoded raw.
type Info struct {
	// Width and Height are the decoded (half-size, stored-frame) image's.
	Width, Height int
	// FullWidth and FullHeight are the developed image's size (LibRaw's
	// visible area), before the orientation.
	FullWidth, FullHeight int
	// Orientation is LibRaw's flip as an EXIF orientation (1-8).
	Orientation int
}

// flipToEXIF maps dcraw's flip bits (1: mirror columns, 2: mirror rows, 4:
// transpose) to EXIF orientations; dcraw reads EXIF o as "50132467"[o].
var flipToEXIF = [8]int{1, 2, 4, 3, 5, 8, 6, 7}

func lrErr(code C.int, what string) error {
	return fmt.Errorf("%w: %s: %s", ErrDecode, what, C.GoString(C.libraw_strerror(code)))
}

// Decode decodes the raw file buf at half size into an 8-bit BGR Mat in
// the stored frame (the caller closes it), refusing a sensor of more than
// maxMP megapixels before the sensor data is unpacked.
func Decode(buf []byte, maxMP int) (gocv.Mat, Info, error) {
	var in Info
	if len(buf) == 0 {
		return gocv.NewMat(), in, fmt.Errorf("%w: empty file", ErrDecode)
	}
	lr := C.libraw_init(0)
	if lr == nil {
		return gocv.NewMat(), in, fmt.Errorf("%w: libraw_init failed", ErrDecode)
	}
	defer C.libraw_close(lr)
	C.faced_libraw_params(lr)
	errs := (*[2]C.int)(C.calloc(2, C.sizeof_int))
	defer C.free(unsafe.Pointer(errs))
	C.faced_libraw_silence(lr, &errs[0])
	// LibRaw reads the buffer in place until libraw_close: pinned, not
	// copied (a raw is 20-80 MB, usually a mapped file).
	var pin runtime.Pinner
	pin.Pin(&buf[0])
	defer pin.Unpin()
	if rc := C.libraw_open_buffer(lr, unsafe.Pointer(&buf[0]), C.size_t(len(buf))); rc != 0 {
		return gocv.NewMat(), in, lrErr(rc, "open")
	}
	in.FullWidth, in.FullHeight = int(C.faced_libraw_w(lr)), int(C.faced_libraw_h(lr))
	if in.FullWidth <= 0 || in.FullHeight <= 0 {
		return gocv.NewMat(), in, fmt.Errorf("%w: no image size", ErrDecode)
	}
	if mp := float64(in.FullWidth) * float64(in.FullHeight) / 1e6; maxMP > 0 && mp > float64(maxMP) {
		return gocv.NewMat(), in, fmt.Errorf("%w: %dx%d", ErrTooLarge, in.FullWidth, in.FullHeight)
	}
	if err := holdsSensor(len(buf), in.FullWidth, in.FullHeight); err != nil {
		return gocv.NewMat(), in, err
	}
	in.Orientation = flipToEXIF[int(C.faced_libraw_flip(lr))&7]
	if rc := C.libraw_unpack(lr); rc != 0 {
		return gocv.NewMat(), in, lrErr(rc, "unpack")
	}
	if rc := C.libraw_dcraw_process(lr); rc != 0 {
		return gocv.NewMat(), in, lrErr(rc, "process")
	}
	if errs[0] != 0 {
		// LibRaw goes on after a data error and returns whatever it
		// decoded (often a blank frame): no image to find faces in.
		if errs[1] < 0 {
			return gocv.NewMat(), in, fmt.Errorf("%w: sensor data truncated (unexpected end of file)", ErrDecode)
		}
		return gocv.NewMat(), in, fmt.Errorf("%w: sensor data corrupt at byte %d", ErrDecode, int(errs[1]))
	}
	var rc C.int
	img := C.libraw_dcraw_make_mem_image(lr, &rc)
	if img == nil {
		return gocv.NewMat(), in, lrErr(rc, "image")
	}
	defer C.libraw_dcraw_clear_mem(img)
	if img._type != C.LIBRAW_IMAGE_BITMAP || img.colors != 3 || img.bits != 8 {
		return gocv.NewMat(), in, fmt.Errorf("%w: unexpected output (type %d, %d colours, %d bits)", ErrDecode, img._type, img.colors, img.bits)
	}
	w, h := int(img.width), int(img.height)
	n := w * h * 3
	if int(img.data_size) < n {
		return gocv.NewMat(), in, fmt.Errorf("%w: short image data", ErrDecode)
	}
	data := unsafe.Slice((*byte)(unsafe.Pointer(&img.data[0])), n)
	rgb, err := gocv.NewMatFromBytes(h, w, gocv.MatTypeCV8UC3, data)
	if err != nil {
		return gocv.NewMat(), in, fmt.Errorf("%w: %v", ErrDecode, err)
	}
	defer rgb.Close()
	bgr := gocv.NewMat()
	gocv.CvtColor(rgb, &bgr, gocv.ColorBGRToRGB) // the same swap
	in.Width, in.Height = w, h
	if _, sd := meanStd(bgr); sd < 1 {
		bgr.Close()
		return gocv.NewMat(), in, fmt.Errorf("%w: the sensor data decodes to a blank %dx%d frame (no image data in the file)", ErrDecode, in.FullWidth, in.FullHeight)
	}
	return bgr, in, nil
}

// meanStd returns the mean and standard deviation of m's first channel.
func meanStd(m gocv.Mat) (float64, float64) {
	mean, sd := gocv.NewMat(), gocv.NewMat()
	defer mean.Close()
	defer sd.Close()
	gocv.MeanStdDev(m, &mean, &sd)
	return mean.GetDoubleAt(0, 0), sd.GetDoubleAt(0, 0)
}

// VisibleSize returns the size of the image LibRaw develops from the raw
// file buf (its visible area, in the stored frame, before the orientation)
// by reading the file's headers only, without touching the sensor data.
func VisibleSize(buf []byte) (w, h int, err error) {
	if len(buf) == 0 {
		return 0, 0, fmt.Errorf("%w: empty file", ErrDecode)
	}
	lr := C.libraw_init(0)
	if lr == nil {
		return 0, 0, fmt.Errorf("%w: libraw_init failed", ErrDecode)
	}
	defer C.libraw_close(lr)
	var pin runtime.Pinner
	pin.Pin(&buf[0])
	defer pin.Unpin()
	if rc := C.libraw_open_buffer(lr, unsafe.Pointer(&buf[0]), C.size_t(len(buf))); rc != 0 {
		return 0, 0, lrErr(rc, "open")
	}
	w, h = int(C.faced_libraw_w(lr)), int(C.faced_libraw_h(lr))
	if w <= 0 || h <= 0 {
		return 0, 0, fmt.Errorf("%w: no image size", ErrDecode)
	}
	if err := holdsSensor(len(buf), w, h); err != nil {
		return 0, 0, err // nothing to develop: readers show the preview
	}
	return w, h, nil
}

// holdsSensor: lossless raw compression keeps several bits per pixel; a
// file of less than one bit per pixel does not hold the sensor data (LibRaw
// would decode whatever follows into a picture of noise).
func holdsSensor(size, w, h int) error {
	if int64(size) < int64(w)*int64(h)/8 {
		return fmt.Errorf("%w: %d bytes cannot hold the sensor data of %dx%d pixels", ErrDecode, size, w, h)
	}
	return nil
}
