package daemon

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/faced/faced/face"
)

// memStore is an in-memory Store for the daemon's tests.
type memStore struct {
	mu      sync.Mutex
	files   map[string]*memFile
	queue   map[string]*memJob
	nextID  int64
	seq     int64
	persons int
	// full makes every write fail as on a full disk.
	full atomic.Bool
}

var errMemFull = fmt.Errorf("memstore: database or disk is full: %w", syscall.ENOSPC)

type memFile struct {
	FileRecord
	faces       int
	analyses    int
	rev, expRev int
}

type memJob struct {
	Job
	leased bool
	dirty  bool
	seq    int64
}

func newMemStore() *memStore {
	return &memStore{files: map[string]*memFile{}, queue: map[string]*memJob{}}
}

func under(p, dir string) bool {
	return dir == "" || p == dir || strings.HasPrefix(p, dir+string(filepath.Separator))
}

func (m *memStore) File(_ context.Context, p string) (FileRecord, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.files[p]
	if !ok {
		return FileRecord{}, false, nil
	}
	return f.FileRecord, true, nil
}

func (m *memStore) Files(_ context.Context, dir string) ([]FileRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []FileRecord
	for p, f := range m.files {
		if under(p, dir) {
			out = append(out, f.FileRecord)
		}
	}
	return out, nil
}

func (m *memStore) FileByHash(_ context.Context, h string) ([]FileRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []FileRecord
	for _, f := range m.files {
		if f.Hash == h {
			out = append(out, f.FileRecord)
		}
	}
	return out, nil
}

func (m *memStore) Stats(context.Context) (Stats, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var s Stats
	for _, f := range m.files {
		switch f.State {
		case StateDone:
			s.Done++
			s.Faces += f.faces
		case StateFailed:
			s.Failed++
		default:
			s.Pending++
		}
	}
	s.Queue = len(m.queue)
	s.Persons = m.persons
	return s, nil
}

