package daemon

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/faced/faced/api"
)

// IsNoSpace reports whether err says a disk is full (the index's
// ErrNoSpace and the exporters' write errors both match syscall.ENOSPC).
func IsNoSpace(err error) bool { return err != nil && errors.Is(err, syscall.ENOSPC) }

// retryState is a write that failed and is tried again with exponential
// backoff: lo, 2·lo, 4·lo ... up to hi.
type retryState struct {
	since   time.Time // first failure
	fails   int
	next    time.Time // next attempt
	err     string    // last error
	noSpace bool      // the last error was a full disk
}

func (r *retryState) failed(now time.Time, err error, lo, hi time.Duration) {
	if r.fails == 0 {
		r.since = now
	}
	r.fails++
	wait := hi
	if r.fails <= 20 {
		wait = min(lo<<(r.fails-1), hi)
	}
	r.next = now.Add(wait)
	r.err = err.Error()
	r.noSpace = IsNoSpace(err)
}

func (r *retryState) due(now time.Time) bool { return !now.Before(r.next) }

// Problem kinds in api.Status.Problems.
const (
	ProblemDataDiskFull   = "data_disk_full"
	ProblemIndexWrites    = "index_writes_failing"
	ProblemSidecarWrites  = "sidecar_writes_failing"
	ProblemClustering     = "clustering_failing"
	problemRetryIntervals = "retried with backoff; nothing is lost"
)

// health is what the coordinator publishes for Status: the daemon-wide
// problems and the new files it holds in memory (counted as pending).
type health struct {
	mu       sync.Mutex
	problems []api.Problem
	held     int
}

func (h *health) set(p []api.Problem, held int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.problems, h.held = p, held
}

func (h *health) get() ([]api.Problem, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]api.Problem(nil), h.problems...), h.held
}

// publish hands the coordinator's troubles to Status.
func (c *coordinator) publish() {
	if c.wf == nil && len(c.held) == 0 && len(c.unstored) == 0 && len(c.exportFailed) == 0 &&
		c.clusterFail == nil && !c.published {
		return
	}
	var ps []api.Problem
	held := len(c.held)
	if c.wf != nil || held > 0 || c.heldDropped > 0 || len(c.unstored) > 0 {
		p := api.Problem{Kind: ProblemIndexWrites, Count: held + len(c.unstored)}
		what := "index writes failing"
		if c.wf != nil {
			p.Since, p.Error, p.RetryAt = c.wf.since, c.wf.err, c.wf.next
			if c.wf.noSpace {
				p.Kind, what = ProblemDataDiskFull, "data disk full"
			}
		}
		p.Message = fmt.Sprintf("%s: %d new files wait to be queued, %d analyses wait to be stored; %s",
			what, held, len(c.unstored), problemRetryIntervals)
		if c.heldDropped > 0 {
			// Events, not files: one file may have come several times.
			p.Message += fmt.Sprintf("; %d more changes than memory holds: a full rescan follows", c.heldDropped)
		}
		ps = append(ps, p)
	}
	if n := len(c.exportFailed); n > 0 {
		p := api.Problem{Kind: ProblemSidecarWrites, Count: n}
		full := 0
		var last *retryState
		for _, rs := range c.exportFailed {
			if rs.noSpace {
				full++
			}
			if last == nil || rs.since.Before(p.Since) {
				p.Since = rs.since
			}
			if last == nil || rs.next.After(last.next) {
				last = rs
			}
			if p.RetryAt.IsZero() || rs.next.Before(p.RetryAt) {
				p.RetryAt = rs.next
			}
		}
		p.Error = last.err
		p.Message = fmt.Sprintf("sidecar writes failing: %d files without an up-to-date sidecar", n)
		if full > 0 {
			p.Message += fmt.Sprintf(" (%d: library disk full)", full)
		}
		p.Message += "; " + problemRetryIntervals
		ps = append(ps, p)
	}
	if cf := c.clusterFail; cf != nil {
		what := "clustering failing"
		if cf.noSpace {
			what += " (data disk full)"
		}
		ps = append(ps, api.Problem{Kind: ProblemClustering, Count: cf.fails, Since: cf.since, Error: cf.err, RetryAt: cf.next,
			Message: fmt.Sprintf("%s: %d attempts; persons and sidecars wait; %s", what, cf.fails, problemRetryIntervals)})
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Since.Before(ps[j].Since) })
	c.published = len(ps) > 0 || held > 0
	c.d.health.set(ps, held)
}
