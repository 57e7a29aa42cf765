// Package heif is a thin cgo binding of libheif (Debian libheif 1.15) for
// what faced needs: the primary image of a HEIC, HEIF or AVIF file as 8-bit
// BGR pixels, with the file's geometric transformations (irot, imir, clap)
// applied as libheif applies them, grid images assembled, 10- and 12-bit
// images reduced to 8 bits, alpha, depth and auxiliary images ignored; and
// the primary image's Exif block. Encode writes such files for tests.
//
// HEVC and AV1 are decoded by faced's own libheif decoder plugins
// (decoder.c: FFmpeg's libavcodec, dav1d through it), which hand libheif RGB
// planes; libheif's own decoders (libde265, dav1d, aom) and its much
// slower colour conversion remain the fallback. The image is asked for as
// RGB planes, which libheif 1.15 makes anyway, and interleaved here: its
// interleaved-RGB output cost another full pass per pixel.
//
// No maintained Go binding pins libheif 1.15 (github.com/strukturag/libheif's
// go/heif package follows libheif's master and needs a newer C API), hence
// this one: a dozen libheif calls.
package heif

/*
#cgo pkg-config: libheif libavcodec libavutil
#cgo CFLAGS: -O3
#include <stdlib.h>
#include <string.h>
#include <libheif/heif.h>
#include "decoder.h"

// faced_heif_copy_bgr copies an interleaved RGB image into dst (w*3 bytes a
// row, BGR order).
static void faced_heif_copy_bgr(const uint8_t* src, int stride, uint8_t* dst, int w, int h) {
	for (int y = 0; y < h; y++) {
		const uint8_t* s = src + (size_t)y * stride;
		uint8_t* d = dst + (size_t)y * w * 3;
		for (int x = 0; x < w; x++) {
			d[0] = s[2];
			d[1] = s[1];
			d[2] = s[0];
			s += 3;
			d += 3;
		}
	}
}

// faced_heif_merge_bgr interleaves R, G and B planes of the given bit
// depth into dst (w*3 bytes a row, BGR order, 8 bits: deeper values
// shifted down, as libheif's convert_hdr_to_8bit).
__attribute__((target_clones("avx2", "default")))
static void faced_heif_merge_bgr(const uint8_t* restrict r, int rs, const uint8_t* restrict g, int gs,
		const uint8_t* restrict b, int bs, int bits, uint8_t* restrict dst, int w, int h) {
	const int shift = bits - 8;
	for (int y = 0; y < h; y++) {
		uint8_t* d = dst + (size_t)y * w * 3;
		if (bits == 8) {
			const uint8_t* pr = r + (size_t)y * rs;
			const uint8_t* pg = g + (size_t)y * gs;
			const uint8_t* pb = b + (size_t)y * bs;
			for (int x = 0; x < w; x++) {
				d[3*x] = pb[x];
				d[3*x+1] = pg[x];
				d[3*x+2] = pr[x];
			}
		} else {
			const uint16_t* pr = (const uint16_t*)(r + (size_t)y * rs);
			const uint16_t* pg = (const uint16_t*)(g + (size_t)y * gs);
			const uint16_t* pb = (const uint16_t*)(b + (size_t)y * bs);
			for (int x = 0; x < w; x++) {
				d[3*x] = (uint8_t)(pb[x] >> shift);
				d[3*x+1] = (uint8_t)(pg[x] >> shift);
				d[3*x+2] = (uint8_t)(pr[x] >> shift);
			}
		}
	}
}

static struct heif_decoding_options* faced_heif_options(void) {
	struct heif_decoding_options* o = heif_decoding_options_alloc();
	// Transformations applied (the default), HDR reduced to 8 bits.
	o->ignore_transformations = 0;
	o->convert_hdr_to_8bit = 1;
	return o;
}

// faced_heif_decode decodes the primary image to RGB planes with faced's
// decoders (use 1) or libheif's own (use 0), in one decode session
// (decoder.h).
static struct heif_error faced_heif_decode(struct heif_image_handle* h, int use, struct heif_image** img) {
	struct heif_color_profile_nclx* nclx = NULL;
	if (heif_image_handle_get_nclx_color_profile(h, &nclx).code == heif_error_Ok && nclx) {
		faced_heif_begin(use, 1, nclx->matrix_coefficients, nclx->color_primaries, nclx->full_range_flag);
		heif_nclx_color_profile_free(nclx);
	} else {
		faced_heif_begin(use, 0, 0, 0, 0);
	}
	struct heif_decoding_options* o = faced_heif_options();
	struct heif_error e = heif_decode_image(h, img, heif_colorspace_RGB, heif_chroma_444, o);
	heif_decoding_options_free(o);
	faced_heif_end();
	return e;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"image"
	"runtime"
	"sync"
	"unsafe"

	"gocv.io/x/gocv"
)

// Errors, for errors.Is.
var (
	// ErrNoDecoder: libheif has no decoder for the file's codec.
	ErrNoDecoder = errors.New("no decoder for this HEIF codec")
	// ErrDecode: the file is damaged or not a HEIF file.
	ErrDecode = errors.New("cannot decode HEIF")
)

var (
	initOnce sync.Once
	// registered: bit 0 faced's HEVC decoder, bit 1 its AV1 decoder.
	registered C.int
)

func ensureInit() {
	// libheif's plugins are loaded by heif_init; it is reference counted
	// and faced never deinitialises. faced's decoders (decoder.c) then
	// take precedence over libde265 and dav1d/aom by their priority.
	initOnce.Do(func() {
		C.heif_init(nil)
		registered = C.faced_heif_register()
	})
}

// Decoder names libheif's decoder_id option takes.
const (
	// DecoderFaced: the highest-priority decoder, faced's own (libavcodec)
	// when it was registered.
	DecoderFaced = ""
	// DecoderLibheif: libheif's own decoders (libde265, dav1d, aom), also
	// used when faced's fails.
	DecoderLibheif = "libheif"
)

func herr(e C.struct_heif_error, what string) error {
	if e.code == C.heif_error_Ok {
		return nil
	}
	kind := ErrDecode
	if e.code == C.heif_error_Unsupported_feature || e.code == C.heif_error_Unsupported_filetype {
		kind = ErrNoDecoder
	}
	return fmt.Errorf("%w: %s: %s", kind, what, C.GoString(e.message))
}

// Info describes the primary image.
type Info struct {
	// Width and Height are the dimensions of the image libheif delivers:
	// after the transformations (rotation, mirror, crop).
	Width, Height int
	// BitDepth is the luma bit depth (8, 10, 12).
	BitDepth int
	// Alpha tells whether the image has an alpha channel (ignored).
	Alpha bool
	// Exif is the primary image's Exif block from its TIFF header on (nil
	// when the file has none).
	Exif []byte
}

// file is an open libheif context with its primary image handle.
type file struct {
	ctx *C.struct_heif_context
	h   *C.struct_heif_image_handle
}

func open(buf []byte) (*file, error) {
	if len(buf) == 0 {
		return nil, fmt.Errorf("%w: empty file", ErrDecode)
	}
	ensureInit()
	f := &file{ctx: C.heif_context_alloc()}
	// read_from_memory copies the bytes: nothing keeps a Go pointer.
	if err := herr(C.heif_context_read_from_memory(f.ctx, unsafe.Pointer(&buf[0]), C.size_t(len(buf)), nil), "reading"); err != nil {
		f.close()
		return nil, err
	}
	// No tile threads: parallelism comes from faced's workers, and grid
	// tiles are then decoded on the calling thread, where
	// faced_heif_decode set the container's nclx for faced's decoder.
	C.heif_context_set_max_decoding_threads(f.ctx, 0)
	if err := herr(C.heif_context_get_primary_image_handle(f.ctx, &f.h), "primary image"); err != nil {
		f.close()
		return nil, err
	}
	return f, nil
}

func (f *file) close() {
	if f.h != nil {
		C.heif_image_handle_release(f.h)
		f.h = nil
	}
	if f.ctx != nil {
		C.heif_context_free(f.ctx)
		f.ctx = nil
	}
}

func (f *file) info() Info {
	in := Info{
		Width:    int(C.heif_image_handle_get_width(f.h)),
		Height:   int(C.heif_image_handle_get_height(f.h)),
		BitDepth: int(C.heif_image_handle_get_luma_bits_per_pixel(f.h)),
		Alpha:    C.heif_image_handle_has_alpha_channel(f.h) != 0,
	}
	exif := C.CString("Exif")
	defer C.free(unsafe.Pointer(exif))
	var id C.heif_item_id
	if C.heif_image_handle_get_list_of_metadata_block_IDs(f.h, exif, &id, 1) == 1 {
		n := C.heif_image_handle_get_metadata_size(f.h, id)
		if n > 4 && n < 1<<24 {
			b := make([]byte, int(n))
			if C.heif_image_handle_get_metadata(f.h, id, unsafe.Pointer(&b[0])).code == C.heif_error_Ok {
				in.Exif = tiffFromExifItem(b)
			}
		}
	}
	return in
}

// tiffFromExifItem returns the TIFF header on of a HEIF Exif item: a 4-byte
// big-endian offset to it, then (usually "Exif\0\0" and) the TIFF data.
func tiffFromExifItem(b []byte) []byte {
	off := int(uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8|uint32(b[3])) + 4
	if off < 4 || off >= len(b) {
		off = 4
	}
	b = b[off:]
	// Writers disagree on whether the offset skips "Exif\0\0": find the
	// TIFF header in the first bytes.
	for i := 0; i+4 <= len(b) && i < 16; i++ {
		if s := string(b[i : i+4]); s == "II*\x00" || s == "MM\x00*" {
			return b[i:]
		}
	}
	return nil
}

// Probe reads the primary image's description without decoding pixels.
func Probe(buf []byte) (Info, error) {
	f, err := open(buf)
	if err != nil {
		return Info{}, err
	}
	defer f.close()
	return f.info(), nil
}

// Decode decodes the primary image of the HEIF/AVIF file buf to an 8-bit
// BGR Mat (the caller closes it), transformations applied: with faced's
// decoder, and with libheif's own when faced's fails.
func Decode(buf []byte) (gocv.Mat, Info, error) {
	return DecodeWith(buf, DecoderFaced)
}

// DecodeWith is Decode with the given decoder (DecoderFaced or
// DecoderLibheif).
func DecodeWith(buf []byte, decoder string) (gocv.Mat, Info, error) {
	p, in, err := DecodePlanesWith(buf, decoder)
	if err != nil {
		return gocv.NewMat(), in, err
	}
	defer p.Close()
	m, err := p.BGR(image.Rect(0, 0, p.Width, p.Height))
	return m, in, err
}

// Planes is a decoded image as libheif holds it: R, G and B planes of
// Bits bits (8, or 10-16 in two bytes a sample), Width×Height, rows
// Stride bytes apart, transformations applied. The slices are C memory,
// valid until Close.
type Planes struct {
	R, G, B       []byte
	Stride        int
	Width, Height int
	Bits          int
	img           *C.struct_heif_image
}

// Close releases the planes.
func (p *Planes) Close() {
	if p.img != nil {
		C.heif_image_release(p.img)
		p.img = nil
		p.R, p.G, p.B = nil, nil, nil
	}
}

// BGR interleaves the rectangle r of the planes into a new 8-bit BGR Mat
// (the caller closes it; deeper samples shifted down to 8 bits, as
// libheif's convert_hdr_to_8bit).
func (p *Planes) BGR(r image.Rectangle) (gocv.Mat, error) {
	r = r.Intersect(image.Rect(0, 0, p.Width, p.Height))
	if p.img == nil || r.Empty() {
		return gocv.NewMat(), fmt.Errorf("%w: empty rectangle %v of a %dx%d image", ErrDecode, r, p.Width, p.Height)
	}
	w, h := r.Dx(), r.Dy()
	// Not NewMatWithSize, which zeroes the 36 MB of a 12 MP image first.
	m := gocv.NewMatWithSizes([]int{h, w}, gocv.MatTypeCV8UC3)
	dst, err := m.DataPtrUint8()
	if err != nil || len(dst) < w*h*3 {
		m.Close()
		return gocv.NewMat(), fmt.Errorf("%w: Mat not continuous", ErrDecode)
	}
	off := r.Min.Y*p.Stride + r.Min.X*((p.Bits+7)/8)
	// The planes and dst are C and OpenCV memory, not Go's: C may use them.
	C.faced_heif_merge_bgr((*C.uint8_t)(unsafe.Pointer(&p.R[off])), C.int(p.Stride), (*C.uint8_t)(unsafe.Pointer(&p.G[off])), C.int(p.Stride),
		(*C.uint8_t)(unsafe.Pointer(&p.B[off])), C.int(p.Stride), C.int(p.Bits), (*C.uint8_t)(unsafe.Pointer(&dst[0])), C.int(w), C.int(h))
	return m, nil
}

// DecodePlanes decodes the primary image of the HEIF/AVIF file buf to
// RGB planes (the caller closes them), transformations applied: with
// faced's decoder, and with libheif's own when faced's fails.
func DecodePlanes(buf []byte) (*Planes, Info, error) {
	return DecodePlanesWith(buf, DecoderFaced)
}

// DecodePlanesWith is DecodePlanes with the given decoder (DecoderFaced
// or DecoderLibheif).
func DecodePlanesWith(buf []byte, decoder string) (*Planes, Info, error) {
	f, err := open(buf)
	if err != nil {
		return nil, Info{}, err
	}
	defer f.close()
	in := f.info()
	var img *C.struct_heif_image
	err = ErrNoDecoder
	if decoder == DecoderFaced && registered != 0 {
		err = herr(C.faced_heif_decode(f.h, 1, &img), "decoding")
	}
	if err != nil {
		// libheif's own decoders (libde265, dav1d, aom), as a fallback.
		if err = herr(C.faced_heif_decode(f.h, 0, &img), "decoding"); err != nil {
			return nil, in, err
		}
	}
	runtime.KeepAlive(buf)
	p := &Planes{img: img,
		Width:  int(C.heif_image_get_width(img, C.heif_channel_R)),
		Height: int(C.heif_image_get_height(img, C.heif_channel_R)),
		Bits:   int(C.heif_image_get_bits_per_pixel_range(img, C.heif_channel_R)),
	}
	var rs, gs, bs C.int
	r := C.heif_image_get_plane_readonly(img, C.heif_channel_R, &rs)
	g := C.heif_image_get_plane_readonly(img, C.heif_channel_G, &gs)
	b := C.heif_image_get_plane_readonly(img, C.heif_channel_B, &bs)
	if r == nil || g == nil || b == nil || p.Width <= 0 || p.Height <= 0 || p.Bits < 8 || p.Bits > 16 || rs != gs || rs != bs ||
		int(rs) < p.Width*((p.Bits+7)/8) ||
		int(C.heif_image_get_bits_per_pixel_range(img, C.heif_channel_G)) != p.Bits ||
		int(C.heif_image_get_bits_per_pixel_range(img, C.heif_channel_B)) != p.Bits {
		p.Close()
		return nil, in, fmt.Errorf("%w: no RGB planes of 8 to 16 bits (%dx%d, %d bits, strides %d %d %d)", ErrDecode, p.Width, p.Height, p.Bits, rs, gs, bs)
	}
	p.Stride = int(rs)
	n := p.Stride * p.Height
	p.R = unsafe.Slice((*byte)(unsafe.Pointer(r)), n)
	p.G = unsafe.Slice((*byte)(unsafe.Pointer(g)), n)
	p.B = unsafe.Slice((*byte)(unsafe.Pointer(b)), n)
	in.Width, in.Height = p.Width, p.Height
	return p, in, nil
}

// Codec selects the compression Encode uses.
type Codec int

// Codecs.
const (
	HEVC Codec = iota // HEIC
	AV1               // AVIF
)

// Encode writes the 8-bit BGR image m to path as a HEIC or AVIF file for
// tests: quality 0-100 (lossy), or lossless when quality < 0; orientation
// (EXIF values 1-8) becomes irot/imir boxes, so m holds the pixels as
// stored and a reader shows them transformed; exifOrientation > 0 also
// writes an Exif block with that Orientation tag (as phones do).
func Encode(path string, m gocv.Mat, codec Codec, quality, orientation, exifOrientation int) error {
	if m.Type() != gocv.MatTypeCV8UC3 || m.Empty() {
		return errors.New("heif: Encode wants a non-empty 8-bit BGR Mat")
	}
	ensureInit()
	ctx := C.heif_context_alloc()
	defer C.heif_context_free(ctx)
	format := C.enum_heif_compression_format(C.heif_compression_HEVC)
	if codec == AV1 {
		format = C.heif_compression_AV1
	}
	var enc *C.struct_heif_encoder
	if err := herr(C.heif_context_get_encoder_for_format(ctx, format, &enc), "encoder"); err != nil {
		return err
	}
	defer C.heif_encoder_release(enc)
	if quality < 0 {
		C.heif_encoder_set_lossless(enc, 1)
		chroma := C.CString("chroma")
		v444 := C.CString("444")
		C.heif_encoder_set_parameter(enc, chroma, v444)
		C.free(unsafe.Pointer(chroma))
		C.free(unsafe.Pointer(v444))
	} else {
		C.heif_encoder_set_lossy_quality(enc, C.int(quality))
	}
	w, h := m.Cols(), m.Rows()
	var img *C.struct_heif_image
	if err := herr(C.heif_image_create(C.int(w), C.int(h), C.heif_colorspace_RGB, C.heif_chroma_interleaved_RGB, &img), "image"); err != nil {
		return err
	}
	defer C.heif_image_release(img)
	if err := herr(C.heif_image_add_plane(img, C.heif_channel_interleaved, C.int(w), C.int(h), 8), "plane"); err != nil {
		return err
	}
	var stride C.int
	p := C.heif_image_get_plane(img, C.heif_channel_interleaved, &stride)
	src, err := m.DataPtrUint8()
	if err != nil {
		return err
	}
	for y := 0; y < h; y++ {
		// BGR → RGB is the same swap as RGB → BGR.
		C.faced_heif_copy_bgr((*C.uint8_t)(unsafe.Pointer(&src[y*w*3])), C.int(w*3), (*C.uint8_t)(unsafe.Add(unsafe.Pointer(p), y*int(stride))), C.int(w), 1)
	}
	opts := C.heif_encoding_options_alloc()
	defer C.heif_encoding_options_free(opts)
	if orientation >= 1 && orientation <= 8 {
		opts.image_orientation = C.enum_heif_orientation(orientation)
	}
	var hdl *C.struct_heif_image_handle
	if err := herr(C.heif_context_encode_image(ctx, img, enc, opts, &hdl), "encoding"); err != nil {
		return err
	}
	defer C.heif_image_handle_release(hdl)
	if exifOrientation > 0 {
		tiff := []byte{'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, byte(exifOrientation), 0, 0, 0, 0, 0, 0, 0}
		if err := herr(C.heif_context_add_exif_metadata(ctx, hdl, unsafe.Pointer(&tiff[0]), C.int(len(tiff))), "exif"); err != nil {
			return err
		}
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	return herr(C.heif_context_write_to_file(ctx, cpath), "writing")
}
