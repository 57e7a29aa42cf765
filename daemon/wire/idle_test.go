package wire

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faced/faced/face"
)

type countingAnalyzer struct {
	closes *atomic.Int64
	delay  time.Duration
	closed atomic.Bool
}

func (c *countingAnalyzer) Analyze(ctx context.Context, p string) (*face.Result, error) {
	if c.closed.Load() {
		return nil, errors.New("analysis on a closed analyzer")
	}
	time.Sleep(c.delay)
	if c.closed.Load() {
		return nil, errors.New("analyzer closed during an analysis")
	}
	return &face.Result{File: p}, nil
}

func (c *countingAnalyzer) Close() error {
	c.closed.Store(true)
	c.closes.Add(1)
	return nil
}

// TestIdleAnalyzerReleasesAndReopens: the analyzer is closed (and the
// memory trimmed) only once the analyses stopped for the idle time, never
// under a running analysis, and opened again by the next analysis.
func TestIdleAnalyzerReleasesAndReopens(t *testing.T) {
	var opens, closes, trims atomic.Int64
	mk := func() (closingAnalyzer, error) {
		opens.Add(1)
		return &countingAnalyzer{closes: &closes, delay: 5 * time.Millisecond}, nil
	}
	first, _ := mk()
	const idle = 80 * time.Millisecond
	ia := newIdleAnalyzer(first, mk, idle, func() { trims.Add(1) }, slog.Default())
	defer ia.Close()

	// Two workers busy for several idle periods: never released.
	var wg sync.WaitGroup
	stop := time.Now().Add(3 * idle)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				if _, err := ia.Analyze(context.Background(), "p.jpg"); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if closes.Load() != 0 || opens.Load() != 1 {
		t.Fatalf("while busy: %d closes, %d opens; want 0, 1", closes.Load(), opens.Load())
	}
	deadline := time.Now().Add(5 * time.Second)
	for closes.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if closes.Load() != 1 || trims.Load() != 1 {
		t.Fatalf("after the analyses stopped: %d closes, %d trims; want 1, 1", closes.Load(), trims.Load())
	}
	if _, err := ia.Analyze(context.Background(), "q.jpg"); err != nil {
		t.Fatal(err)
	}
	if opens.Load() != 2 {
		t.Errorf("the next analysis: %d opens, want 2", opens.Load())
	}
	// A long analysis is not cut short by the timer.
	long := &countingAnalyzer{closes: &closes, delay: 3 * idle}
	ia.mu.Lock()
	old := ia.a
	ia.a = long
	ia.mu.Unlock()
	old.Close()
	if _, err := ia.Analyze(context.Background(), "long.mp4"); err != nil {
		t.Errorf("long analysis: %v", err)
	}
	if err := ia.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := ia.Analyze(context.Background(), "r.jpg"); !errors.Is(err, errAnalyzerClosed) {
		t.Errorf("after Close: %v, want errAnalyzerClosed", err)
	}
}
