// faced's libheif decoder plugins: HEVC through FFmpeg's libavcodec (several
// times faster than libde265, libheif's own HEVC decoder) and AV1 through
// libavcodec's dav1d wrapper with one thread (libheif's dav1d plugin starts
// one thread per core). Both hand libheif RGB 4:4:4 planes converted here in
// one integer pass: libheif 1.15 turns every decoded YCbCr image into RGB
// planes itself, in floating point a pixel at a time, which cost as much
// as the HEVC decode. The conversion follows libheif's
// (heif_colorconversion.cc: nearest chroma sample, Kr/Kb of the matrix
// coefficients, limited range scaled by 1.1689 and 1.1429), so pixels are
// libheif's within rounding.

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/log.h>
#include <libavutil/pixdesc.h>
#include <libheif/heif.h>
#include <libheif/heif_plugin.h>

#include "decoder.h"

// A decode session: faced_heif_begin, libheif's decode of one image (all
// its grid tiles, decoded on the calling thread), faced_heif_end. It holds
// the container's colour description, which overrides the bitstream's as
// in libheif, and the libavcodec decoders, reused from tile to tile (a new
// decoder per 512×512 tile zeroed and faulted in fresh memory for as long
// as it decoded).
struct session {
	int active;
	int off; // faced's decoders stand aside: libheif's own decode
	struct faced_nclx nclx;
	AVCodecContext* cx[2]; // HEVC, AV1
	AVPacket* pkt;
	AVFrame* fr;
};

static _Thread_local struct session tls;

void faced_heif_begin(int use, int valid, int matrix, int primaries, int full_range) {
	faced_heif_end();
	tls.active = 1;
	tls.off = !use;
	tls.nclx.valid = valid;
	tls.nclx.matrix = matrix;
	tls.nclx.primaries = primaries;
	tls.nclx.full_range = full_range;
}

void faced_heif_end(void) {
	for (int i = 0; i < 2; i++) avcodec_free_context(&tls.cx[i]);
	av_packet_free(&tls.pkt);
	av_frame_free(&tls.fr);
	memset(&tls, 0, sizeof(tls));
}

static const char kOK[] = "Success";

static struct heif_error ok(void) {
	struct heif_error e = {heif_error_Ok, heif_suberror_Unspecified, kOK};
	return e;
}

static struct heif_error fail(const char* msg) {
	struct heif_error e = {heif_error_Decoder_plugin_error, heif_suberror_Unspecified, msg};
	return e;
}

typedef struct {
	int av1;
	uint8_t* buf;
	size_t len, cap;
	int strict;
} faced_dec;

static int append(faced_dec* d, const uint8_t* p, size_t n) {
	if (d->len + n + AV_INPUT_BUFFER_PADDING_SIZE > d->cap) {
		size_t c = (d->len + n + AV_INPUT_BUFFER_PADDING_SIZE) * 2;
		uint8_t* b = realloc(d->buf, c);
		if (!b) return -1;
		d->buf = b;
		d->cap = c;
	}
	memcpy(d->buf + d->len, p, n);
	d->len += n;
	memset(d->buf + d->len, 0, AV_INPUT_BUFFER_PADDING_SIZE);
	return 0;
}

static const char* hevc_name(void) { return "faced HEVC decoder (libavcodec)"; }
static const char* av1_name(void) { return "faced AV1 decoder (libavcodec dav1d)"; }
static void noop(void) {}

static const AVCodec* hevc_codec(void) { return avcodec_find_decoder(AV_CODEC_ID_HEVC); }
static const AVCodec* av1_codec(void) { return avcodec_find_decoder_by_name("libdav1d"); }

// libheif asks for every image and grid tile, on the decoding thread
// (faced lets it decode grid tiles on the calling thread): within a
// session that chose libheif's decoders, faced's say no.
static int hevc_supports(enum heif_compression_format f) {
	return f == heif_compression_HEVC && !(tls.active && tls.off) && hevc_codec() ? FACED_HEIF_PRIORITY : 0;
}
static int av1_supports(enum heif_compression_format f) {
	return f == heif_compression_AV1 && !(tls.active && tls.off) && av1_codec() ? FACED_HEIF_PRIORITY : 0;
}

static struct heif_error new_dec(void** out, int av1) {
	faced_dec* d = calloc(1, sizeof(faced_dec));
	if (!d) {
		struct heif_error e = {heif_error_Memory_allocation_error, heif_suberror_Unspecified, "out of memory"};
		return e;
	}
	d->av1 = av1;
	*out = d;
	return ok();
}
static struct heif_error hevc_new(void** out) { return new_dec(out, 0); }
static struct heif_error av1_new(void** out) { return new_dec(out, 1); }

static void free_dec(void* p) {
	faced_dec* d = p;
	free(d->buf);
	free(d);
}

