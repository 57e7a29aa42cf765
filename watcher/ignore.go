package watcher

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/faced/faced/internal/confine"
)

// matcher applies the ignore rules and the extension filter. It is immutable
// after newMatcher and safe for concurrent use (as long as the Ignore hook
// is).
type matcher struct {
	root      string
	nameGlobs []string // globs without "/": matched against every path component
	pathGlobs []string // globs with "/": matched against every leading part of the relative path
	hook      func(string) bool
	exts      map[string]bool // lower-case, with the dot; nil = every file but sidecars
	conf      *confine.Root   // nil: symbolic links are not checked
}

func newMatcher(root string, opt Options) (*matcher, error) {
	m := &matcher{root: root, hook: opt.Ignore, conf: opt.Confine}
	for _, g := range opt.IgnoreGlobs {
		g = strings.TrimSpace(g)
		if g == "" {
			continue
		}
		if _, err := path.Match(g, ""); err != nil {
			return nil, fmt.Errorf("watcher: bad ignore glob %q: %w", g, err)
		}
		if strings.Contains(g, "/") {
			m.pathGlobs = append(m.pathGlobs, strings.Trim(g, "/"))
		} else {
			m.nameGlobs = append(m.nameGlobs, g)
		}
	}
	if len(opt.Extensions) > 0 {
		m.exts = make(map[string]bool, len(opt.Extensions))
		for _, e := range opt.Extensions {
			e = strings.ToLower(strings.TrimSpace(e))
			if e == "" {
				continue
			}
			if !strings.HasPrefix(e, ".") {
				e = "." + e
			}
			m.exts[e] = true
		}
	}
	return m, nil
}

// rel returns p relative to the root in slash form, and false when p is the
// root itself or outside it.
func (m *matcher) rel(p string) (string, bool) {
	prefix := m.root + string(filepath.Separator)
	if strings.HasSuffix(m.root, string(filepath.Separator)) {
		prefix = m.root
	}
	if !strings.HasPrefix(p, prefix) || len(p) == len(prefix) {
		return "", false
	}
	return filepath.ToSlash(p[len(prefix):]), true
}

// ignored reports whether the file or folder at absolute path p (below the
// root) is excluded: a hidden component, an ignore glob, or the Ignore hook.
// It does not look at extensions.
func (m *matcher) ignored(p string) bool {
	rel, ok := m.rel(p)
	if !ok {
		return p != m.root // outside the tree: never ours
	}
	parts := strings.Split(rel, "/")
	for i, c := range parts {
		if strings.HasPrefix(c, ".") {
			return true
		}
		for _, g := range m.nameGlobs {
			if ok, _ := path.Match(g, c); ok {
				return true
			}
		}
		if len(m.pathGlobs) > 0 {
			lead := strings.Join(parts[:i+1], "/")
			for _, g := range m.pathGlobs {
				if ok, _ := path.Match(g, lead); ok {
					return true
				}
			}
		}
	}
	return m.hook != nil && m.hook(p)
}

// media reports whether a file named p is one the watcher emits: its
// extension is one of Options.Extensions (every extension when none are
// given), and it is not a sidecar (*.xmp never triggers analysis).
func (m *matcher) media(p string) bool {
	ext := strings.ToLower(filepath.Ext(p))
	if ext == ".xmp" {
		return false
	}
	if m.exts == nil {
		return true
	}
	return m.exts[ext]
}
