package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/faced/faced/api"
	"github.com/faced/faced/config"
	"github.com/faced/faced/daemon"
	"github.com/faced/faced/daemon/wire"
	"github.com/faced/faced/index"
)

// Backoff of the index open while the data disk is full.
const (
	spaceRetryMin = time.Second
	spaceRetryMax = 30 * time.Second
)

// openWaitingForSpace opens the daemon's App. While the data disk is too
// full for SQLite to open the index (index.ErrNoSpace), the daemon does not
// exit: it answers `facedctl status` on its socket with the "data disk full"
// problem (scan and retry are refused), and opens again with backoff until
// it works, with no restart once space returns. Any other error, or the
// first when once, is returned. A nil App with a nil error: ctx ended while
// waiting (a normal stop).
func openWaitingForSpace(ctx context.Context, cfg *config.Config, o wire.AppOptions, log *slog.Logger) (*wire.App, error) {
	app, err := wire.Open(ctx, cfg, o)
	if err == nil || o.Once || !errors.Is(err, index.ErrNoSpace) {
		return app, err
	}
	sock := cfg.Socket()
	if sock == "" {
		sock = config.DefaultSocket(cfg.DataDirectory())
	}
	w := &waiting{version: version, input: cfg.InputDirectory(), started: time.Now()}
	ln, lerr := api.Listen(sock)
	if lerr != nil {
		return nil, errors.Join(err, cfg.KeyError("Socket", lerr))
	}
	sctx, stopServing := context.WithCancel(context.WithoutCancel(ctx))
	served := api.ServeUntil(sctx, ln, api.Handler(w))
	defer func() { stopServing(); <-served }()
	log.Error("data disk full: the index cannot be opened; faced waits for space (facedctl status says so) and opens it then",
		"data", cfg.DataDirectory(), "err", err)
	delay := spaceRetryMin
	for {
		w.failed(err, time.Now().Add(delay))
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(delay):
		}
		app, err = wire.Open(ctx, cfg, o)
		switch {
		case err == nil:
			log.Info("data disk has space again: index opened", "waited", time.Since(w.started).Round(time.Second))
			return app, nil
		case ctx.Err() != nil:
			return nil, nil
		case !errors.Is(err, index.ErrNoSpace):
			return nil, err
		}
		delay = min(2*delay, spaceRetryMax)
	}
}

// errWaitingForSpace answers scan and retry while the index cannot be opened.
var errWaitingForSpace = errors.New("data disk full: faced waits for space to open its index")

// waiting is the local API's backend while the index cannot be opened.
type waiting struct {
	version, input string
	started        time.Time

	mu      sync.Mutex
	since   time.Time
	retryAt time.Time
	err     error
}

func (w *waiting) failed(err error, retryAt time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.since.IsZero() {
		w.since = time.Now()
	}
	w.err, w.retryAt = err, retryAt
}

func (w *waiting) Status(context.Context) (api.Status, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return api.Status{Running: true, Version: w.version, PID: os.Getpid(), Started: w.started,
		UptimeSeconds: time.Since(w.started).Seconds(), InputDirectory: w.input, ETASeconds: -1,
		Problems: []api.Problem{{Kind: daemon.ProblemDataDiskFull, Since: w.since, RetryAt: w.retryAt, Error: w.err.Error(),
			Message: fmt.Sprintf("data disk full: the index cannot be opened; faced waits for space and tries again at %s",
				w.retryAt.Format(time.TimeOnly))}}}, nil
}

func (w *waiting) Scan(context.Context, api.ScanRequest) (api.ScanResult, error) {
	return api.ScanResult{}, errWaitingForSpace
}

func (w *waiting) Retry(context.Context) (api.RetryResult, error) {
	return api.RetryResult{}, errWaitingForSpace
}
