package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"
)

// QueueItem is a leased unit of work: analyse Path.
type QueueItem struct {
	ID         int64     `json:"id"`
	Path       string    `json:"path"`
	Reason     string    `json:"reason,omitempty"`
	EnqueuedAt time.Time `json:"enqueued_at"`
	// Attempts counts the leases handed out for this item, this one included.
	Attempts int       `json:"attempts"`
	LeasedBy string    `json:"leased_by,omitempty"`
	LeasedAt time.Time `json:"leased_at,omitzero"`
	token    int64
}

// QueueEntry is one path to enqueue.
type QueueEntry struct {
	Path   string
	Reason string // why: "new", "changed", "rescan", "model", ...
}

// Enqueue adds path to the work queue unless it is there already (one entry
// per path). A path enqueued again while a worker holds it is marked dirty:
// completing that lease keeps the entry for another round, so a change made
// during analysis is not lost.
func (ix *Index) Enqueue(ctx context.Context, path, reason string) error {
	_, err := ix.EnqueueMany(ctx, []QueueEntry{{Path: path, Reason: reason}})
	return err
}

// EnqueueMany enqueues entries in one transaction (see Enqueue) and returns
// how many paths were new to the queue.
func (ix *Index) EnqueueMany(ctx context.Context, entries []QueueEntry) (int, error) {
	added := 0
	err := ix.write(ctx, func(tx *sql.Tx) error {
		added = 0
		st, err := tx.PrepareContext(ctx, `INSERT INTO queue (path, reason, enqueued_at) VALUES (?, ?, ?)
			ON CONFLICT (path) DO UPDATE SET dirty = CASE WHEN leased_by IS NOT NULL THEN 1 ELSE dirty END
			RETURNING enqueued_at = ?`)
		if err != nil {
			return err
		}
		defer st.Close()
		now := ix.now().UnixNano()
		seen := make(map[string]bool, len(entries))
		for _, e := range entries {
			if e.Path == "" {
				return fmt.Errorf("%w: empty path", ErrInvalid)
			}
			if seen[e.Path] {
				continue
			}
			seen[e.Path] = true
			var isNew bool
			if err := st.QueryRowContext(ctx, e.Path, e.Reason, now, now).Scan(&isNew); err != nil {
				return fmt.Errorf("%s: %w", e.Path, err)
			}
			if isNew {
				added++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("enqueue: %w", err)
	}
	return added, nil
}

// Lease hands out up to n free queue items, oldest first, to worker and
// marks them in flight. Each must end with Done, Fail, Requeue or
// RecordAnalysis; leases of a crashed process come back with RecoverLeases.
func (ix *Index) Lease(ctx context.Context, worker string, n int) ([]QueueItem, error) {
	if n <= 0 {
		return nil, nil
	}
	var items []QueueItem
	err := ix.write(ctx, func(tx *sql.Tx) error {
		items = items[:0]
		token := rand.Int64()
		now := ix.now().UnixNano()
		rows, err := tx.QueryContext(ctx, `UPDATE queue SET leased_by = ?, leased_at = ?, lease_token = ?, attempts = attempts + 1
			WHERE id IN (SELECT id FROM queue WHERE leased_by IS NULL ORDER BY id LIMIT ?)
			RETURNING id, path, reason, enqueued_at, attempts`, worker, now, token, n)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			it := QueueItem{LeasedBy: worker, LeasedAt: time.Unix(0, now), token: token}
			var enq int64
			if err := rows.Scan(&it.ID, &it.Path, &it.Reason, &enq, &it.Attempts); err != nil {
				return err
			}
			it.EnqueuedAt = time.Unix(0, enq)
			items = append(items, it)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("lease %d queue items: %w", n, err)
	}
	sort.Slice(items, func(i, j int) bool { return items[i].ID < items[j].ID })
	return items, nil
}

// Done completes a lease: the entry leaves the queue (or is released for
// another round when it was enqueued again meanwhile). ErrLeaseLost when the
// lease is no longer held.
func (ix *Index) Done(ctx context.Context, it QueueItem) error {
	if err := ix.write(ctx, func(tx *sql.Tx) error { return ix.done(ctx, tx, it) }); err != nil {
		return fmt.Errorf("queue done %s: %w", it.Path, err)
	}
	return nil
}

func (ix *Index) done(ctx context.Context, tx *sql.Tx, it QueueItem) error {
	var dirty bool
	err := tx.QueryRowContext(ctx, `SELECT dirty FROM queue WHERE id = ? AND lease_token = ? AND leased_by IS NOT NULL`,
		it.ID, it.token).Scan(&dirty)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrLeaseLost
	}
	if err != nil {
		return err
	}
	if dirty {
		_, err = tx.ExecContext(ctx, `UPDATE queue SET leased_by = NULL, leased_at = NULL, lease_token = NULL,
			dirty = 0, attempts = 0 WHERE id = ?`, it.ID)
		return err
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM queue WHERE id = ?`, it.ID)
	return err
}

// Fail ends a lease whose analysis failed for good (unreadable file, ...):
// the file is marked failed with cause, which Stats reports, and the entry
// leaves the queue (unless the file was enqueued again meanwhile).
func (ix *Index) Fail(ctx context.Context, it QueueItem, cause error) error {
	err := ix.write(ctx, func(tx *sql.Tx) error {
		if err := ix.done(ctx, tx, it); err != nil {
			return err
		}
		return ix.markFailed(ctx, tx, it.Path, cause)
	})
	if err != nil {
		return fmt.Errorf("queue fail %s: %w", it.Path, err)
	}
	return nil
}

// Requeue gives a lease back without counting the attempt (shutdown,
// cancelled context, a transient error); the item keeps its place.
func (ix *Index) Requeue(ctx context.Context, it QueueItem) error {
	err := ix.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE queue SET leased_by = NULL, leased_at = NULL, lease_token = NULL,
			attempts = MAX(attempts - 1, 0) WHERE id = ? AND lease_token = ? AND leased_by IS NOT NULL`, it.ID, it.token)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrLeaseLost
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("requeue %s: %w", it.Path, err)
	}
	return nil
}

// RecoverLeases releases every lease (call it once at daemon start: leases
// still held belong to a process that died). An item already leased
// maxAttempts times (maxAttempts > 0) is taken to crash the analyser: its
// file is marked failed and it leaves the queue. It returns how many items
// were released and how many were given up.
func (ix *Index) RecoverLeases(ctx context.Context, maxAttempts int) (released, failed int, err error) {
	err = ix.write(ctx, func(tx *sql.Tx) error {
		released, failed = 0, 0
		if maxAttempts > 0 {
			rows, err := tx.QueryContext(ctx, `DELETE FROM queue WHERE leased_by IS NOT NULL AND attempts >= ?
				RETURNING path, attempts`, maxAttempts)
			if err != nil {
				return err
			}
			type gave struct {
				path     string
				attempts int
			}
			var gone []gave
			for rows.Next() {
				var g gave
				if err := rows.Scan(&g.path, &g.attempts); err != nil {
					rows.Close()
					return err
				}
				gone = append(gone, g)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for _, g := range gone {
				cause := fmt.Errorf("analysis did not finish in %d attempts (the analyser crashed or was killed)", g.attempts)
				if err := ix.markFailed(ctx, tx, g.path, cause); err != nil {
					return err
				}
			}
			failed = len(gone)
		}
		res, err := tx.ExecContext(ctx, `UPDATE queue SET leased_by = NULL, leased_at = NULL, lease_token = NULL
			WHERE leased_by IS NOT NULL`)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		released = int(n)
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("recover queue leases: %w", err)
	}
	return released, failed, nil
}

// QueueLen returns how many queue entries wait and how many are leased.
func (ix *Index) QueueLen(ctx context.Context) (waiting, leased int, err error) {
	err = ix.r.QueryRowContext(ctx, `SELECT COUNT(*) - COUNT(leased_by), COUNT(leased_by) FROM queue`).Scan(&waiting, &leased)
	if err != nil {
		return 0, 0, fmt.Errorf("queue length: %w", err)
	}
	return waiting, leased, nil
}
