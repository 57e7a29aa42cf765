package heif

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"gocv.io/x/gocv"
	"golang.org/x/sys/unix"
)

// formats is the shared test data folder of real HEIF/AVIF files.
const formats = "../../../shared/testdata/photos/formats"

func readFormat(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(formats, name))
	if err != nil {
		t.Skipf("test data %s absent (../shared/testdata): %v", name, err)
	}
	return b
}

// synthetic is a 1200×900 BGR image with gradients, edges and colours
// for the codecs to keep.
func synthetic() gocv.Mat {
	m := gocv.NewMatWithSize(900, 1200, gocv.MatTypeCV8UC3)
	d, _ := m.DataPtrUint8()
	for y := 0; y < 900; y++ {
		for x := 0; x < 1200; x++ {
			i := (y*1200 + x) * 3
			d[i] = uint8(x * 255 / 1199)
			d[i+1] = uint8(y * 255 / 899)
			d[i+2] = uint8(((x / 40) + (y / 40)) % 2 * 200)
		}
	}
	return m
}

// TestFacedDecoderMatchesLibheif: faced's decoders (libavcodec HEVC, dav1d
// AV1, converting to RGB themselves) give libheif's own decoders' pixels
// within rounding, on real phone and sample files (grid HEIC with an ICC
// profile, Samsung HEIC, 8- and 10-bit AVIF with nclx) and on files
// libheif writes (4:2:0 lossy, 4:4:4 lossless, rotated).
func TestFacedDecoderMatchesLibheif(t *testing.T) {
	ensureInit()
	if registered&1 == 0 {
		t.Fatal("faced's HEVC decoder was not registered (libavcodec without HEVC?)")
	}
	if registered&2 == 0 {
		t.Fatal("faced's AV1 decoder was not registered (libavcodec without libdav1d?)")
	}
	files := map[string][]byte{}
	for _, n := range []string{"IMG_2682.heic", "samsung-one-ui-6.heic", "8bit-sRGB.avif", "10bit-HDR-P3-nclx.avif"} {
		if b, err := os.ReadFile(filepath.Join(formats, n)); err == nil {
			files[n] = b
		} else {
			t.Logf("%s absent (../shared/testdata): only the encoded files", n)
		}
	}
	src := synthetic()
	defer src.Close()
	dir := t.TempDir()
	for _, c := range []struct {
		name            string
		codec           Codec
		quality, orient int
	}{
		{"q80.heic", HEVC, 80, 1},
		{"lossless-o6.heic", HEVC, -1, 6},
		{"q80-o3.avif", AV1, 80, 3},
	} {
		p := filepath.Join(dir, c.name)
		if err := Encode(p, src, c.codec, c.quality, c.orient, 0); err != nil {
			t.Fatalf("encode %s: %v", c.name, err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[c.name] = b
	}
	for name, b := range files {
		t.Run(name, func(t *testing.T) {
			got, gi, err := DecodeWith(b, DecoderFaced)
			if err != nil {
				t.Fatalf("faced decoder: %v", err)
			}
			defer got.Close()
			want, wi, err := DecodeWith(b, DecoderLibheif)
			if err != nil {
				t.Fatalf("libheif decoder: %v", err)
			}
			defer want.Close()
			if gi.Width != wi.Width || gi.Height != wi.Height || got.Cols() != want.Cols() || got.Rows() != want.Rows() {
				t.Fatalf("size %dx%d, libheif %dx%d", got.Cols(), got.Rows(), want.Cols(), want.Rows())
			}
			g, _ := got.DataPtrUint8()
			w, _ := want.DataPtrUint8()
			var maxd, sum int
			for i := range g {
				d := int(g[i]) - int(w[i])
				if d < 0 {
					d = -d
				}
				maxd = max(maxd, d)
				sum += d
			}
			mean := float64(sum) / float64(len(g))
			t.Logf("%dx%d: max difference %d, mean %.4f", got.Cols(), got.Rows(), maxd, mean)
			// Both decoders are exact HEVC/AV1 decoders; what differs is
			// the YCbCr→RGB rounding (fixed point here, float in libheif).
			if maxd > 2 || mean > 0.05 {
				t.Errorf("pixels differ from libheif's: max %d, mean %.4f", maxd, mean)
			}
		})
	}
}

// BenchmarkDecode decodes the real files with faced's and libheif's
// decoders. cpu-ms/op is the decoding thread's CPU time, min-cpu-ms the
// least of the runs: the figures to trust on a shared machine.
func BenchmarkDecode(b *testing.B) {
	for _, n := range []string{"IMG_2682.heic", "samsung-one-ui-6.heic", "8bit-sRGB.avif"} {
		buf := readFormat(b, n)
		for _, dec := range []struct{ name, id string }{{"faced", DecoderFaced}, {"libheif", DecoderLibheif}} {
			b.Run(n+"/"+dec.name, func(b *testing.B) {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				var sum, least time.Duration
				for i := 0; i < b.N; i++ {
					c0 := threadCPU()
					m, _, err := DecodeWith(buf, dec.id)
					c := threadCPU() - c0
					if err != nil {
						b.Fatal(err)
					}
					m.Close()
					sum += c
					if i == 0 || c < least {
						least = c
					}
				}
				b.ReportMetric(float64(sum)/1e6/float64(b.N), "cpu-ms/op")
				b.ReportMetric(float64(least)/1e6, "min-cpu-ms")
			})
		}
	}
}

// threadCPU is the calling thread's CPU time (the caller locks the
// goroutine to its thread).
func threadCPU() time.Duration {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts)
	return time.Duration(ts.Nano())
}
