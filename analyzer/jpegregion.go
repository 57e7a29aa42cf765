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
#include <jpegint.h>

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

static void faced_set_msg(char *msg, const char *m) {
	strncpy(msg, m, JMSG_LENGTH_MAX - 1);
	msg[JMSG_LENGTH_MAX - 1] = 0;
}

// faced_huff is the head of libjpeg-turbo 2.x's Huffman decoder object
// (jdhuff.c, huff_entropy_decoder): the state carried from one MCU to the
// next besides the source position. faced_ckpt_usable checks the layout
// on every recording before trusting it.
typedef struct {
	struct jpeg_entropy_decoder pub;
	struct {
		size_t get_buffer; // bit_buf_type
		int bits_left;
	} bitstate; // bitread_perm_state
	struct {
		int last_dc_val[MAX_COMPS_IN_SCAN];
	} saved; // savable_state
	unsigned int restarts_to_go;
} faced_huff;

// faced_ckpt: the entropy decoder's state at the start of one MCU row.
typedef struct {
	size_t get_buffer;
	int bits_left;
	int last_dc_val[MAX_COMPS_IN_SCAN];
	unsigned int restarts_to_go;
	int unread_marker, next_restart_num;
	long off; // source position in the file, -1: unusable
} faced_ckpt;

// faced_ckpts: checkpoints of a whole decode of one file, one per MCU row.
typedef struct {
	JDIMENSION per_row, rows, n;
	faced_ckpt *row;
} faced_ckpts;

typedef struct {
	struct jpeg_decompress_struct cinfo; // first: a cinfo pointer is a faced_jdec pointer
	faced_jerr jerr;
	int y0, y1;
	faced_ckpts *ck;
	const unsigned char *buf;
	unsigned long len, mcu;
	boolean (*decode_mcu)(j_decompress_ptr, JBLOCKROW *);
} faced_jdec;

static void faced_ckpts_free(faced_ckpts *k) {
	if (k) {
		free(k->row);
		free(k);
	}
}

// faced_ckpt_usable: checkpoints can be recorded and replayed for this
// decoder: one sequential Huffman scan holding every component.
static int faced_ckpt_usable(j_decompress_ptr c) {
	return !c->progressive_mode && !c->arith_code && !c->buffered_image && !c->inputctl->has_multiple_scans &&
		c->comps_in_scan == c->num_components && c->MCUs_per_row > 0;
}

// faced_rec_mcu wraps the Huffman decoder's decode_mcu while the whole
// image is decoded: it saves the state at the start of every MCU row.
static boolean faced_rec_mcu(j_decompress_ptr c, JBLOCKROW *data) {
	faced_jdec *d = (faced_jdec *)c;
	faced_ckpts *k = d->ck;
	if (d->mcu % k->per_row == 0) {
		unsigned long r = d->mcu / k->per_row;
		faced_huff *h = (faced_huff *)c->entropy;
		if (r == 0) {
			// Layout check: start_pass has just reset these.
			int ok = h->bitstate.bits_left == 0 && h->bitstate.get_buffer == 0 && h->restarts_to_go == c->restart_interval && !h->pub.insufficient_data;
			for (int i = 0; i < c->comps_in_scan; i++) ok = ok && h->saved.last_dc_val[i] == 0;
			if (!ok) {
				c->entropy->decode_mcu = d->decode_mcu;
				k->n = 0;
				return d->decode_mcu(c, data);
			}
		}
		if (r < k->rows) {
			faced_ckpt *p = &k->row[r];
			p->get_buffer = h->bitstate.get_buffer;
			p->bits_left = h->bitstate.bits_left;
			memcpy(p->last_dc_val, h->saved.last_dc_val, sizeof p->last_dc_val);
			p->restarts_to_go = h->restarts_to_go;
			p->unread_marker = c->unread_marker;
			p->next_restart_num = c->marker->next_restart_num;
			const unsigned char *q = c->src->next_input_byte;
			p->off = -1;
			if (!h->pub.insufficient_data && q >= d->buf && q <= d->buf + d->len && (unsigned long)(q - d->buf) + c->src->bytes_in_buffer == d->len) {
				p->off = q - d->buf;
			}
			k->n = r + 1;
		}
	}
	d->mcu++;
	return d->decode_mcu(c, data);
}

