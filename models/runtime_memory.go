package models

import (
	"fmt"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

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
	// SharedArena gives every session one CPU arena registered with the
	// ONNX Runtime environment ("session.use_env_allocators"), growing by
	// what each allocation asks (kSameAsRequested) instead of doubling.
	// Each session's own arena keeps the largest working set that session
	// ever had, and doubling leaves up to half of it unused: the four
	// networks' arenas together held ~200 MiB after 12 MP photos. One
	// arena holds what runs at once (the workers' networks), no more.
	// ReleaseSharedArena frees it (when no session is open).
	SharedArena bool
}

// sharedArena is the environment's registered CPU arena, when one is.
var sharedArena struct {
	mu         sync.Mutex
	registered bool
}

// useSharedArena registers the environment's CPU arena when none is.
func useSharedArena() error {
	sharedArena.mu.Lock()
	defer sharedArena.mu.Unlock()
	if sharedArena.registered {
		return nil
	}
	mi, err := ort.GetMemoryInfo()
	if err != nil {
		return err
	}
	// 1 = kSameAsRequested; the rest ORT's defaults (no limit, 1 MiB
	// first chunk, 128 MiB dead bytes per chunk).
	cfg, err := ort.NewArenaCfg(0, 1, -1, -1)
	if err != nil {
		return err
	}
	defer cfg.Destroy()
	if err := ort.CreateAndRegisterAllocator(mi, cfg); err != nil {
		return fmt.Errorf("register the shared CPU arena: %w", err)
	}
	sharedArena.registered = true
	return nil
}

// ReleaseSharedArena unregisters the environment's shared CPU arena, which
// frees it once no session uses it (close them first); the next session
// opened with SharedArena registers a new one.
func ReleaseSharedArena() error {
	sharedArena.mu.Lock()
	defer sharedArena.mu.Unlock()
	if !sharedArena.registered {
		return nil
	}
	mi, err := ort.GetMemoryInfo()
	if err != nil {
		return err
	}
	if err := ort.UnregisterAllocator(mi); err != nil {
		return fmt.Errorf("unregister the shared CPU arena: %w", err)
	}
	sharedArena.registered = false
	return nil
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
