// Package config parses and validates faced's config.txt: an INI file with a
// single [DEFAULT] section of "Key = Value" lines, as the seed's
// process_photos.py reads it, extended with faced's own keys.
//
// Load returns an immutable *Config: every value is read through a method,
// and list values are returned as copies. Relative paths are resolved against
// the folder of the config file. Unknown keys, duplicate keys and bad values
// are reported as a *LineError naming the file, the line and the reason.
// InputDirectory and DataDirectory are never / or a system folder, and the
// socket lives in DataDirectory or a runtime folder of faced's own (faced
// removes a stale socket at start: never a file it does not own).
//
// Load and Parse open no file other than the config itself; CheckPaths
// looks at the folders the config names, and KeyError turns a later
// problem with a value into an error naming the key and its line. The
// package starts no goroutines.
package config

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"slices"
	"time"
)

// SidecarNaming says how a new sidecar is named.
type SidecarNaming string

const (
	// SidecarFull names the sidecar of photo.jpg "photo.jpg.xmp"
	// (digiKam, darktable).
	SidecarFull SidecarNaming = "full"
	// SidecarBase names the sidecar of photo.jpg "photo.xmp" (Lightroom).
	SidecarBase SidecarNaming = "base"
)

// ModelVariant selects the precision of the identity/age/gender network.
type ModelVariant string

const (
	// VariantInt8 is the seed's quantized network (8-bit weights).
	VariantInt8 ModelVariant = "int8"
	// VariantFloat32 is the same network with dequantized float32 weights.
	VariantFloat32 ModelVariant = "float32"
)

// Config is a loaded, validated configuration. It is immutable: its fields
// are unexported and read through methods.
type Config struct {
	file  string         // absolute path of the loaded file
	lines map[string]int // key -> line it was set on (absent: default)

	// The seed's keys.
	inputDirectory        string
	distanceThreshold     float64 // 0 = "model"
	minNoPhotos           int
	minNoFrames           int
	minDaysDifference     int
	minFaceWidthPercent   float64
	dataDirectory         string
	workers               int
	sidecarNaming         SidecarNaming
	minFaceSize           int
	ortLibrary            string
	seedDirectory         string
	modelVariant          ModelVariant
	heads                 string
	extensions            []string
	ignoreGlobs           []string
	allowedOutside        []string
	settle                time.Duration
	rescan                time.Duration
	videoFramesPerSecond  float64
	unnamedPersonLabel    string
	visibilityKeywordRoot string
	embeddedXMP           bool
	logLevel              slog.Level
	socket                string
	reviewAddress         string
}

// File returns the absolute path of the file the configuration was read from.
func (c *Config) File() string { return c.file }

// InputDirectory is the absolute path of the folder of photos and videos to
// watch, recursively.
func (c *Config) InputDirectory() string { return c.inputDirectory }

// DistanceThreshold is the clustering distance threshold, or 0 when the
// file says "model": use the threshold tuned for the installed model.
func (c *Config) DistanceThreshold() float64 { return c.distanceThreshold }

// MinNoPhotos is the minimum number of photos in a cluster before it counts
// as a person.
func (c *Config) MinNoPhotos() int { return c.minNoPhotos }

// MinNoFrames is the minimum number of frames of one face group in a video.
func (c *Config) MinNoFrames() int { return c.minNoFrames }

// MinDaysDifferenceBetweenPhotoMDates is the minimum span in days between the
// oldest and newest photo of a cluster before it counts as a person; 0 turns
// the check off.
func (c *Config) MinDaysDifferenceBetweenPhotoMDates() int { return c.minDaysDifference }

// MinFaceWidthPercent is the face width, in percent of the image width, from
// which a photo counts as private.
func (c *Config) MinFaceWidthPercent() float64 { return c.minFaceWidthPercent }

// DataDirectory is the absolute path of the folder holding the index,
// converted models and the socket.
func (c *Config) DataDirectory() string { return c.dataDirectory }

// MaxWorkers is the largest Workers value accepted.
const MaxWorkers = 256

// Workers is the configured number of analysis workers; 0 means one per CPU
// core (see WorkerCount).
func (c *Config) Workers() int { return c.workers }

// WorkerCount is Workers with 0 resolved to the number of CPU cores.
func (c *Config) WorkerCount() int {
	if c.workers > 0 {
		return c.workers
	}
	return runtime.NumCPU()
}

// SidecarNaming says how sidecars are named for photos that have none yet.
func (c *Config) SidecarNaming() SidecarNaming { return c.sidecarNaming }

// MinFaceSize is the smallest face side in pixels MTCNN looks for.
func (c *Config) MinFaceSize() int { return c.minFaceSize }

