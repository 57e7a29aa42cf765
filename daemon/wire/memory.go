package wire

import (
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/faced/faced/models"
)

// memMode is how the daemon keeps its native memory (ONNX Runtime, OpenCV)
// small. Measured on a burst of 1 000 small photos (peak RSS; 127 MiB of
// it is the loaded models; loaded 2-core machine), see daemon/README.md:
// ORT defaults 276 MiB; no CPU arena alone 413 MiB (worse); no arena + no
// memory pattern 288 MiB; malloc_trim alone 270 MiB; all three 238 MiB;
// plus 2 malloc arenas 225 MiB.
type memMode struct {
	ort  models.MemoryOptions
	trim bool // malloc_trim after analyses
	// trimEvery: malloc_trim after every trimEvery-th analysis (0, 1: each).
	trimEvery int
	arenas    int // glibc malloc arenas (0: glibc's default)
	// trimBudget: trim only while the resident set is above this many
	// bytes (0: whatever it is).
	trimBudget int64
	// mmapThreshold, trimThreshold: glibc's M_MMAP_THRESHOLD and
	// M_TRIM_THRESHOLD in bytes (0: glibc's dynamic default).
	mmapThreshold, trimThreshold int
}

// defaultTrimEvery is how often malloc_trim runs in the default mode: after
// every 8th analysis (and once the analyses stop, see trimmer). After every
// analysis it returned the big buffers of 12 MP photos to the kernel only
// for the next photo to fault them in again: on 40 such photos (2 workers,
// loaded machine) 1.0 M page faults and 61-92 ms of system CPU per photo;
// every 8th: see daemon/README.md. On the burst of 1 000 small photos,
// peak RSS 224 MiB (each) vs 241-256 (every 4th to 16th) at 38.7 vs 33.7
// ms CPU per photo (each vs every 8th).
const defaultTrimEvery = 8

// The default mode's trim budget and malloc thresholds. Trimming after
// every 8th analysis still cost 12 MP photos 20-25 ms of CPU each (every
// trim returned the 170 MiB working set, faulted in again by the next
// photos); a trim now also needs the resident set above defaultTrimBudget
// and above its level at the last trim (see trimmer), which a reused
// working set never is. glibc's dynamic thresholds unmapped ONNX Runtime's
// freed buffers of a few MiB (mmap) or trimmed them off the heap top, so
// that each analysis faulted them in again; fixed thresholds keep buffers up
// to 32 MiB (glibc's maximum) in the heap and up to 64 MiB of free top.
// Measured (faced run --once, pinned analyzer, 2 workers, loaded machine):
// 22 few-face 12 MP photos 93-103 -> 86-90 ms CPU/photo (FACED_MEM=off
// 85-90), page faults 127-136 k -> 67-82 k, peak RSS 264-284 -> 269-320
// MiB; 40 crowded 12 MP photos see daemon/README.md.
const (
	defaultTrimBudget    = 320 << 20
	defaultMmapThreshold = 32 << 20
	defaultTrimThreshold = 64 << 20
)

// memoryMode returns the low-memory mode (the default). FACED_MEM=off
// restores the ONNX Runtime and glibc defaults; FACED_MEM=LIST picks from
// noarena, nopattern, trim (after each analysis), trimN (after every N-th),
// rssN (trim only above N MiB, at new highs), mmapN and topN (glibc
// M_MMAP_THRESHOLD and M_TRIM_THRESHOLD, MiB), arenas2 (for measurements).
func memoryMode() memMode {
	v, set := os.LookupEnv("FACED_MEM")
	if !set {
		return memMode{ort: models.MemoryOptions{NoCPUArena: true, NoMemPattern: true}, trim: true,
			trimEvery: defaultTrimEvery, arenas: 2, trimBudget: defaultTrimBudget,
			mmapThreshold: defaultMmapThreshold, trimThreshold: defaultTrimThreshold}
	}
	var m memMode
	for _, k := range strings.Split(v, ",") {
		switch strings.TrimSpace(k) {
		case "noarena":
			m.ort.NoCPUArena = true
		case "nopattern":
			m.ort.NoMemPattern = true
		case "trim":
			m.trim = true
		default:
			k = strings.TrimSpace(k)
			// trimN: malloc_trim after every N-th analysis; rssN: only
			// while RSS > N MiB; mmapN, topN: M_MMAP_THRESHOLD and
			// M_TRIM_THRESHOLD in MiB.
			if n, err := strconv.Atoi(strings.TrimPrefix(k, "trim")); err == nil && n > 0 {
				m.trim, m.trimEvery = true, n
			} else if n, err := strconv.Atoi(strings.TrimPrefix(k, "rss")); err == nil && n > 0 {
				m.trimBudget = int64(n) << 20
			} else if n, err := strconv.Atoi(strings.TrimPrefix(k, "mmap")); err == nil && n > 0 {
				m.mmapThreshold = n << 20
			} else if n, err := strconv.Atoi(strings.TrimPrefix(k, "top")); err == nil && n > 0 {
				m.trimThreshold = n << 20
			}
		case "arenas2":
			m.arenas = 2
		}
	}
	return m
}

// residentBytes returns the process's resident set size (Linux
// /proc/self/statm); when it cannot be read, a value above any budget.
func residentBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return math.MaxInt64
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return math.MaxInt64
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return math.MaxInt64
	}
	return pages * int64(os.Getpagesize())
}
