package watcher

import (
	"path/filepath"
	"strings"
)

// readyQueue holds settled events waiting for the daemon, in order. A
// Changed event still waiting is replaced when its file changes again
// (coalescing), and dropped when the file or its folder goes away.
type readyQueue struct {
	items   []Event
	head    int
	base    int            // absolute index of items[0]
	changed map[string]int // path -> absolute index of its queued Changed event
}

func (q *readyQueue) push(ev Event) {
	if q.changed == nil {
		q.changed = map[string]int{}
	}
	if ev.Op == Changed {
		if i, ok := q.changed[ev.Path]; ok {
			q.items[i-q.base] = ev
			return
		}
		q.changed[ev.Path] = q.base + len(q.items)
	}
	q.items = append(q.items, ev)
}

// drop removes a queued Changed event for p.
func (q *readyQueue) drop(p string) {
	if i, ok := q.changed[p]; ok {
		q.items[i-q.base].Path = "" // tombstone
		delete(q.changed, p)
	}
}

// dropUnder removes every queued event for a path below the folder dir.
func (q *readyQueue) dropUnder(dir string) {
	prefix := dir + string(filepath.Separator)
	for i := q.head; i < len(q.items); i++ {
		p := q.items[i].Path
		if p != "" && strings.HasPrefix(p, prefix) {
			if q.items[i].Op == Changed {
				delete(q.changed, p)
			}
			q.items[i].Path = ""
		}
	}
}

// peek returns the next event, skipping tombstones.
func (q *readyQueue) peek() (Event, bool) {
	for q.head < len(q.items) && q.items[q.head].Path == "" {
		q.head++
	}
	if q.head == len(q.items) {
		q.compact()
		return Event{}, false
	}
	return q.items[q.head], true
}

// pop removes the event peek returned.
func (q *readyQueue) pop() {
	ev := q.items[q.head]
	if ev.Op == Changed {
		delete(q.changed, ev.Path)
	}
	q.items[q.head] = Event{}
	q.head++
	if q.head >= 256 && q.head*2 >= len(q.items) {
		q.compact()
	}
}

func (q *readyQueue) compact() {
	n := copy(q.items, q.items[q.head:])
	clear(q.items[n:])
	q.items = q.items[:n]
	q.base += q.head
	q.head = 0
}

func (q *readyQueue) len() int { return len(q.items) - q.head }
