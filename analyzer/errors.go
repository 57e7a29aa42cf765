package analyzer

import (
	"errors"
	"fmt"
	"strings"

	"github.com/faced/faced/analyzer/imgmeta"
	"github.com/faced/faced/face"
	"github.com/faced/faced/media"
)

// Kinds of file errors, for errors.Is on what Analyze returns.
var (
	// ErrUnsupported: not a photo or video format faced reads.
	ErrUnsupported = imgmeta.ErrUnsupported
	// ErrCorrupt: a known format that cannot be decoded (truncated, broken).
	ErrCorrupt = imgmeta.ErrCorrupt
	// ErrTooLarge: the header claims more pixels (or bytes) than allowed;
	// refused before decoding.
	ErrTooLarge = errors.New("file too large")
	// ErrNoVideoStream: a video container without a decodable video stream.
	ErrNoVideoStream = errors.New("no video stream")
)

// FileError is an error about one input file: which file, what kind of
// problem (one of the Err* kinds, matched by errors.Is) and why.
type FileError struct {
	Path   string
	Kind   error
	Reason string
	Err    error // underlying cause, may be nil
}

func (e *FileError) Error() string {
	if e.Kind != nil && !strings.HasPrefix(e.Reason, e.Kind.Error()) {
		return fmt.Sprintf("%s: %v: %s", e.Path, e.Kind, e.Reason)
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Reason)
}

// Is matches the error's kind.
func (e *FileError) Is(target error) bool { return e.Kind != nil && target == e.Kind }

// Unwrap returns the underlying cause.
func (e *FileError) Unwrap() error { return e.Err }

func fileErr(path string, kind error, cause error, format string, a ...any) *FileError {
	return &FileError{Path: path, Kind: kind, Reason: fmt.Sprintf(format, a...), Err: cause}
}

// MediaKind tells by the extension (case-insensitive, the media table)
// whether path is a photo (raw files and motion photos included) or a video
// faced analyses.
func MediaKind(path string) (face.Kind, bool) {
	e, ok := media.ByPath(path)
	switch {
	case !ok:
		return "", false
	case e.Kind.IsVideo():
		return face.KindVideo, true
	}
	return face.KindPhoto, true
}
