package watcher

import (
	"path/filepath"
	"sync"
	"time"
)

// suppressor is the set of paths faced itself is writing (syncthing's
// inProgress set): events for them are dropped until their deadline.
type suppressor struct {
	mu    sync.Mutex
	until map[string]time.Time
}

func (s *suppressor) add(p string, d time.Duration) {
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	t := time.Now().Add(d)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.until == nil {
		s.until = map[string]time.Time{}
	}
	if t.After(s.until[p]) {
		s.until[p] = t
	}
}

func (s *suppressor) active(p string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.until[p]
	return ok && now.Before(t)
}

func (s *suppressor) prune(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p, t := range s.until {
		if !now.Before(t) {
			delete(s.until, p)
		}
	}
}
