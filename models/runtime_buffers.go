package models

import (
	"sync"
	"unsafe"
)

// FreeList keeps large buffers (network inputs, photo file contents) for
// reuse from one analysis to the next. Allocated anew for each photo, such
// buffers are zeroed, given back to the OS by the Go heap and page-faulted
// in again: on 12 MP photos about 1 000 page faults, several ms of kernel
// time, per photo. Unlike sync.Pool, a FreeList keeps its buffers across
// garbage collections (which run several times per photo here). It holds
// at most 8 buffers, none larger than 8 MB (a rare huge buffer, e.g. the
// zero-padded patch of a box across a large image's border, is left to the
// garbage collector rather than kept for the life of the process); as
// many exist as were in use at the same time (one per worker). The zero
// value is ready for use and safe for concurrent use.
type FreeList[E any] struct {
	mu         sync.Mutex
	free       [][]E
	registered bool // in freeLists, for ReleaseFreeLists
}

// freeLists holds every FreeList that kept a buffer, for ReleaseFreeLists.
var freeLists struct {
	mu  sync.Mutex
	all []interface{ release() }
}

// ReleaseFreeLists drops the buffers every FreeList keeps (the garbage
// collector frees them; the next analyses allocate anew). An idle daemon
// calls it before returning its memory to the kernel: the lists otherwise
// hold the last photos' file contents and network inputs (tens of MiB
// with 12 MP photos) for as long as the process lives.
func ReleaseFreeLists() {
	freeLists.mu.Lock()
	all := freeLists.all
	freeLists.mu.Unlock()
	for _, l := range all {
		l.release()
	}
}

func (l *FreeList[E]) release() {
	l.mu.Lock()
	clear(l.free)
	l.free = l.free[:0]
	l.mu.Unlock()
}

// freeListMax bounds the buffers a FreeList keeps (more than the workers
// of any configuration in use), freeListMaxBytes the size of one.
const (
	freeListMax      = 8
	freeListMaxBytes = 8 << 20
)

// Get returns a slice of length n. Its contents are unspecified (whatever
// the buffer held last): callers overwrite all of it, or use it as
// Get(n)[:0] to append to.
func (l *FreeList[E]) Get(n int) []E {
	l.mu.Lock()
	var b []E
	if k := len(l.free); k > 0 {
		b = l.free[k-1]
		l.free = l.free[:k-1]
	}
	l.mu.Unlock()
	if cap(b) < n {
		b = make([]E, n)
	}
	return b[:n]
}

// Put gives b back for reuse; the caller must not use it afterwards.
func (l *FreeList[E]) Put(b []E) {
	var e E
	if cap(b) == 0 || uintptr(cap(b))*unsafe.Sizeof(e) > freeListMaxBytes {
		return
	}
	l.mu.Lock()
	if len(l.free) < freeListMax {
		l.free = append(l.free, b[:0])
	}
	reg := !l.registered
	l.registered = true
	l.mu.Unlock()
	if reg {
		freeLists.mu.Lock()
		freeLists.all = append(freeLists.all, l)
		freeLists.mu.Unlock()
	}
}
