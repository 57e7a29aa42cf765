package mtcnn

// OpenCV's INTER_AREA resize of an 8-bit 3-channel image by a non-integer
// factor, bit for bit, computed faster. OpenCV (ResizeArea_Invoker, 4.x)
// adds every source pixel into a float row buffer in memory, one weighted
// term at a time, so that each addition waits for the previous store; and
// it redoes the horizontal pass of a source row that straddles two
// destination rows. Here each destination pixel's terms are summed in a
// register, in OpenCV's order, and a source row's horizontal pass is kept
// for the next destination row: the same float operations in the same
// order, about three times less time (the P-Net pyramid of a 12 MP photo
// decoded at 1/4 spent 7-10 ms of CPU in it).

/*
#cgo CFLAGS: -O2
// Products and sums rounded one by one, as OpenCV's build does them (a
// fused multiply-add would change the last bits).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#endif
#include <math.h>
#include <emmintrin.h>
#include <stdlib.h>
#include <string.h>

typedef struct { int di, si; float alpha; } faced_area_tab;

// faced_area_table is OpenCV's computeResizeAreaTab: the source index si,
// destination index di (both times cn) and weight of every term.
static int faced_area_table(int ssize, int dsize, int cn, double scale, faced_area_tab *tab) {
	int k = 0;
	for (int dx = 0; dx < dsize; dx++) {
		double fsx1 = dx * scale;
		double fsx2 = fsx1 + scale;
		double cellWidth = scale < ssize - fsx1 ? scale : ssize - fsx1;
		int sx1 = (int)ceil(fsx1), sx2 = (int)floor(fsx2);
		if (sx2 > ssize - 1) sx2 = ssize - 1;
		if (sx1 > sx2) sx1 = sx2;
		if (sx1 - fsx1 > 1e-3) {
			tab[k].di = dx * cn;
			tab[k].si = (sx1 - 1) * cn;
			tab[k++].alpha = (float)((sx1 - fsx1) / cellWidth);
		}
		for (int sx = sx1; sx < sx2; sx++) {
			tab[k].di = dx * cn;
			tab[k].si = sx * cn;
			tab[k++].alpha = (float)(1.0 / cellWidth);
		}
		if (fsx2 - sx2 > 1e-3) {
			double f = fsx2 - sx2;
			if (f > 1.) f = 1.;
			if (f > cellWidth) f = cellWidth;
			tab[k].di = dx * cn;
			tab[k].si = sx2 * cn;
			tab[k++].alpha = (float)(f / cellWidth);
		}
	}
	return k;
}

// faced_area_row is the horizontal pass over one source row S (rowbytes
// long) into buf: the three channels of a term in one SSE2 vector (the
// same IEEE single products and sums as one channel at a time).
static void faced_area_row(const unsigned char *S, int rowbytes, const faced_area_tab *xtab, int xn, float *buf, int width) {
	memset(buf, 0, sizeof(float) * width);
	const __m128i zero = _mm_setzero_si128();
	for (int k = 0; k < xn;) {
		int dxn = xtab[k].di;
		__m128 t = _mm_setzero_ps();
		do {
			int si = xtab[k].si;
			unsigned int px;
			if (si + 4 <= rowbytes) {
				memcpy(&px, S + si, 4);
			} else {
				px = S[si] | (unsigned int)S[si + 1] << 8 | (unsigned int)S[si + 2] << 16;
			}
			__m128i v = _mm_unpacklo_epi16(_mm_unpacklo_epi8(_mm_cvtsi32_si128((int)px), zero), zero);
			t = _mm_add_ps(t, _mm_mul_ps(_mm_cvtepi32_ps(v), _mm_set1_ps(xtab[k].alpha)));
			k++;
		} while (k < xn && xtab[k].di == dxn);
		float o[4];
		_mm_storeu_ps(o, t);
		buf[dxn] = o[0];
		buf[dxn + 1] = o[1];
		buf[dxn + 2] = o[2];
	}
}

// faced_area_store rounds sum to the nearest integer (ties to even, as
// cvRound) and saturates it to 0..255 into D.
static void faced_area_store(unsigned char *D, const float *sum, int width) {
	int dx = 0;
	for (; dx + 16 <= width; dx += 16) {
		__m128i a = _mm_cvtps_epi32(_mm_loadu_ps(sum + dx));
		__m128i b = _mm_cvtps_epi32(_mm_loadu_ps(sum + dx + 4));
		__m128i c = _mm_cvtps_epi32(_mm_loadu_ps(sum + dx + 8));
		__m128i d = _mm_cvtps_epi32(_mm_loadu_ps(sum + dx + 12));
		_mm_storeu_si128((__m128i *)(D + dx), _mm_packus_epi16(_mm_packs_epi32(a, b), _mm_packs_epi32(c, d)));
	}
	for (; dx < width; dx++) {
		int v = _mm_cvtss_si32(_mm_set_ss(sum[dx]));
		D[dx] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
	}
}

// faced_area_acc is sum = beta·buf (first) or sum += beta·buf, four floats
// at a time (the same IEEE single operations as one at a time).
static void faced_area_acc(float *sum, const float *buf, float beta, int width, int first) {
	const __m128 b = _mm_set1_ps(beta);
	int dx = 0;
	for (; dx + 4 <= width; dx += 4) {
		__m128 p = _mm_mul_ps(b, _mm_loadu_ps(buf + dx));
		_mm_storeu_ps(sum + dx, first ? p : _mm_add_ps(_mm_loadu_ps(sum + dx), p));
	}
	for (; dx < width; dx++) {
		sum[dx] = first ? beta * buf[dx] : sum[dx] + beta * buf[dx];
	}
}

// faced_resize_area3 resizes the sw×sh BGR image src (rows sstep bytes
// apart) to the dw×dh image dst (rows dstep bytes apart). 0, or -1 when
// out of memory.
static int faced_resize_area3(const unsigned char *src, int sw, int sh, size_t sstep,
		unsigned char *dst, int dw, int dh, size_t dstep) {
	// As cv::resize: the scale is the inverse of dsize/ssize.
	double scale_x = 1. / ((double)dw / sw), scale_y = 1. / ((double)dh / sh);
	int width = dw * 3;
	faced_area_tab *xtab = malloc(sizeof(faced_area_tab) * (size_t)(sw + sh) * 2);
	float *buf = malloc(sizeof(float) * (size_t)width * 2);
	if (!xtab || !buf) {
		free(xtab);
		free(buf);
		return -1;
	}
	faced_area_tab *ytab = xtab + sw * 2;
	float *sum = buf + width;
	int xn = faced_area_table(sw, dw, 3, scale_x, xtab);
	int yn = faced_area_table(sh, dh, 1, scale_y, ytab);
	int prev_dy = ytab[0].di, row = -1;
	memset(sum, 0, sizeof(float) * width);
	for (int j = 0; j < yn; j++) {
		float beta = ytab[j].alpha;
		int dy = ytab[j].di, sy = ytab[j].si;
		if (sy != row) {
			faced_area_row(src + sstep * sy, sw * 3, xtab, xn, buf, width);
			row = sy;
		}
		if (dy != prev_dy) {
			faced_area_store(dst + dstep * prev_dy, sum, width);
			faced_area_acc(sum, buf, beta, width, 1);
			prev_dy = dy;
		} else {
			faced_area_acc(sum, buf, beta, width, 0);
		}
	}
	faced_area_store(dst + dstep * prev_dy, sum, width);
	free(xtab);
	free(buf);
	return 0;
}
*/
import "C"