func (m *memStore) Failures(_ context.Context, n int) ([]FileRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []FileRecord
	for _, f := range m.files {
		if f.State == StateFailed {
			out = append(out, f.FileRecord)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	return out[:min(n, len(out))], nil
}

func (m *memStore) PendingExports(_ context.Context, n int) ([]ExportItem, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []ExportItem
	for p, f := range m.files {
		if f.rev > f.expRev && f.State == StateDone {
			out = append(out, ExportItem{Path: p, Rev: int64(f.rev)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out[:min(n, len(out))], nil
}

func (m *memStore) Enqueue(_ context.Context, p, _ string) error {
	if m.full.Load() {
		return errMemFull
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if f, ok := m.files[p]; ok {
		f.State = StatePending
	} else {
		m.files[p] = &memFile{FileRecord: FileRecord{Path: p, State: StatePending}}
	}
	if j, ok := m.queue[p]; ok {
		if j.leased {
			j.dirty = true
		}
		return nil
	}
	m.nextID++
	m.seq++
	m.queue[p] = &memJob{Job: Job{ID: m.nextID, Path: p}, seq: m.seq}
	return nil
}

func (m *memStore) Touch(_ context.Context, p string, size int64, mt time.Time) error {
	if m.full.Load() {
		return errMemFull
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if f, ok := m.files[p]; ok {
		f.Size, f.ModTime = size, mt
		if f.State == StatePending && f.Hash != "" {
			f.State = StateDone
		}
	}
	return nil
}

func (m *memStore) Rename(_ context.Context, from, to string, size int64, mt time.Time) error {
	if m.full.Load() {
		return errMemFull
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.files[from]
	if !ok {
		return errors.New("rename: not found")
	}
	delete(m.files, from)
	f.Path, f.Size, f.ModTime = to, size, mt
	f.rev++
	m.files[to] = f
	return nil
}

func (m *memStore) Remove(_ context.Context, p string) error {
	if m.full.Load() {
		return errMemFull
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.files, p)
	return nil
}

func (m *memStore) RecoverLeases(ctx context.Context, _ int) (int, int, error) {
	// As the index does: a cancelled context fails the query.
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	if m.full.Load() {
		return 0, 0, errMemFull
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, j := range m.queue {
		if j.leased {
			j.leased = false
			n++
		}
	}
	return n, 0, nil
}

func (m *memStore) Lease(_ context.Context, n int) ([]Job, error) {
	if m.full.Load() {
		return nil, errMemFull
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var free []*memJob
	for _, j := range m.queue {
		if !j.leased {
			free = append(free, j)
		}
	}
	sort.Slice(free, func(a, b int) bool { return free[a].seq < free[b].seq })
	var out []Job
	for _, j := range free[:min(n, len(free))] {
		j.leased = true
		m.seq++
		j.Token = m.seq
		out = append(out, j.Job)
	}
	return out, nil
}

// release ends a lease; a job enqueued again meanwhile stays queued.
func (m *memStore) release(j Job) (requeued bool, err error) {
	q, ok := m.queue[j.Path]
	if !ok || !q.leased || q.Token != j.Token {
		return false, errors.New("lease lost")
	}
	if q.dirty {
		q.dirty, q.leased = false, false
		return true, nil
	}
	delete(m.queue, j.Path)
	return false, nil
}

func (m *memStore) Done(_ context.Context, j Job, size int64, mt time.Time, h string, res *face.Result) error {
	if m.full.Load() {
		return errMemFull
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	again, err := m.release(j)
	if err != nil {
		return err
	}
	f, ok := m.files[j.Path]
	if !ok {
		f = &memFile{FileRecord: FileRecord{Path: j.Path}}
		m.files[j.Path] = f
	}
	f.Size, f.ModTime, f.Hash, f.faces, f.Reason = size, mt, h, len(res.Faces), ""
	f.State = StateDone
	if again {
		f.State = StatePending
	}
	f.analyses++
	f.rev++
	return nil
}

func (m *memStore) Fail(_ context.Context, j Job, size int64, mt time.Time, h, reason string) error {
	if m.full.Load() {
		return errMemFull
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.release(j); err != nil {
		return err
	}
	f, ok := m.files[j.Path]
	if !ok {
		f = &memFile{FileRecord: FileRecord{Path: j.Path}}
		m.files[j.Path] = f
	}
	f.Size, f.ModTime, f.Hash, f.State, f.Reason, f.Time = size, mt, h, StateFailed, reason, time.Now()
	return nil
}

func (m *memStore) Requeue(_ context.Context, j Job) error {
	if m.full.Load() {
		return errMemFull
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	q, ok := m.queue[j.Path]
	if !ok || q.Token != j.Token {
		return errors.New("lease lost")
	}
	q.leased = false
	return nil
}

func (m *memStore) Drop(_ context.Context, j Job) error {
	if m.full.Load() {
		return errMemFull
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	_, err := m.release(j)
	if f, ok := m.files[j.Path]; ok && f.State == StatePending && f.Hash == "" {
		delete(m.files, j.Path)
	}
	return err
}

func (m *memStore) RetryFailed(context.Context) (int, error) {
	if m.full.Load() {
		return 0, errMemFull
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for p, f := range m.files {
		if f.State == StateFailed {
			f.State = StatePending
			m.nextID++
			m.seq++
			m.queue[p] = &memJob{Job: Job{ID: m.nextID, Path: p}, seq: m.seq}
			n++
		}
	}
	return n, nil
}

func (m *memStore) Exported(_ context.Context, it ExportItem) error {
	if m.full.Load() {
		return errMemFull
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if f, ok := m.files[it.Path]; ok {
		f.expRev = max(f.expRev, min(int(it.Rev), f.rev))
	}
	return nil
}

func (m *memStore) analyses(p string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if f, ok := m.files[p]; ok {
		return f.analyses
	}
	return -1
}
