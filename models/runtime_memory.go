package models

import "sync"

// MemoryOptions are process-wide ONNX Runtime memory settings, applied to
// every session opened after SetMemoryOptions (the analyser opens its
// sessions itself, so a long-running process sets them once at start).
type MemoryOptions struct {
	// NoCPUArena turns off ORT's CPU memory arena. The arena keeps every
	// chunk it ever allocated for reuse; with MTCNN's pyramid each photo
	// size runs P-Net on new shapes, so it grows to the largest working set
	// seen and never shrinks. Without it tensors come from malloc and go
	// back at the end of each Run.
	NoCPUArena bool
	// NoMemPattern turns off ORT's memory-pattern planning (one
	// pre-allocated block per input shape, cached per shape: with
	// dynamic shapes a cache that only grows).
	NoMemPattern bool
}

var (
	memMu  sync.Mutex
	memOpt MemoryOptions
)

// SetMemoryOptions sets the memory options of sessions opened from now on.
func SetMemoryOptions(o MemoryOptions) {
	memMu.Lock()
	memOpt = o
	memMu.Unlock()
}

// CurrentMemoryOptions returns the options SetMemoryOptions set.
func CurrentMemoryOptions() MemoryOptions {
	memMu.Lock()
	defer memMu.Unlock()
	return memOpt
}