import (
	"image"
	"math"
	"unsafe"

	"gocv.io/x/gocv"
)

// ResizeArea resizes src to w×h with OpenCV's INTER_AREA into dst: for a
// BGR 8-bit image reduced by factors that are not both whole numbers,
// faced's own implementation of OpenCV's algorithm (the same pixels, bit
// for bit; TestResizeAreaMatchesOpenCV); otherwise gocv.Resize itself.
// Unlike gocv.Resize, it may replace *dst by a new Mat (when its size or
// type differ): copies of the Mat value taken before are then stale. src
// and dst may be the same Mat (then OpenCV resizes).
func ResizeArea(src gocv.Mat, dst *gocv.Mat, w, h int) {
	sw, sh := src.Cols(), src.Rows()
	if src.Empty() || src.Type() != gocv.MatTypeCV8UC3 || !src.IsContinuous() || !ownScale(sw, sh, w, h) || src.Ptr() == dst.Ptr() {
		gocv.Resize(src, dst, image.Pt(w, h), 0, 0, gocv.InterpolationArea)
		return
	}
	if dst.Empty() || dst.Cols() != w || dst.Rows() != h || dst.Type() != gocv.MatTypeCV8UC3 {
		dst.Close()
		*dst = gocv.NewMatWithSize(h, w, gocv.MatTypeCV8UC3)
	}
	sp, err1 := src.DataPtrUint8()
	dp, err2 := dst.DataPtrUint8()
	if err1 != nil || err2 != nil || !areaBytes(sp, src.Step(), sw, sh, dp, w, h) {
		gocv.Resize(src, dst, image.Pt(w, h), 0, 0, gocv.InterpolationArea)
	}
}

// areaBytes is ResizeArea on raw pixels: the sw×sh BGR image at the start
// of src (rows stride bytes apart) resized to w×h into dst (w·h·3 bytes).
// It reports false, having done nothing, when the sizes are not a case it
// computes itself (ownScale) or the buffers are too short.
func areaBytes(src []byte, stride, sw, sh int, dst []byte, w, h int) bool {
	if !ownScale(sw, sh, w, h) || stride < sw*3 || len(src) < (sh-1)*stride+sw*3 || len(dst) < w*h*3 {
		return false
	}
	return C.faced_resize_area3((*C.uchar)(unsafe.Pointer(&src[0])), C.int(sw), C.int(sh), C.size_t(stride),
		(*C.uchar)(unsafe.Pointer(&dst[0])), C.int(w), C.int(h), C.size_t(w*3)) == 0
}

// ownScale reports whether a sw×sh image resized to w×h is a case
// ResizeArea computes itself: a reduction (no side enlarged) by factors
// that are not both whole numbers (OpenCV's other path, resizeAreaFast).
func ownScale(sw, sh, w, h int) bool {
	if w <= 0 || h <= 0 || w > sw || h > sh {
		return false
	}
	// cv::resize's own test for its integer-factor path.
	sx, sy := 1/(float64(w)/float64(sw)), 1/(float64(h)/float64(sh))
	fast := math.Abs(sx-math.Round(sx)) < 2.220446049250313e-16 && math.Abs(sy-math.Round(sy)) < 2.220446049250313e-16
	return !fast
}
