package wire

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestTrimmerEveryNthAndWhenIdle(t *testing.T) {
	var n atomic.Int64
	tr := startTrimmer(3, 50*time.Millisecond, func() { n.Add(1) })
	defer tr.stop()
	for range 7 {
		tr.done()
	}
	if got := n.Load(); got != 2 {
		t.Fatalf("after 7 analyses with every 3: %d trims, want 2", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for n.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := n.Load(); got != 3 {
		t.Fatalf("after the analyses stopped: %d trims, want 3 (one idle trim)", got)
	}
	time.Sleep(150 * time.Millisecond)
	if got := n.Load(); got != 3 {
		t.Errorf("idle trim repeated: %d trims, want 3", got)
	}
}

func TestTrimmerEachAnalysisHasNoIdleTrim(t *testing.T) {
	var n atomic.Int64
	tr := startTrimmer(1, 10*time.Millisecond, func() { n.Add(1) })
	defer tr.stop()
	tr.done()
	tr.done()
	time.Sleep(50 * time.Millisecond)
	if got := n.Load(); got != 2 {
		t.Errorf("every 1, 2 analyses: %d trims, want 2", got)
	}
}

func TestNilTrimmer(t *testing.T) {
	var tr *trimmer
	tr.done()
	tr.stop()
	if newTrimmer(memMode{}) != nil {
		t.Error("a memory mode without trim has a trimmer")
	}
}

func TestMemoryModeTrimN(t *testing.T) {
	t.Setenv("FACED_MEM", "noarena,trim16")
	m := memoryMode()
	if !m.trim || m.trimEvery != 16 || !m.ort.NoCPUArena || m.ort.NoMemPattern {
		t.Errorf("FACED_MEM=noarena,trim16: %+v", m)
	}
	t.Setenv("FACED_MEM", "trim")
	if m := memoryMode(); !m.trim || m.trimEvery > 1 {
		t.Errorf("FACED_MEM=trim: %+v", m)
	}
}