static void set_strict(void* p, int flag) { ((faced_dec*)p)->strict = flag; }

// push_data: HEVC comes as NAL units with 4-byte big-endian lengths (the
// hvcC parameter sets, then the image's), turned into an Annex B stream;
// AV1 comes as OBUs, passed on as they are.
static struct heif_error push(void* p, const void* data, size_t size) {
	faced_dec* d = p;
	const uint8_t* c = data;
	if (d->av1) {
		return append(d, c, size) ? fail("out of memory") : ok();
	}
	static const uint8_t start[4] = {0, 0, 0, 1};
	size_t i = 0;
	while (i < size) {
		if (size - i < 4) return fail("truncated NAL length");
		uint32_t n = (uint32_t)c[i] << 24 | (uint32_t)c[i + 1] << 16 | (uint32_t)c[i + 2] << 8 | c[i + 3];
		i += 4;
		if (n > size - i) return fail("NAL unit longer than the data");
		if (append(d, start, 4) || append(d, c + i, n)) return fail("out of memory");
		i += n;
	}
	return ok();
}

// Kr and Kb of ISO/IEC 23091-2 matrix coefficients (libheif's get_Kr_Kb,
// without 12/13, which derive them from the primaries: libheif's defaults
// are used for those as for unknown ones).
static int kr_kb(int m, double* kr, double* kb) {
	switch (m) {
	case 1: *kr = 0.2126; *kb = 0.0722; return 1;
	case 4: *kr = 0.30; *kb = 0.11; return 1;
	case 5: case 6: *kr = 0.299; *kb = 0.114; return 1;
	case 7: *kr = 0.212; *kb = 0.087; return 1;
	case 9: case 10: *kr = 0.2627; *kb = 0.0593; return 1;
	}
	return 0;
}

// rows8 converts one row of 8-bit luma with its chroma terms (16
// fraction bits, rounding included) to R, G and B; the vector units do
// it when the CPU has them (AVX2 clone, SSE2 baseline).
__attribute__((target_clones("avx2", "default")))
static void rows8(const uint8_t* restrict Y, const int32_t* restrict tr, const int32_t* restrict tg,
		const int32_t* restrict tb, int32_t yoff, int32_t cy, uint8_t* restrict ro, uint8_t* restrict go,
		uint8_t* restrict bo, int w) {
	for (int x = 0; x < w; x++) {
		int32_t l = (Y[x] - yoff) * cy;
		int32_t vr = (l + tr[x]) >> 16, vg = (l + tg[x]) >> 16, vb = (l + tb[x]) >> 16;
		ro[x] = (uint8_t)(vr < 0 ? 0 : vr > 255 ? 255 : vr);
		go[x] = (uint8_t)(vg < 0 ? 0 : vg > 255 ? 255 : vg);
		bo[x] = (uint8_t)(vb < 0 ? 0 : vb > 255 ? 255 : vb);
	}
}

// rows16 is rows8 for 9- to 16-bit samples (maxv the largest).
__attribute__((target_clones("avx2", "default")))
static void rows16(const uint16_t* restrict Y, const int32_t* restrict tr, const int32_t* restrict tg,
		const int32_t* restrict tb, int32_t yoff, int32_t cy, int32_t maxv, uint16_t* restrict ro,
		uint16_t* restrict go, uint16_t* restrict bo, int w) {
	for (int x = 0; x < w; x++) {
		int64_t l = (int64_t)(Y[x] - yoff) * cy;
		int64_t vr = (l + tr[x]) >> 16, vg = (l + tg[x]) >> 16, vb = (l + tb[x]) >> 16;
		ro[x] = (uint16_t)(vr < 0 ? 0 : vr > maxv ? maxv : vr);
		go[x] = (uint16_t)(vg < 0 ? 0 : vg > maxv ? maxv : vg);
		bo[x] = (uint16_t)(vb < 0 ? 0 : vb > maxv ? maxv : vb);
	}
}