// faced_replay_mcu wraps decode_mcu while rows are skipped: skipped MCUs
// (data NULL) are not decoded at all; at the first MCU wanted, the state
// recorded there is restored and the real decoder takes over.
static boolean faced_replay_mcu(j_decompress_ptr c, JBLOCKROW *data) {
	faced_jdec *d = (faced_jdec *)c;
	if (data == NULL) {
		d->mcu++;
		return TRUE;
	}
	faced_ckpts *k = d->ck;
	unsigned long r = d->mcu / k->per_row;
	if (d->mcu % k->per_row != 0 || r >= k->n || k->row[r].off < 0) {
		faced_set_msg(d->jerr.msg, "no checkpoint where the region starts");
		longjmp(d->jerr.jb, 1);
	}
	faced_ckpt *p = &k->row[r];
	faced_huff *h = (faced_huff *)c->entropy;
	h->bitstate.get_buffer = p->get_buffer;
	h->bitstate.bits_left = p->bits_left;
	memcpy(h->saved.last_dc_val, p->last_dc_val, sizeof p->last_dc_val);
	h->restarts_to_go = p->restarts_to_go;
	h->pub.insufficient_data = FALSE;
	c->unread_marker = p->unread_marker;
	c->marker->next_restart_num = p->next_restart_num;
	c->src->next_input_byte = d->buf + p->off;
	c->src->bytes_in_buffer = d->len - p->off;
	c->entropy->decode_mcu = d->decode_mcu;
	return d->decode_mcu(c, data);
}


// faced_jpeg_open starts decoding rows [y0, y1) and at least columns
// [x0, x1) of the JPEG in buf scaled by 1/denom, as BGR. The region read
// will be *rw × *rh pixels whose columns start at *rx (aligned down to an
// iMCU boundary by libjpeg); *ow × *oh is the size of the whole scaled
// image. NULL and msg on error. buf must stay valid until faced_jpeg_read
// or faced_jpeg_close.
//
// ck (may be NULL) with record set: the whole image is decoded and the
// entropy decoder's state is saved into *ck at every MCU row (*ck
// allocated here, freed by faced_ckpts_free). ck recorded from the same
// buf, record 0: skipped rows are not entropy-decoded; decoding resumes
// from the checkpoint where the region starts.
static faced_jdec *faced_jpeg_open(const unsigned char *buf, unsigned long len, int denom,
		int x0, int y0, int x1, int y1, int *rx, int *rw, int *rh, int *ow, int *oh, char *msg,
		faced_ckpts **ck, int record) {
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
	d->buf = buf;
	d->len = len;
	if (ck && faced_ckpt_usable(&d->cinfo)) {
		j_decompress_ptr c = &d->cinfo;
		if (record && !*ck) {
			faced_ckpts *k = calloc(1, sizeof(faced_ckpts));
			if (k) {
				k->per_row = c->MCUs_per_row;
				k->rows = c->MCU_rows_in_scan;
				k->row = calloc(k->rows, sizeof(faced_ckpt));
				if (!k->row) {
					free(k);
					k = NULL;
				}
			}
			if (k) {
				*ck = k;
				d->ck = k;
				d->decode_mcu = c->entropy->decode_mcu;
				c->entropy->decode_mcu = faced_rec_mcu;
			}
		} else if (!record && *ck && (*ck)->n > 0 && (*ck)->per_row == c->MCUs_per_row) {
			d->ck = *ck;
			d->decode_mcu = c->entropy->decode_mcu;
			c->entropy->decode_mcu = faced_replay_mcu;
		}
	}
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
	return decodeJPEGRegionCk(buf, denom, r, nil, false)
}

// jpegCheckpoints holds the Huffman decoder's state at the start of every
// MCU row of one whole decode of a JPEG (C memory; Close frees it). A
// later decode of a region of the same file at any scale resumes from the
// row where the region starts instead of entropy-decoding every row above
// it again: the pixels are the same, since the decoder's state there is
// the same. Only for single-scan sequential Huffman JPEGs; decodes of
// other files just do not record.
type jpegCheckpoints struct{ p *C.faced_ckpts }

// Close frees the checkpoints (nil-safe, idempotent).
func (k *jpegCheckpoints) Close() {
	if k != nil && k.p != nil {
		C.faced_ckpts_free(k.p)
		k.p = nil
	}
}

// usable reports whether k holds checkpoints a region decode can use.
func (k *jpegCheckpoints) usable() bool { return k != nil && k.p != nil && k.p.n > 0 }

