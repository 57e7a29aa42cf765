package wire

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/faced/faced/daemon"
	"github.com/faced/faced/watcher"
)

// Watcher adapts a *watcher.Watcher to the daemon.
type Watcher struct {
	w      *watcher.Watcher
	events chan daemon.Event
	report func(path, reason string)
}

var _ daemon.Watcher = (*Watcher)(nil)

// NewWatcher wraps w; report (optional) gets the problems the watcher met
// with single paths (symbolic link loops, unreadable folders).
func NewWatcher(w *watcher.Watcher, report func(path, reason string)) *Watcher {
	return &Watcher{w: w, events: make(chan daemon.Event, 256), report: report}
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
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			var pe *watcher.PathError
			if a.report != nil && errors.As(err, &pe) {
				a.report(pe.Path, strings.TrimPrefix(err.Error(), fmt.Sprintf("%q: ", pe.Path)))
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
