package wire

import (
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

// memoryMode returns the low-memory mode (the default). FACED_MEM=off
// restores the ONNX Runtime and glibc defaults; FACED_MEM=LIST picks from
// noarena, nopattern, trim (after each analysis), trimN (after every N-th),
// arenas2 (for measurements).
func memoryMode() memMode {
	v, set := os.LookupEnv("FACED_MEM")
	if !set {
		return memMode{ort: models.MemoryOptions{NoCPUArena: true, NoMemPattern: true}, trim: true,
			trimEvery: defaultTrimEvery, arenas: 2}
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
			// trimN: malloc_trim after every N-th analysis.
			if n, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(k), "trim")); err == nil && n > 0 {
				m.trim, m.trimEvery = true, n
			}
		case "arenas2":
			m.arenas = 2
		}
	}
	return m
}