// convert writes the RGB planes of a YCbCr frame (bits 8-16, chroma
// subsampled by 1<<sh horizontally and 1<<sv vertically), of the same bit
// depth (libheif checks it against the file's; faced reduces it to 8 bits
// when it interleaves the planes, as libheif does, after conversion).
static int convert(const AVFrame* f, int bits, int sh, int sv, int matrix, int full,
		uint8_t* r, int rs, uint8_t* g, int gs, uint8_t* b, int bs) {
	const int w = f->width, h = f->height;
	const int maxv = (1 << bits) - 1, half = 1 << (bits - 1);
	double kr, kb, crr = 1.402, cbg = -0.344136, crg = -0.714136, cbb = 1.772;
	if (kr_kb(matrix, &kr, &kb)) {
		crr = 2 * (1 - kr);
		cbg = 2 * kb * (1 - kb) / (kb + kr - 1);
		crg = 2 * kr * (1 - kr) / (kb + kr - 1);
		cbb = 2 * (1 - kb);
	}
	double ys = 1, cs = 1;
	int yoff = 0;
	if (!full) {
		ys = 1.1689;
		cs = 1.1429;
		yoff = 16 << (bits - 8);
	}
	// 16 fraction bits; +0.5 rounds as libheif's (x + 0.5f) truncation.
	const int32_t K = 1 << 16;
	const int32_t cy = (int32_t)(ys * K + 0.5), c_rr = (int32_t)(crr * cs * K + (crr > 0 ? 0.5 : -0.5)),
		c_bg = (int32_t)(cbg * cs * K + (cbg > 0 ? 0.5 : -0.5)), c_rg = (int32_t)(crg * cs * K + (crg > 0 ? 0.5 : -0.5)),
		c_bb = (int32_t)(cbb * cs * K + (cbb > 0 ? 0.5 : -0.5));
	const int32_t rnd = K / 2;
	int32_t* row = malloc(sizeof(int32_t) * (size_t)w * 3);
	if (!row) return -1;
	int32_t *tr = row, *tg = row + w, *tb = row + 2 * w;
	const int cw = (w + (1 << sh) - 1) >> sh;
	int last = -1;
	for (int y = 0; y < h; y++) {
		const int cyy = y >> sv;
		if (cyy != last) {
			// The chroma terms of the row, spread to every pixel (nearest
			// sample, as libheif), so that the pixel loop vectorises.
			last = cyy;
			for (int x = 0; x < cw; x++) {
				int32_t u, v;
				if (bits == 8) {
					u = f->data[1][(size_t)cyy * f->linesize[1] + x] - half;
					v = f->data[2][(size_t)cyy * f->linesize[2] + x] - half;
				} else {
					u = ((const uint16_t*)(f->data[1] + (size_t)cyy * f->linesize[1]))[x] - half;
					v = ((const uint16_t*)(f->data[2] + (size_t)cyy * f->linesize[2]))[x] - half;
				}
				int32_t vr = c_rr * v + rnd, vg = c_bg * u + c_rg * v + rnd, vb = c_bb * u + rnd;
				for (int k = x << sh; k < ((x + 1) << sh) && k < w; k++) {
					tr[k] = vr;
					tg[k] = vg;
					tb[k] = vb;
				}
			}
		}
		if (bits == 8) {
			rows8(f->data[0] + (size_t)y * f->linesize[0], tr, tg, tb, yoff, cy,
				r + (size_t)y * rs, g + (size_t)y * gs, b + (size_t)y * bs, w);
		} else {
			rows16((const uint16_t*)(f->data[0] + (size_t)y * f->linesize[0]), tr, tg, tb, yoff, cy, maxv,
				(uint16_t*)(r + (size_t)y * rs), (uint16_t*)(g + (size_t)y * gs), (uint16_t*)(b + (size_t)y * bs), w);
		}
	}
	free(row);
	return 0;
}

// mono hands a monochrome frame (an alpha or depth image, a grey photo)
// to libheif as it is, as libheif's own decoders do.
static struct heif_error mono(const AVFrame* f, int bits, struct heif_image** out) {
	struct heif_image* img = NULL;
	struct heif_error err = heif_image_create(f->width, f->height, heif_colorspace_monochrome, heif_chroma_monochrome, &img);
	if (err.code != heif_error_Ok) return err;
	err = heif_image_add_plane(img, heif_channel_Y, f->width, f->height, bits);
	if (err.code != heif_error_Ok) {
		heif_image_release(img);
		return err;
	}
	int st;
	uint8_t* p = heif_image_get_plane(img, heif_channel_Y, &st);
	size_t n = (size_t)f->width * (bits > 8 ? 2 : 1);
	for (int y = 0; y < f->height; y++) memcpy(p + (size_t)y * st, f->data[0] + (size_t)y * f->linesize[0], n);
	*out = img;
	return ok();
}

