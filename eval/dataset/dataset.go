// Package dataset reads the labelled photo sets the evaluations run on,
// laid out as one folder per identity: DIR/IDENTITY/photo.
package dataset

import (
	"os"
	"path/filepath"

	"github.com/faced/faced/analyzer"
)

// WalkIdentities calls fn for each photo of dir's identity folders, with the
// folder's name and the photo's path, in directory order (folders by name,
// then their files by name). Files directly in dir, folders nested in an
// identity folder and files analyzer.MediaKind does not take are skipped.
// An os.ReadDir error or fn's is returned as is, stopping the walk.
func WalkIdentities(dir string, fn func(identity, path string) error) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		sub := filepath.Join(dir, e.Name())
		fs, err := os.ReadDir(sub)
		if err != nil {
			return err
		}
		for _, f := range fs {
			if f.IsDir() {
				continue
			}
			if _, ok := analyzer.MediaKind(f.Name()); !ok {
				continue
			}
			if err := fn(e.Name(), filepath.Join(sub, f.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}
