//go:build linux && cgo

package wire

// #include <malloc.h>
import "C"

// trimMalloc returns the C heap's free memory at the top of each arena and
// whole free pages inside them to the kernel (glibc malloc_trim). ONNX
// Runtime and OpenCV allocate through malloc; without it, freed tensors
// and image buffers stay resident in the per-thread arenas.
func trimMalloc() { C.malloc_trim(0) }

// limitMallocArenas caps glibc's malloc arenas (as MALLOC_ARENA_MAX does):
// cgo calls run on whichever OS threads the Go scheduler picks, and each
// thread that allocates may get its own arena, each holding freed memory.
func limitMallocArenas(n int) {
	if n > 0 {
		C.mallopt(C.M_ARENA_MAX, C.int(n))
	}
}

// setMallocThresholds sets glibc's M_MMAP_THRESHOLD (allocations from this
// size on get their own mapping, unmapped when freed) and M_TRIM_THRESHOLD
// (free memory at the top of the heap beyond this goes back to the kernel
// on free); 0 leaves one as it is. Setting either turns off glibc's dynamic
// adjustment of both.
func setMallocThresholds(mmap, trim int) {
	if mmap > 0 {
		C.mallopt(C.M_MMAP_THRESHOLD, C.int(mmap))
	}
	if trim > 0 {
		C.mallopt(C.M_TRIM_THRESHOLD, C.int(trim))
	}
}
