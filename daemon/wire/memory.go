package wire

import (
	"os"
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
	ort    models.MemoryOptions
	trim   bool // malloc_trim after each analysis
	arenas int  // glibc malloc arenas (0: glibc's default)
}

// memoryMode returns the low-memory mode (the default). FACED_MEM=off
// restores the ONNX Runtime and glibc defaults; FACED_MEM=LIST picks from
// noarena, nopattern, trim, arenas2 (for measurements).
func memoryMode() memMode {
	v, set := os.LookupEnv("FACED_MEM")
	if !set {
		return memMode{ort: models.MemoryOptions{NoCPUArena: true, NoMemPattern: true}, trim: true, arenas: 2}
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
		case "arenas2":
			m.arenas = 2
		}
	}
	return m
}
