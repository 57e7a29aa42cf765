package daemon

import (
	"testing"
	"time"
)

// Another process (facedctl persons name|merge|...) changes the index while
// the daemon is idle: within PollInterval the clusterer is asked to follow
// and the sidecars whose export revision moved are written again.
func TestIdlePollPicksUpOtherProcessesEdits(t *testing.T) {
	r := newRig(t, Options{PollInterval: 100 * time.Millisecond})
	a := r.write(t, "a.jpg", "faces=1")
	r.start(t)
	waitFor(t, "the first sidecar", func() bool { return sidecar(a) == "faces: 1\n" })
	waitFor(t, "idle", func() bool { return r.d.idle.Load() })
	calls := r.cl.calls.Load()
	r.editFaces(a, 3)
	waitFor(t, "the edit in the sidecar", func() bool { return sidecar(a) == "faces: 3\n" })
	if r.cl.calls.Load() <= calls {
		t.Error("the clusterer was not asked to follow the edit")
	}
	if n := r.st.analyses(a); n != 1 {
		t.Errorf("a.jpg analysed %d times, want 1 (an edit needs no analysis)", n)
	}
}

// Without user edits an idle daemon polls only every PollInterval.
func TestIdlePollInterval(t *testing.T) {
	r := newRig(t, Options{PollInterval: 300 * time.Millisecond})
	r.start(t)
	waitFor(t, "idle", func() bool { return r.d.idle.Load() })
	c0 := r.cl.calls.Load()
	time.Sleep(time.Second)
	if n := r.cl.calls.Load() - c0; n < 1 || n > 5 {
		t.Errorf("%d clusterer polls in 1 s at a 300 ms interval, want 2-4 (1-5 under load)", n)
	}
}

// An edit through the local API kicks the daemon: its sidecars are written
// at once, not at the next poll (an hour away here).
func TestKickWritesEditsSidecarsAtOnce(t *testing.T) {
	r := newRig(t, Options{PollInterval: time.Hour})
	a := r.write(t, "a.jpg", "faces=1")
	r.start(t)
	waitFor(t, "the first sidecar", func() bool { return sidecar(a) == "faces: 1\n" })
	waitFor(t, "idle", func() bool { return r.d.idle.Load() })
	calls := r.cl.calls.Load()
	r.editFaces(a, 3)
	r.d.Kick()
	waitFor(t, "the edit in the sidecar", func() bool { return sidecar(a) == "faces: 3\n" })
	if r.cl.calls.Load() <= calls {
		t.Error("the clusterer was not asked to follow the edit")
	}
}

// editFaces does to the index what a user edit does: new content (n faces)
// for p's sidecar, and a new export revision.
func (r *rig) editFaces(p string, n int) {
	r.st.mu.Lock()
	defer r.st.mu.Unlock()
	f := r.st.files[p]
	f.faces = n
	f.rev++
}
