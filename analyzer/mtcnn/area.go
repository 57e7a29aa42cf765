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
// decoded at 1/4 spent 7-10 ms of CPU in it). The horizontal pass works
// on the source row converted to floats once, each destination pixel's
// terms padded with zero weights to a fixed count (so that eight pixels
// are summed side by side, two per AVX2 vector where the CPU has it).

/*
#cgo CFLAGS: -O2
// Products and sums rounded one by one, as OpenCV's build does them (a
// fused multiply-add would change the last bits).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#endif
#include <math.h>
#include <emmintrin.h>
#include <immintrin.h>
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

static int faced_avx2(void);

// faced_area_cols is the horizontal table regrouped by destination
// pixel: every pixel gets k terms (source float offset, weight), the
// pixel's own in OpenCV's order followed by zero-weight padding (adding
// 0·v = +0 to a sum leaves it unchanged, so the sums are the same floats).
typedef struct {
	int k;
	int *si;
	float *al;
} faced_area_cols;

static void faced_area_cols_free(faced_area_cols *c) {
	free(c->si);
	free(c->al);
}

static int faced_area_cols_make(const faced_area_tab *xtab, int xn, int dw, faced_area_cols *c) {
	int k = 0;
	for (int i = 0; i < xn;) {
		int j = i;
		while (j < xn && xtab[j].di == xtab[i].di) j++;
		if (j - i > k) k = j - i;
		i = j;
	}
	if (k == 0) k = 1;
	c->k = k;
	c->si = calloc((size_t)dw * k, sizeof(int));
	c->al = calloc((size_t)dw * k, sizeof(float));
	if (!c->si || !c->al) {
		faced_area_cols_free(c);
		return -1;
	}
	for (int i = 0; i < xn;) {
		int d = xtab[i].di / 3, n = 0;
		for (; i < xn && xtab[i].di == d * 3; i++, n++) {
			c->si[d * k + n] = xtab[i].si;
			c->al[d * k + n] = xtab[i].alpha;
		}
		for (int m = n; m < k; m++) {
			c->si[d * k + m] = c->si[d * k + (n > 0 ? n - 1 : 0)];
			c->al[d * k + m] = 0;
		}
	}
	return 0;
}

// faced_area_floats converts a source row of n bytes to floats (f has
// room for n + 4; the 4 spare floats are zeroed: the fourth lane of the
// last pixel's vector reads one of them).
__attribute__((target("avx2"))) static int faced_area_floats_avx2(const unsigned char *S, int n, float *f) {
	int i = 0;
	for (; i + 16 <= n; i += 16) {
		__m128i b = _mm_loadu_si128((const __m128i *)(S + i));
		_mm256_storeu_ps(f + i, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b)));
		_mm256_storeu_ps(f + i + 8, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_unpackhi_epi64(b, b))));
	}
	return i;
}

static void faced_area_floats(const unsigned char *S, int n, float *f) {
	const __m128i zero = _mm_setzero_si128();
	int i = faced_avx2() ? faced_area_floats_avx2(S, n, f) : 0;
	for (; i + 16 <= n; i += 16) {
		__m128i b = _mm_loadu_si128((const __m128i *)(S + i));
		__m128i lo = _mm_unpacklo_epi8(b, zero), hi = _mm_unpackhi_epi8(b, zero);
		_mm_storeu_ps(f + i, _mm_cvtepi32_ps(_mm_unpacklo_epi16(lo, zero)));
		_mm_storeu_ps(f + i + 4, _mm_cvtepi32_ps(_mm_unpackhi_epi16(lo, zero)));
		_mm_storeu_ps(f + i + 8, _mm_cvtepi32_ps(_mm_unpacklo_epi16(hi, zero)));
		_mm_storeu_ps(f + i + 12, _mm_cvtepi32_ps(_mm_unpackhi_epi16(hi, zero)));
	}
	for (; i < n; i++) f[i] = (float)S[i];
	f[n] = f[n + 1] = f[n + 2] = f[n + 3] = 0;
}

// faced_area_row_sse is the horizontal pass over one source row (as
// floats, f) into buf (room for 3·dw + 1 floats): the three channels of a
// term in one SSE vector, four destination pixels' sums at a time in
// separate registers (the same IEEE single products and sums, in the same
// order, as one channel and one pixel at a time).
static void faced_area_row_sse(const float *f, const faced_area_cols *c, int d, int dw, float *buf) {
	const int k = c->k;
	for (; d + 4 <= dw; d += 4) {
		const int *si = c->si + d * k;
		const float *al = c->al + d * k;
		__m128 t0 = _mm_setzero_ps(), t1 = _mm_setzero_ps(), t2 = _mm_setzero_ps(), t3 = _mm_setzero_ps();
		for (int j = 0; j < k; j++) {
			t0 = _mm_add_ps(t0, _mm_mul_ps(_mm_loadu_ps(f + si[j]), _mm_set1_ps(al[j])));
			t1 = _mm_add_ps(t1, _mm_mul_ps(_mm_loadu_ps(f + si[k + j]), _mm_set1_ps(al[k + j])));
			t2 = _mm_add_ps(t2, _mm_mul_ps(_mm_loadu_ps(f + si[2 * k + j]), _mm_set1_ps(al[2 * k + j])));
			t3 = _mm_add_ps(t3, _mm_mul_ps(_mm_loadu_ps(f + si[3 * k + j]), _mm_set1_ps(al[3 * k + j])));
		}
		// Each store's fourth lane is overwritten by the next pixel (or
		// lands in buf's spare float).
		_mm_storeu_ps(buf + 3 * d, t0);
		_mm_storeu_ps(buf + 3 * d + 3, t1);
		_mm_storeu_ps(buf + 3 * d + 6, t2);
		_mm_storeu_ps(buf + 3 * d + 9, t3);
	}
	for (; d < dw; d++) {
		const int *si = c->si + d * k;
		const float *al = c->al + d * k;
		__m128 t = _mm_setzero_ps();
		for (int j = 0; j < k; j++) {
			t = _mm_add_ps(t, _mm_mul_ps(_mm_loadu_ps(f + si[j]), _mm_set1_ps(al[j])));
		}
		_mm_storeu_ps(buf + 3 * d, t);
	}
}

// faced_area_row_avx2 is faced_area_row_sse with two destination pixels
// per AVX vector (eight per step): the same operations lane by lane. It
// returns the first pixel left for the SSE loop.
__attribute__((target("avx2"))) static int faced_area_row_avx2(const float *f, const faced_area_cols *c, int dw, float *buf) {
	const int k = c->k;
	int d = 0;
	// Eight pixels (four independent sums) per step keep the adders busy.
	for (; d + 8 <= dw; d += 8) {
		const int *si = c->si + d * k;
		const float *a = c->al + d * k;
		__m256 t0 = _mm256_setzero_ps(), t1 = _mm256_setzero_ps(), t2 = _mm256_setzero_ps(), t3 = _mm256_setzero_ps();
		for (int j = 0; j < k; j++) {
			__m256 v0 = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(f + si[j])), _mm_loadu_ps(f + si[k + j]), 1);
			__m256 v1 = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(f + si[2 * k + j])), _mm_loadu_ps(f + si[3 * k + j]), 1);
			__m256 v2 = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(f + si[4 * k + j])), _mm_loadu_ps(f + si[5 * k + j]), 1);
			__m256 v3 = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(f + si[6 * k + j])), _mm_loadu_ps(f + si[7 * k + j]), 1);
			t0 = _mm256_add_ps(t0, _mm256_mul_ps(v0, _mm256_set_m128(_mm_set1_ps(a[k + j]), _mm_set1_ps(a[j]))));
			t1 = _mm256_add_ps(t1, _mm256_mul_ps(v1, _mm256_set_m128(_mm_set1_ps(a[3 * k + j]), _mm_set1_ps(a[2 * k + j]))));
			t2 = _mm256_add_ps(t2, _mm256_mul_ps(v2, _mm256_set_m128(_mm_set1_ps(a[5 * k + j]), _mm_set1_ps(a[4 * k + j]))));
			t3 = _mm256_add_ps(t3, _mm256_mul_ps(v3, _mm256_set_m128(_mm_set1_ps(a[7 * k + j]), _mm_set1_ps(a[6 * k + j]))));
		}
		// Each store's fourth lane is overwritten by the next pixel's.
		float *o = buf + 3 * d;
		_mm_storeu_ps(o, _mm256_castps256_ps128(t0));
		_mm_storeu_ps(o + 3, _mm256_extractf128_ps(t0, 1));
		_mm_storeu_ps(o + 6, _mm256_castps256_ps128(t1));
		_mm_storeu_ps(o + 9, _mm256_extractf128_ps(t1, 1));
		_mm_storeu_ps(o + 12, _mm256_castps256_ps128(t2));
		_mm_storeu_ps(o + 15, _mm256_extractf128_ps(t2, 1));
		_mm_storeu_ps(o + 18, _mm256_castps256_ps128(t3));
		_mm_storeu_ps(o + 21, _mm256_extractf128_ps(t3, 1));
	}
	return d;
}

// faced_area_row is the horizontal pass over one source row S of
// rowbytes bytes (f: room for rowbytes + 4 floats) into buf.
static void faced_area_row(const unsigned char *S, int rowbytes, float *f, const faced_area_cols *c, int dw, float *buf) {
	faced_area_floats(S, rowbytes, f);
	int d = faced_avx2() ? faced_area_row_avx2(f, c, dw, buf) : 0;
	faced_area_row_sse(f, c, d, dw, buf);
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
__attribute__((target("avx2"))) static int faced_area_acc_avx2(float *sum, const float *buf, float beta, int width, int first) {
	const __m256 b = _mm256_set1_ps(beta);
	int dx = 0;
	for (; dx + 8 <= width; dx += 8) {
		__m256 p = _mm256_mul_ps(b, _mm256_loadu_ps(buf + dx));
		_mm256_storeu_ps(sum + dx, first ? p : _mm256_add_ps(_mm256_loadu_ps(sum + dx), p));
	}
	return dx;
}

static int faced_has_avx2 = -1;

static int faced_avx2(void) {
	if (faced_has_avx2 < 0) {
		__builtin_cpu_init();
		faced_has_avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
	}
	return faced_has_avx2;
}

static void faced_set_sse_only(int on) { faced_has_avx2 = on ? 0 : -1; }

static void faced_area_acc(float *sum, const float *buf, float beta, int width, int first) {
	const __m128 b = _mm_set1_ps(beta);
	int dx = faced_avx2() ? faced_area_acc_avx2(sum, buf, beta, width, first) : 0;
	for (; dx + 4 <= width; dx += 4) {
		__m128 p = _mm_mul_ps(b, _mm_loadu_ps(buf + dx));
		_mm_storeu_ps(sum + dx, first ? p : _mm_add_ps(_mm_loadu_ps(sum + dx), p));
	}
	for (; dx < width; dx++) {
		sum[dx] = first ? beta * buf[dx] : sum[dx] + beta * buf[dx];
	}
}

// faced_area_floats3 is faced_area_floats for a row held as three
// planes (B, G, R): the same interleaved floats.
static void faced_area_floats3(const unsigned char *b, const unsigned char *g, const unsigned char *r, int sw, float *f) {
	for (int x = 0; x < sw; x++) {
		f[3 * x] = (float)b[x];
		f[3 * x + 1] = (float)g[x];
		f[3 * x + 2] = (float)r[x];
	}
	int n = sw * 3;
	f[n] = f[n + 1] = f[n + 2] = f[n + 3] = 0;
}

// faced_resize_area3 resizes the sw×sh BGR image src (rows sstep bytes
// apart) to the dw×dh image dst (rows dstep bytes apart); or, when planes
// is not NULL, the image held as three planes B, G, R (rows sstep bytes
// apart; src unused). 0, or -1 when out of memory.
static int faced_resize_area3(const unsigned char *src, const unsigned char *const *planes, int sw, int sh, size_t sstep,
		unsigned char *dst, int dw, int dh, size_t dstep) {
	// As cv::resize: the scale is the inverse of dsize/ssize.
	double scale_x = 1. / ((double)dw / sw), scale_y = 1. / ((double)dh / sh);
	int width = dw * 3;
	faced_area_tab *xtab = malloc(sizeof(faced_area_tab) * (size_t)(sw + sh) * 2);
	float *buf = malloc(sizeof(float) * ((size_t)width * 2 + 1 + (size_t)sw * 3 + 4));
	if (!xtab || !buf) {
		free(xtab);
		free(buf);
		return -1;
	}
	faced_area_tab *ytab = xtab + sw * 2;
	float *sum = buf + width + 1;
	float *frow = sum + width;
	int xn = faced_area_table(sw, dw, 3, scale_x, xtab);
	int yn = faced_area_table(sh, dh, 1, scale_y, ytab);
	faced_area_cols cols;
	if (faced_area_cols_make(xtab, xn, dw, &cols) != 0) {
		free(xtab);
		free(buf);
		return -1;
	}
	int prev_dy = ytab[0].di, row = -1;
	memset(sum, 0, sizeof(float) * width);
	for (int j = 0; j < yn; j++) {
		float beta = ytab[j].alpha;
		int dy = ytab[j].di, sy = ytab[j].si;
		if (sy != row) {
			if (planes) {
				faced_area_floats3(planes[0] + sstep * sy, planes[1] + sstep * sy, planes[2] + sstep * sy, sw, frow);
				int d = faced_avx2() ? faced_area_row_avx2(frow, &cols, dw, buf) : 0;
				faced_area_row_sse(frow, &cols, d, dw, buf);
			} else {
				faced_area_row(src + sstep * sy, sw * 3, frow, &cols, dw, buf);
			}
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
	faced_area_cols_free(&cols);
	free(xtab);
	free(buf);
	return 0;
}

static int faced_resize_area_planes(const unsigned char *b, const unsigned char *g, const unsigned char *r, int sw, int sh,
		size_t sstep, unsigned char *dst, int dw, int dh, size_t dstep) {
	const unsigned char *planes[3] = {b, g, r};
	return faced_resize_area3(NULL, planes, sw, sh, sstep, dst, dw, dh, dstep);
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

// setSSEOnly makes ResizeArea use its SSE2 code even where AVX2 is
// available (tests), or goes back to detecting it.
func setSSEOnly(on bool) {
	v := 0
	if on {
		v = 1
	}
	C.faced_set_sse_only(C.int(v))
}

// areaBytes is ResizeArea on raw pixels: the sw×sh BGR image at the start
// of src (rows stride bytes apart) resized to w×h into dst (w·h·3 bytes).
// It reports false, having done nothing, when the sizes are not a case it
// computes itself (ownScale) or the buffers are too short.
func areaBytes(src []byte, stride, sw, sh int, dst []byte, w, h int) bool {
	if !ownScale(sw, sh, w, h) || stride < sw*3 || len(src) < (sh-1)*stride+sw*3 || len(dst) < w*h*3 {
		return false
	}
	return C.faced_resize_area3((*C.uchar)(unsafe.Pointer(&src[0])), nil, C.int(sw), C.int(sh), C.size_t(stride),
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

// ResizeAreaPlanes is ResizeArea for a BGR image held as three 8-bit
// planes b, g, r (sw×sh, rows stride bytes apart; a decoder's, libheif's):
// the same pixels as ResizeArea on the interleaved image, without making
// it. It reports false, having done nothing, where ResizeArea would leave
// the work to OpenCV (not a reduction by a non-integer factor) or a plane
// is too short. dst is replaced by a new w×h BGR Mat (close the old one
// first if it held one).
func ResizeAreaPlanes(b, g, r []byte, stride, sw, sh int, dst *gocv.Mat, w, h int) bool {
	need := (sh-1)*stride + sw
	if !ownScale(sw, sh, w, h) || stride < sw || len(b) < need || len(g) < need || len(r) < need {
		return false
	}
	m := gocv.NewMatWithSizes([]int{h, w}, gocv.MatTypeCV8UC3)
	dp, err := m.DataPtrUint8()
	if err != nil || len(dp) < w*h*3 {
		m.Close()
		return false
	}
	if C.faced_resize_area_planes((*C.uchar)(unsafe.Pointer(&b[0])), (*C.uchar)(unsafe.Pointer(&g[0])), (*C.uchar)(unsafe.Pointer(&r[0])),
		C.int(sw), C.int(sh), C.size_t(stride), (*C.uchar)(unsafe.Pointer(&dp[0])), C.int(w), C.int(h), C.size_t(w*3)) != 0 {
		m.Close()
		return false
	}
	*dst = m
	return true
}