// decodeJPEGRegionCk is decodeJPEGRegion that, with record, saves
// checkpoints into ck (r must then start at row 0) and otherwise, when ck
// holds checkpoints of the same buf, resumes from them.
func decodeJPEGRegionCk(buf []byte, denom int, r image.Rectangle, ck *jpegCheckpoints, record bool) (gocv.Mat, image.Rectangle, image.Point, error) {
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
	var ckp **C.faced_ckpts
	rec := 0
	if ck != nil && (record || ck.usable()) {
		if record {
			ck.Close()
			rec = 1
		}
		// Checkpoints live in C memory: C writes the pointer into a C cell.
		cell := (**C.faced_ckpts)(C.calloc(1, C.size_t(unsafe.Sizeof(uintptr(0)))))
		defer C.free(unsafe.Pointer(cell))
		*cell = ck.p
		ckp = cell
		defer func() { ck.p = *cell }()
	}
	d := C.faced_jpeg_open((*C.uchar)(unsafe.Pointer(&buf[0])), C.ulong(len(buf)), C.int(denom),
		C.int(r.Min.X), C.int(r.Min.Y), C.int(r.Max.X), C.int(r.Max.Y), &rx, &rw, &rh, &ow, &oh, msg, ckp, C.int(rec))
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

// decodeJPEGBands is decodeJPEGRegionCk for the rectangle r of which only
// the row bands (sorted, disjoint [y0, y1) ranges inside r's rows) are
// wanted: each band is decoded on its own from the checkpoints ck (which
// must be usable), with r's columns, into one image covering r's rows;
// rows between bands are left black. The bands' pixels are the bytes the
// decode of all of r gives (TestJPEGBands). An error when any band cannot
// be decoded whole: callers then decode r.
func decodeJPEGBands(buf []byte, denom int, r image.Rectangle, bands [][2]int, ck *jpegCheckpoints) (gocv.Mat, image.Rectangle, image.Point, error) {
	fail := func(err error) (gocv.Mat, image.Rectangle, image.Point, error) {
		return gocv.Mat{}, image.Rectangle{}, image.Point{}, err
	}
	if len(buf) == 0 || len(bands) == 0 || !ck.usable() {
		return fail(errors.New("JPEG bands: nothing to decode from"))
	}
	msg := (*C.char)(C.calloc(C.JMSG_LENGTH_MAX, 1))
	defer C.free(unsafe.Pointer(msg))
	var pin runtime.Pinner
	pin.Pin(&buf[0])
	defer pin.Unpin()
	cell := (**C.faced_ckpts)(C.calloc(1, C.size_t(unsafe.Sizeof(uintptr(0)))))
	defer C.free(unsafe.Pointer(cell))
	*cell = ck.p
	var m gocv.Mat
	var px []byte
	var x0, width, y0, y1, ow, oh int
	done := 0 // rows of m filled so far, from its top
	for i, b := range bands {
		var rx, rw, rh, cow, coh C.int
		d := C.faced_jpeg_open((*C.uchar)(unsafe.Pointer(&buf[0])), C.ulong(len(buf)), C.int(denom),
			C.int(r.Min.X), C.int(b[0]), C.int(r.Max.X), C.int(b[1]), &rx, &rw, &rh, &cow, &coh, msg, cell, 0)
		if d == nil {
			if i > 0 {
				m.Close()
			}
			return fail(errors.New("JPEG bands: " + C.GoString(msg)))
		}
		if i == 0 {
			x0, width, ow, oh = int(rx), int(rw), int(cow), int(coh)
			y0, y1 = max(0, r.Min.Y), min(oh, r.Max.Y)
			if width <= 0 || y1 <= y0 {
				C.faced_jpeg_close(d)
				return fail(errors.New("JPEG bands: empty region"))
			}
			m = gocv.NewMatWithSize(y1-y0, width, gocv.MatTypeCV8UC3)
			var err error
			if px, err = m.DataPtrUint8(); err != nil || len(px) < width*(y1-y0)*3 {
				m.Close()
				C.faced_jpeg_close(d)
				return fail(fmt.Errorf("JPEG bands: output buffer: %v", err))
			}
		}
		by0 := max(0, b[0])
		if int(rx) != x0 || int(rw) != width || by0 < y0+done || by0+int(rh) > y1 {
			m.Close()
			C.faced_jpeg_close(d)
			return fail(errors.New("JPEG bands: bands disagree"))
		}
		stride := width * 3
		clear(px[done*stride : (by0-y0)*stride]) // the gap above the band
		n := C.faced_jpeg_read(d, (*C.uchar)(unsafe.Pointer(&px[(by0-y0)*stride])), C.size_t(stride), msg)
		if n != rh {
			m.Close()
			return fail(errors.New("JPEG bands: band ended early: " + C.GoString(msg)))
		}
		done = by0 - y0 + int(rh)
	}
	clear(px[done*width*3 : (y1-y0)*width*3])
	return m, image.Rect(x0, y0, x0+width, y1), image.Pt(ow, oh), nil
}