// ORTLibrary is the absolute path of the ONNX Runtime shared library, or ""
// to find it automatically.
func (c *Config) ORTLibrary() string { return c.ortLibrary }

// SeedDirectory is the absolute path of a folder holding the seed's model
// files or converted models, which faced installs into DataDirectory/models
// when they are missing there; "" = the installed location (see
// models.DefaultSources).
func (c *Config) SeedDirectory() string { return c.seedDirectory }

// ModelVariant is the precision of the age/gender/identity network.
func (c *Config) ModelVariant() ModelVariant { return c.modelVariant }

// Heads names the age and gender heads: "seed" for the network's own
// outputs, otherwise NAME of a trained heads-NAME.json in the model folder.
func (c *Config) Heads() string { return c.heads }

// Extensions are the lower-case media file extensions (with the dot) faced
// analyses. The slice is a copy.
func (c *Config) Extensions() []string { return slices.Clone(c.extensions) }

// AllowedOutsideFolders are the folders outside InputDirectory that
// symbolic links inside it may lead into (absolute paths; none by
// default: a link leading out is reported once and skipped). The slice is
// a copy.
func (c *Config) AllowedOutsideFolders() []string { return slices.Clone(c.allowedOutside) }

// IgnoreGlobs are extra ignore patterns for the watcher (see package
// watcher for how they match). The slice is a copy.
func (c *Config) IgnoreGlobs() []string { return slices.Clone(c.ignoreGlobs) }

// SettleTime is how long a file's size and mtime must stay unchanged before
// it is analysed.
func (c *Config) SettleTime() time.Duration { return c.settle }

// RescanInterval is the period of the reconciliation walk; 0 turns periodic
// walks off (one still runs at start and after watch failures).
func (c *Config) RescanInterval() time.Duration { return c.rescan }

// VideoFramesPerSecond is the video sampling rate; 0 means the seed's
// adaptive rule (every 5th frame, every 3rd after a frame with a face).
func (c *Config) VideoFramesPerSecond() float64 { return c.videoFramesPerSecond }

// UnnamedPersonLabel is the prefix of the name written for a person nobody
// has named yet: "<label> <number>".
func (c *Config) UnnamedPersonLabel() string { return c.unnamedPersonLabel }

// VisibilityKeywordRoot is the root of the hierarchical keywords faced writes
// for the private/potentially public marker ("<root>|private").
func (c *Config) VisibilityKeywordRoot() string { return c.visibilityKeywordRoot }

// EmbeddedXMP says whether faced also writes its regions and keywords into
// the photo itself (opt-in, for Lightroom, which does not read sidecars of
// JPEGs), with exiftool's safe in-place write. Off by default: photos are
// never modified.
func (c *Config) EmbeddedXMP() bool { return c.embeddedXMP }

// LogLevel is the minimum level of the daemon's log.
func (c *Config) LogLevel() slog.Level { return c.logLevel }

// ReviewAddress is the host:port the review page listens on ("" = none).
func (c *Config) ReviewAddress() string { return c.reviewAddress }

// Socket is the absolute path of the local API socket (on Windows, a named
// pipe name).
func (c *Config) Socket() string { return c.socket }

// String summarises the configuration for logs (paths and sizes only).
func (c *Config) String() string {
	return fmt.Sprintf("config %s: input %s, data %s, workers %d, settle %s",
		c.file, c.inputDirectory, c.dataDirectory, c.WorkerCount(), c.settle)
}

// LineError is a problem with one line (or, with Line 0, with the file as a
// whole, such as a missing required key or a key left at its default).
type LineError struct {
	File   string
	Line   int
	Key    string
	Reason string
	Err    error // the underlying error, if any (KeyError)
}

func (e *LineError) Unwrap() error { return e.Err }

// KeyError is err (a problem with the value of key found after loading,
// such as a folder that does not exist) as a *LineError naming the file,
// the key and the line that set it (line 0 when the key has its default).
func (c *Config) KeyError(key string, err error) error {
	if err == nil {
		return nil
	}
	reason := err.Error()
	if _, set := c.lines[key]; !set {
		reason += " (not set: the default)"
	}
	return &LineError{File: c.file, Line: c.lines[key], Key: key, Reason: reason, Err: err}
}

func (e *LineError) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Key != "" {
		return fmt.Sprintf("%s: %s: %s", loc, e.Key, e.Reason)
	}
	return fmt.Sprintf("%s: %s", loc, e.Reason)
}

// resolve makes p absolute against dir (the config file's folder).
func resolve(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(dir, p)
}
