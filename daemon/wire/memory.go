package wire

import (
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/faced/faced/models"
)

// memMode is how the daemon keeps its native memory (ONNX Runtime, OpenCV)
// small. Measured on a burst of 1 000 small photos (peak RSS; 127 MiB of
// it is the loaded models; loaded 2-core machine), see daemon/README.md:
// ORT defaults 276 MiB; no CPU arena alone 413 MiB (worse); no arena + no
// memory pattern 288 MiB; malloc_trim alone 270 MiB; all three 238 MiB;
// plus 2 malloc arenas 225 MiB.
//
// The default now keeps ORT's CPU arena and drops only its memory
// patterns (one block per input shape, the RSS hog), with 2 malloc arenas
// and trims at new highs above 320 MiB. Without the arena every tensor came
// from malloc and large ones from fresh mappings, faulted in at each run.
// faced run --once, 2 workers, same analyzer, machine loaded (load 8-9),
// no arena -> arena (both no pattern, arenas2, trim8 at new highs > 320 MiB):
// 40 crowded 12 MP photos 128-142 -> 120-126 ms CPU/photo, 234-338 k ->
// 160-168 k page faults, peak RSS 425-473 -> 399-426 MiB; 22 few-face
// 12 MP photos 88-95 -> 84-91 ms, peak RSS 283-306 -> 237-249 MiB; burst
// of 1 000 small photos 18.2 -> 18.1-19.2 ms, 283 -> 222-229 MiB.
// Fixed malloc thresholds (FACED_MEM=...,mmap32,top64) changed nothing
// measurable with the arena.
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
	// M_TRIM_THRESHOLD in bytes (0: glibc's dynamic default, under which
	// the threshold rises to the largest block freed, up to 32 MiB, and
	// 12 MP buffers then stay in the arenas once freed).
	mmapThreshold, trimThreshold int
	// releaseIdle: close the analyzer (its ORT sessions and arenas) after
	// this long without analyses (0: never); daemon mode only.
	releaseIdle time.Duration
	// gcPercent: the Go collector's GOGC (0: the runtime's, 100).
	gcPercent int
	// heifDecodes: large HEIF images decoding at once (0: no bound;
	// analyzer.SetLargeHEIFDecodes).
	heifDecodes int
}

// Defaults added for issue 14 (peak RSS with 2 workers on 40 crowded
// 12 MP photos, JPEG and HEIC in turn, faced-lab memory; machine
// contended, one run each): 604-639 MiB with the defaults before; 486
// with a 1 MiB mmap threshold; 472 with it and the shared arena; 447 with
// both and GOGC 25. JPEG only: 353-380 -> 262-276 MiB at 186 -> 188-195
// ms CPU per photo. At peak (smaps) glibc's two arenas held ~290 MiB of
// freed big blocks (decode buffers, Mats, ORT chunks under glibc's dynamic
// mmap threshold, which rises to 32 MiB), the Go heap ~90 MiB (a live
// ~30 MiB doubled by GOGC 100) and ORT's per-session arenas ~100 MiB.
const (
	// defaultMmapThreshold: blocks from 1 MiB on get their own mapping,
	// unmapped when freed, instead of staying in glibc's arenas.
	defaultMmapThreshold = 1 << 20
	// defaultGCPercent: the daemon's Go heap is mostly big buffers that
	// the collector scans for nothing; collecting at +25 % costs little.
	defaultGCPercent = 25
)

// defaultTrimEvery is how often malloc_trim runs in the default mode: after
// every 8th analysis (and once the analyses stop, see trimmer). After every
// analysis it returned the big buffers of 12 MP photos to the kernel only
// for the next photo to fault them in again: on 40 such photos (2 workers,
// loaded machine) 1.0 M page faults and 61-92 ms of system CPU per photo;
// every 8th: see daemon/README.md. On the burst of 1 000 small photos,
// peak RSS 224 MiB (each) vs 241-256 (every 4th to 16th) at 38.7 vs 33.7
// ms CPU per photo (each vs every 8th).
const defaultTrimEvery = 8

// defaultHEIFDecodes: one large HEIF decode at a time. 40 crowded 12 MP
// photos, 2 workers (faced-lab memory, contended): JPEG+HEIC peak 443-474
// -> 379-383 MiB; HEIC only 467 -> 361 MiB, but 1.33 -> 0.85 photos/s (the
// HEVC decode is most of a HEIC's time). FACED_MEM=...,heif2 trades back.
const defaultHEIFDecodes = 1

// defaultTrimBudget: in the default mode a trim also needs the resident
// set above this and above its level at the last trim (see trimmer), which
// a reused working set never is. Trimming after every 8th analysis alone
// still cost 12 MP photos 20-25 ms of CPU each: every trim returned the
// 170 MiB working set, faulted in again by the next photos.
const defaultTrimBudget = 320 << 20

// memoryMode returns the low-memory mode (the default). FACED_MEM=off
// restores the ONNX Runtime and glibc defaults; FACED_MEM=LIST picks from
// noarena, nopattern, trim (after each analysis), trimN (after every N-th),
// rssN (trim only above N MiB, at new highs), mmapN and topN (glibc
// M_MMAP_THRESHOLD and M_TRIM_THRESHOLD, MiB), releaseN (close the
// analyzer after N s without analyses), shared (one ORT arena for all
// sessions, growing by what is asked), gcN (GOGC), heifN (large HEIF
// decodes at once), arenas2 (for measurements).
func memoryMode() memMode {
	v, set := os.LookupEnv("FACED_MEM")
	if !set {
		return memMode{ort: models.MemoryOptions{NoMemPattern: true, SharedArena: true}, trim: true,
			trimEvery: defaultTrimEvery, arenas: 2, trimBudget: defaultTrimBudget, releaseIdle: defaultReleaseIdle,
			mmapThreshold: defaultMmapThreshold, gcPercent: defaultGCPercent, heifDecodes: defaultHEIFDecodes}
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
			} else if n, err := strconv.Atoi(strings.TrimPrefix(k, "release")); err == nil && n > 0 {
				m.releaseIdle = time.Duration(n) * time.Second
			} else if n, err := strconv.Atoi(strings.TrimPrefix(k, "gc")); err == nil && n > 0 {
				m.gcPercent = n
			} else if n, err := strconv.Atoi(strings.TrimPrefix(k, "heif")); err == nil && n > 0 {
				m.heifDecodes = n
			}
		case "shared":
			m.ort.SharedArena = true
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

// releaseMemory hands an idle daemon's freed memory back to the kernel,
// after the analyzer was closed: the buffers the analyzer keeps for its next
// photos (models.ReleaseFreeLists), the Go heap's free pages
// (debug.FreeOSMemory: the runtime's scavenger would return them only
// gradually, and a daemon that sleeps allocates nothing to pace it) and the
// C heap's (malloc_trim: ONNX Runtime, OpenCV, libheif).
func releaseMemory() {
	models.ReleaseFreeLists()
	if err := models.ReleaseSharedArena(); err != nil {
		slog.Warn("release memory", "err", err)
	}
	debug.FreeOSMemory()
	trimMalloc()
}
