package models

import "testing"

func TestFreeList(t *testing.T) {
	var l FreeList[float32]
	a := l.Get(100)
	if len(a) != 100 {
		t.Fatalf("Get(100): len %d", len(a))
	}
	a[0] = 7
	l.Put(a)
	if b := l.Get(50); len(b) != 50 || &b[0] != &a[0] {
		t.Errorf("Get(50) after Put of a 100-buffer: len %d, same array %v; want 50, true", len(b), len(b) > 0 && &b[0] == &a[0])
	}
	l.Put(a)
	if c := l.Get(200); len(c) != 200 || &c[0] == &a[0] {
		t.Errorf("Get(200) with only a 100-buffer free: len %d, reused the small array %v", len(c), &c[0] == &a[0])
	}
	for i := 0; i < 2*freeListMax; i++ {
		l.Put(make([]float32, 1))
	}
	if len(l.free) != freeListMax {
		t.Errorf("%d buffers kept, want at most %d", len(l.free), freeListMax)
	}
	l.Put(nil) // nothing to keep
	if len(l.free) != freeListMax {
		t.Errorf("Put(nil) changed the list to %d", len(l.free))
	}
	var big FreeList[float64]
	big.Put(make([]float64, freeListMaxBytes/8+1))
	big.Put(make([]float64, freeListMaxBytes/8))
	if len(big.free) != 1 || cap(big.free[0]) != freeListMaxBytes/8 {
		t.Errorf("kept %d buffers; want only the one of %d bytes", len(big.free), freeListMaxBytes)
	}
}

// TestReleaseFreeLists: an idle daemon's ReleaseFreeLists empties every
// list that kept a buffer, and the lists work as before afterwards.
func TestReleaseFreeLists(t *testing.T) {
	var a FreeList[byte]
	var b FreeList[float32]
	a.Put(make([]byte, 1<<20))
	a.Put(make([]byte, 1<<20))
	b.Put(make([]float32, 1<<10))
	ReleaseFreeLists()
	if len(a.free) != 0 || len(b.free) != 0 {
		t.Fatalf("after ReleaseFreeLists: %d and %d buffers kept, want none", len(a.free), len(b.free))
	}
	x := a.Get(10)
	a.Put(x)
	if y := a.Get(10); &y[0] != &x[0] {
		t.Error("a list no longer reuses its buffers after ReleaseFreeLists")
	}
	a.Put(x)
	ReleaseFreeLists()
	if len(a.free) != 0 {
		t.Errorf("a second ReleaseFreeLists left %d buffers", len(a.free))
	}
}
