package wire

import (
	"context"
	"io/fs"

	"github.com/faced/faced/daemon"
	"github.com/faced/faced/watcher"
)

// Watcher adapts a *watcher.Watcher to the daemon.
type Watcher struct {
	w      *watcher.Watcher
	events chan daemon.Event
}

var _ daemon.Watcher = (*Watcher)(nil)

// NewWatcher wraps w.
func NewWatcher(w *watcher.Watcher) *Watcher {
	return &Watcher{w: w, events: make(chan daemon.Event, 256)}
}

// Run runs the watcher and forwards its events until ctx ends.
func (a *Watcher) Run(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- a.w.Run(ctx) }()
	in := a.w.Events()
	errs := a.w.Errors()
	for {
		select {
		case ev, ok := <-in:
			if !ok {
				return <-done
			}
			select {
			case a.events <- daemon.Event{Path: ev.Path, Removed: ev.Op == watcher.Removed}:
			case <-ctx.Done():
			}
		case _, ok := <-errs:
			if !ok {
				errs = nil
			}
		case <-ctx.Done():
			return <-done
		}
	}
}

// Events implements daemon.Watcher.
func (a *Watcher) Events() <-chan daemon.Event { return a.events }

// Rescans implements daemon.Watcher.
func (a *Watcher) Rescans() <-chan struct{} { return a.w.Rescans() }

// Walk returns the daemon's WalkFunc with the watcher's ignore rules.
func Walk(opt watcher.Options) daemon.WalkFunc {
	return func(ctx context.Context, root string, fn func(string) error) error {
		return watcher.Walk(ctx, root, opt, func(p string, _ fs.FileInfo) error { return fn(p) })
	}
}
