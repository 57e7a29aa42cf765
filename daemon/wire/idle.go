package wire

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faced/faced/face"
)

// defaultReleaseIdle is how long the analyses must have stopped before
// the default memory mode closes the analyzer's sessions.
const defaultReleaseIdle = 30 * time.Second

// errAnalyzerClosed: the daemon is shutting down.
var errAnalyzerClosed = errors.New("analyzer closed")

// closingAnalyzer is what idleAnalyzer holds: an *analyzer.Analyzer.
type closingAnalyzer interface {
	Analyze(ctx context.Context, p string) (*face.Result, error)
	Close() error
}

// idleAnalyzer holds the analyzer and closes it (ONNX Runtime sessions and
// their CPU arenas) once no analysis ran for idleAfter, then calls trim;
// the next analysis opens a new one. An arena keeps the largest working set
// it saw (200 MiB more after 12 MP photos) while it speeds up every run
// (no tensors from fresh mappings): kept during work, returned when idle.
type idleAnalyzer struct {
	open      func() (closingAnalyzer, error)
	idleAfter time.Duration
	trim      func()
	log       *slog.Logger

	mu     sync.RWMutex // read: an analysis runs; write: open or close
	a      closingAnalyzer
	closed bool
	busy   atomic.Int64 // analyses running
	timer  *time.Timer
}

func newIdleAnalyzer(a closingAnalyzer, open func() (closingAnalyzer, error), idleAfter time.Duration,
	trim func(), log *slog.Logger) *idleAnalyzer {
	ia := &idleAnalyzer{open: open, idleAfter: idleAfter, trim: trim, log: log, a: a}
	ia.timer = time.AfterFunc(idleAfter, ia.release)
	return ia
}

// Analyze runs the analyzer, opening it first when it was released.
func (ia *idleAnalyzer) Analyze(ctx context.Context, p string) (*face.Result, error) {
	ia.busy.Add(1)
	defer func() {
		ia.busy.Add(-1)
		ia.timer.Reset(ia.idleAfter)
	}()
	a, err := ia.acquire()
	if err != nil {
		return nil, err
	}
	defer ia.mu.RUnlock()
	return a.Analyze(ctx, p)
}

// acquire returns the analyzer with the read lock held.
func (ia *idleAnalyzer) acquire() (closingAnalyzer, error) {
	for {
		ia.mu.RLock()
		if ia.a != nil {
			return ia.a, nil
		}
		closed := ia.closed
		ia.mu.RUnlock()
		if closed {
			return nil, errAnalyzerClosed
		}
		ia.mu.Lock()
		if ia.a == nil && !ia.closed {
			start := time.Now()
			a, err := ia.open()
			if err != nil {
				ia.mu.Unlock()
				return nil, fmt.Errorf("open the models again: %w", err)
			}
			ia.a = a
			ia.log.Debug("analyzer opened again", "took", time.Since(start).Round(time.Millisecond))
		}
		ia.mu.Unlock()
	}
}

// release closes the analyzer unless an analysis runs (its end arms the
// timer again).
func (ia *idleAnalyzer) release() {
	if ia.busy.Load() > 0 || !ia.mu.TryLock() {
		return
	}
	a := ia.a
	ia.a = nil
	ia.mu.Unlock()
	if a == nil {
		return
	}
	if err := a.Close(); err != nil {
		ia.log.Warn("close idle analyzer", "err", err)
	}
	ia.trim()
	ia.log.Debug("analyzer closed while idle; memory returned")
}

// closeWait bounds how long Close waits for analyses still running (a
// shutdown that gave up on them): then it leaves the analyzer to the exit.
const closeWait = 2 * time.Second

// Close closes the analyzer for good.
func (ia *idleAnalyzer) Close() error {
	ia.timer.Stop()
	deadline := time.Now().Add(closeWait)
	for !ia.mu.TryLock() {
		if time.Now().After(deadline) {
			return errors.New("analyzer not closed: analyses still running")
		}
		time.Sleep(10 * time.Millisecond)
	}
	defer ia.mu.Unlock()
	ia.closed = true
	if ia.a == nil {
		return nil
	}
	err := ia.a.Close()
	ia.a = nil
	return err
}
