package wire

import (
	"os"
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faced/faced/models"
)

func TestTrimmerEveryNthAndWhenIdle(t *testing.T) {
	var n atomic.Int64
	tr := startTrimmer(3, 0, 50*time.Millisecond, nil, func() { n.Add(1) })
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
	tr := startTrimmer(1, 0, 10*time.Millisecond, nil, func() { n.Add(1) })
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

// TestTrimmerBudgetNewHighs: with a budget, every 2nd analysis trims only
// when the resident set is above the budget and above its level at the
// last trim; the idle trim forgets that level.
func TestTrimmerBudgetNewHighs(t *testing.T) {
	var trims atomic.Int64
	var rss atomic.Int64
	tr := startTrimmer(2, 100, 30*time.Millisecond, rss.Load, func() { trims.Add(1) })
	defer tr.stop()
	steps := []struct {
		rss   int64
		trims int64
	}{
		{50, 0}, {50, 0}, // under the budget
		{150, 0}, {150, 1}, // above: the 2nd analysis since the last check trims
		{150, 1}, {150, 1}, // not above the last level
		{160, 1},           // a new high, but only one analysis since the check
		{140, 1},           // checked: under the last level
		{140, 1}, {160, 2}, // a new high at a check
		{160, 2}, {90, 2}, {90, 2},
	}
	for i, s := range steps {
		rss.Store(s.rss)
		tr.done()
		if got := trims.Load(); got != s.trims {
			t.Fatalf("analysis %d at rss %d: %d trims, want %d", i+1, s.rss, got, s.trims)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for trims.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := trims.Load(); got != 3 {
		t.Fatalf("after the analyses stopped: %d trims, want 3 (one idle trim)", got)
	}
	// The idle trim forgot the level: 120 (under the old level 160, above
	// the budget) trims again.
	rss.Store(120)
	tr.done()
	tr.done()
	if got := trims.Load(); got != 4 {
		t.Errorf("after the idle trim, rss 120 over budget 100: %d trims, want 4", got)
	}
}

func TestMemoryModeDefaultAndKnobs(t *testing.T) {
	m := memoryMode()
	if !m.trim || m.trimEvery != defaultTrimEvery || m.trimBudget != defaultTrimBudget || m.arenas != 2 ||
		m.ort.NoCPUArena || !m.ort.NoMemPattern || m.trimThreshold != 0 {
		t.Errorf("default memory mode: %+v", m)
	}
	// Issue 14's peak RSS levers: 12 MP buffers mapped on their own, one
	// ORT arena for all sessions, the Go heap collected at +25 %.
	if m.mmapThreshold != 1<<20 || !m.ort.SharedArena || m.gcPercent != 25 {
		t.Errorf("default memory mode: mmap threshold %d, shared arena %v, GOGC %d; want 1 MiB, true, 25",
			m.mmapThreshold, m.ort.SharedArena, m.gcPercent)
	}
	if m.heifDecodes != 1 {
		t.Errorf("default memory mode decodes %d large HEIF images at once, want 1", m.heifDecodes)
	}
	if m.releaseIdle != defaultReleaseIdle {
		t.Errorf("default memory mode releases the analyzer after %v, want %v", m.releaseIdle, defaultReleaseIdle)
	}
	t.Setenv("FACED_MEM", "trim8,rss300,mmap16,top48,release5")
	m = memoryMode()
	if !m.trim || m.trimEvery != 8 || m.trimBudget != 300<<20 || m.mmapThreshold != 16<<20 || m.trimThreshold != 48<<20 ||
		m.releaseIdle != 5*time.Second {
		t.Errorf("FACED_MEM=trim8,rss300,mmap16,top48: %+v", m)
	}
	t.Setenv("FACED_MEM", "shared,gc50,heif2")
	if m := memoryMode(); !m.ort.SharedArena || m.gcPercent != 50 || m.heifDecodes != 2 {
		t.Errorf("FACED_MEM=shared,gc50: %+v", m)
	}
	t.Setenv("FACED_MEM", "off")
	if m := memoryMode(); m.trim || m.trimBudget != 0 || m.mmapThreshold != 0 || m.arenas != 0 || m.releaseIdle != 0 ||
		m.ort.SharedArena || m.gcPercent != 0 || m.heifDecodes != 0 {
		t.Errorf("FACED_MEM=off: %+v", m)
	}
}

func TestResidentBytes(t *testing.T) {
	r := residentBytes()
	if r <= 0 {
		t.Fatalf("resident set %d", r)
	}
	if _, err := os.Stat("/proc/self/statm"); err == nil && r > 1<<40 {
		t.Errorf("resident set %d bytes with /proc/self/statm readable", r)
	}
}

// heapBytes reads a Go runtime memory metric.
func heapBytes(t *testing.T, name string) uint64 {
	t.Helper()
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		t.Fatalf("metric %s unavailable", name)
	}
	return s[0].Value.Uint64()
}

// TestReleaseMemory: what the idle daemon calls once the analyzer is
// closed drops the buffers kept for the next photos and returns the Go
// heap's free pages to the kernel at once (without it, 48 MiB of kept file
// buffers stayed in use and the freed heap stayed resident until the
// scavenger's slow pace returned it).
func TestReleaseMemory(t *testing.T) {
	var bufs models.FreeList[byte]
	var kept [][]byte
	for range 6 {
		b := bufs.Get(8 << 20)
		for i := range b { // resident, as a read file is
			b[i] = 1
		}
		kept = append(kept, b)
	}
	for _, b := range kept {
		bufs.Put(b)
	}
	kept = nil
	runtime.GC()
	inUse := heapBytes(t, "/memory/classes/heap/objects:bytes")
	releaseMemory()
	after := heapBytes(t, "/memory/classes/heap/objects:bytes")
	free := heapBytes(t, "/memory/classes/heap/free:bytes") // free, not returned
	if inUse-min(inUse, after) < 40<<20 {
		t.Errorf("heap objects %d MiB -> %d MiB: the kept buffers were not freed", inUse>>20, after>>20)
	}
	if free > 8<<20 {
		t.Errorf("%d MiB of free heap not returned to the kernel", free>>20)
	}
	if b := bufs.Get(1); cap(b) >= 8<<20 {
		t.Error("the list still holds its buffers")
	}
}