static struct heif_error decode(void* p, struct heif_image** out) {
	faced_dec* d = p;
	*out = NULL;
	if (d->len == 0) return fail("no data");
	const AVCodec* codec = d->av1 ? av1_codec() : hevc_codec();
	if (!codec) return fail("libavcodec has no decoder for this codec");
	// Outside a session (libheif decoding on a thread of its own) the
	// decoder lives for this image only.
	const int own = !tls.active;
	AVCodecContext* cx = own ? NULL : tls.cx[d->av1];
	AVPacket* pkt = own ? NULL : tls.pkt;
	AVFrame* fr = own ? NULL : tls.fr;
	struct heif_error err = ok();
	if (!cx) {
		cx = avcodec_alloc_context3(codec);
		if (cx) {
			// One thread: faced runs one decode per worker, one worker
			// per core.
			cx->thread_count = 1;
			cx->flags |= AV_CODEC_FLAG_LOW_DELAY;
			if (avcodec_open2(cx, codec, NULL) < 0) {
				avcodec_free_context(&cx);
				err = fail("cannot open the libavcodec decoder");
			}
		}
		if (!own) tls.cx[d->av1] = cx;
	}
	if (!pkt && (pkt = av_packet_alloc()) && !own) tls.pkt = pkt;
	if (!fr && (fr = av_frame_alloc()) && !own) tls.fr = fr;
	if (err.code != heif_error_Ok) goto done;
	if (!cx || !pkt || !fr) {
		err = fail("out of memory");
		goto done;
	}
	pkt->data = d->buf;
	pkt->size = (int)d->len;
	int got = 0;
	if (avcodec_send_packet(cx, pkt) >= 0 && avcodec_send_packet(cx, NULL) >= 0) {
		for (;;) {
			int rc = avcodec_receive_frame(cx, fr);
			if (rc == 0) {
				got = 1;
				break;
			}
			if (rc != AVERROR(EAGAIN)) break;
		}
	}
	if (!got) {
		err = fail("the bitstream decoded to no picture");
		goto done;
	}
	const AVPixFmtDescriptor* pd = av_pix_fmt_desc_get((enum AVPixelFormat)fr->format);
	// Planar YCbCr (one plane per component) or grey, native endian.
	if (!pd || (pd->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_BE)) ||
		(pd->nb_components != 1 && (!(pd->flags & AV_PIX_FMT_FLAG_PLANAR) || pd->nb_components < 3 ||
			pd->comp[0].plane != 0 || pd->comp[1].plane != 1 || pd->comp[2].plane != 2))) {
		err = fail("unsupported pixel format");
		goto done;
	}
	int bits = pd->comp[0].depth;
	int is_mono = pd->nb_components == 1;
	if (bits < 8 || bits > 16 || (!is_mono && (pd->comp[1].depth != bits || pd->comp[2].depth != bits))) {
		err = fail("unsupported bit depth");
		goto done;
	}
	if (is_mono) {
		err = mono(fr, bits, out);
		goto done;
	}
	int matrix = fr->colorspace, full = fr->color_range == AVCOL_RANGE_JPEG;
	if (tls.active && tls.nclx.valid) {
		matrix = tls.nclx.matrix;
		full = tls.nclx.full_range;
	}
	if (matrix == 0) {
		// Identity matrix (GBR coded as YCbCr): rare, left to libheif.
		err = fail("identity matrix coefficients");
		goto done;
	}
	struct heif_image* img = NULL;
	err = heif_image_create(fr->width, fr->height, heif_colorspace_RGB, heif_chroma_444, &img);
	if (err.code != heif_error_Ok) goto done;
	enum heif_channel ch[3] = {heif_channel_R, heif_channel_G, heif_channel_B};
	uint8_t* pl[3];
	int st[3];
	for (int i = 0; i < 3; i++) {
		err = heif_image_add_plane(img, ch[i], fr->width, fr->height, bits);
		if (err.code != heif_error_Ok) {
			heif_image_release(img);
			goto done;
		}
		pl[i] = heif_image_get_plane(img, ch[i], &st[i]);
	}
	if (convert(fr, bits, pd->log2_chroma_w, pd->log2_chroma_h, matrix, full, pl[0], st[0], pl[1], st[1], pl[2], st[2])) {
		heif_image_release(img);
		err = fail("out of memory");
		goto done;
	}
	*out = img;
done:
	if (own) {
		av_frame_free(&fr);
		av_packet_free(&pkt);
		avcodec_free_context(&cx);
	} else {
		av_frame_unref(fr);
		// Out of draining mode, ready for the next tile.
		if (cx) avcodec_flush_buffers(cx);
	}
	return err;
}

static const struct heif_decoder_plugin hevc_plugin = {
	3, hevc_name, noop, noop, hevc_supports, hevc_new, free_dec, push, decode, set_strict, FACED_HEIF_HEVC_ID,
};

static const struct heif_decoder_plugin av1_plugin = {
	3, av1_name, noop, noop, av1_supports, av1_new, free_dec, push, decode, set_strict, FACED_HEIF_AV1_ID,
};

int faced_heif_register(void) {
	int n = 0;
	// libavcodec's dav1d wrapper prints its version at info level on every
	// decode: stay quiet unless someone chose a level already (OpenCV sets
	// its own when it opens a video).
	if (av_log_get_level() == AV_LOG_INFO) av_log_set_level(AV_LOG_WARNING);
	if (hevc_codec() && heif_register_decoder_plugin(&hevc_plugin).code == heif_error_Ok) n |= 1;
	if (av1_codec() && heif_register_decoder_plugin(&av1_plugin).code == heif_error_Ok) n |= 2;
	return n;
}
