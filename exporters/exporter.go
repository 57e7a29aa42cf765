// Package exporters writes faced's results into XMP sidecars that digiKam,
// Lightroom, Immich, PhotoPrism and ExifTool read: MWG and Microsoft face
// regions on the stored pixel frame, person keywords in every keyword
// family (digiKam TagsList, Lightroom hierarchicalSubject, dc:subject) and
// faced's own namespace (face and person ids, apparent age and gender,
// detection score, model, visibility; never identity features).
//
// Sidecars are merged, never clobbered: the document is parsed into a
// lossless tree (package exporters/xmp), faced changes only what it owns and
// everything else (foreign regions, names, keywords, unknown namespaces)
// stays value for value. A name the user gave one of faced's regions is kept
// and returned in Result.UserNames; a region the user deleted after faced
// wrote it is not written again (Result.UserDeleted). Writes are atomic (temp file in the same
// folder, fsync, re-check, rename) and idempotent: exporting the same Photo
// twice leaves the bytes on disk unchanged. Photos are never modified unless
// Options.Embedded is set.
//
// The rules and their sources are in ../shared/research/XMP_INTEROP_AND_PEERS.md
// and summarised in README.md next to this file.
package exporters

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/faced/faced/exporters/xmp"
	"github.com/faced/faced/face"
)

// Region is one face of a photo as the index knows it.
type Region struct {
	FaceID   int64
	PersonID int64 // 0 = not in any person
	// Name is the person's name; "" = unnamed (written per
	// Options.UnnamedLabel).
	Name string
	// StoredBox is the face box in the STORED pixel frame (before EXIF
	// orientation), the frame MWG regions are defined on.
	StoredBox face.Box
	Age       float64 // apparent age, years
	MaleProb  float64 // apparent gender, P(male)
	// PersonBirthYear is the person's birth year (0: unknown or no
	// person) and PersonBirthYearConfidence how sure an automatic one is
	// (the chance it is within two years; 0: the user's year or unknown).
	PersonBirthYear           int
	PersonBirthYearConfidence float64
	Score                     float64 // detection score
	Model                     string
}

// Photo is one analysed photo or video.
type Photo struct {
	Path string
	Kind face.Kind
	// StoredWidth and StoredHeight are the stored pixel dimensions.
	StoredWidth, StoredHeight int
	Regions                   []Region
	// Visibility is "private", "public" or "" (not written).
	Visibility string
	// Keywords are person names, written as People/<name>.
	Keywords []string
}

// Options configures an Exporter.
type Options struct {
	// Naming of a new sidecar: "full" (photo.jpg.xmp, the default: digiKam,
	// darktable, Immich) or "base" (photo.xmp, Lightroom).
	Naming string
	// UnnamedLabel names regions of unnamed persons: "Person" gives
	// "Person 17", a label with a verb ("Person %d") is formatted with the
	// person id; "" leaves them unnamed (digiKam shows them as unknown).
	UnnamedLabel string
	// VisibilityKeywordRoot, when set, mirrors the visibility as the keyword
	// <root>/private or <root>/public ("|" in the root counts as "/").
	VisibilityKeywordRoot string
	// Embedded also merges into the XMP embedded in the photo itself, with
	// ExifTool's in-place safe write (Lightroom does not read sidecars of
	// JPEGs). Off by default: photos are otherwise never modified.
	Embedded bool
	// FacedVersion is recorded as faced:Version.
	FacedVersion string
	// OnWrite, when set, is called with the path of each file just before
	// it is replaced (sidecar rename or embedded write), so a watcher can
	// ignore the event it causes.
	OnWrite func(path string)
	// ExifTool is the exiftool executable ("" = "exiftool" from PATH). It
	// reads the embedded XMP of non-JPEG files and does embedded writes.
	ExifTool string
	// Logger receives warnings (nil = slog.Default()).
	Logger *slog.Logger
	// Library is the photo folder (InputDirectory). A sidecar that is a
	// symbolic link is merged (into its target, temp file beside it) only
	// when it resolves inside Library; otherwise, or when Library is "",
	// it is refused with ErrSidecarOutside and left as it is.
	Library string
	// MaxSidecarBytes is the largest sidecar faced reads (0 = 32 MiB);
	// a bigger one is left untouched with ErrSidecarTooLarge.
	MaxSidecarBytes int64
}

// DefaultMaxSidecarBytes is the default Options.MaxSidecarBytes: well above
// a 200 000-keyword sidecar (about 20 MB), well below what makes a merge
// slow or big in memory.
const DefaultMaxSidecarBytes = 32 << 20

// Sources of a UserName.
const (
	// SourceRenamedRegion: the user renamed one of faced's regions.
	SourceRenamedRegion = "renamed-region"
	// SourceForeignRegion: another tool's (or the user's) region covers the
	// face with this name.
	SourceForeignRegion = "foreign-region"
)

// UserName is a name found on one of faced's faces that differs from the
// index's: the index may adopt it as the person's name.
type UserName struct {
	FaceID, PersonID int64
	Name             string
	Sidecar          string // file it was read from
	Source           string // SourceRenamedRegion or SourceForeignRegion
	// Replaces is, for SourceRenamedRegion, the name faced had written on
	// the region the user renamed.
	Replaces string
}

// Result reports what Export did.
type Result struct {
	// Written lists the files replaced (sidecars, and the photo in
	// embedded mode).
	Written []string
	// UserNames lists names users gave faced's faces.
	UserNames []UserName
	// Unchanged is true when nothing had to be written.
	Unchanged bool
	// UserDeleted lists the face ids whose regions the user deleted from a
	// sidecar (or the embedded XMP) after faced had written them; faced no
	// longer writes those regions there (faced:RegionDeleted in faced:Faces).
	UserDeleted []int64
}

// Errors callers can branch on.
var (
	// ErrInvalidPhoto: the Photo cannot be exported (message says why).
	ErrInvalidPhoto = errors.New("invalid photo")
	// ErrUnreadableSidecar: an existing sidecar is not valid XMP; it is left
	// untouched.
	ErrUnreadableSidecar = errors.New("unreadable sidecar")
	// ErrConcurrentWrite: the target kept changing while faced merged.
	ErrConcurrentWrite = errors.New("sidecar changed during export")
	// ErrNoExifTool: embedded mode needs exiftool.
	ErrNoExifTool = errors.New("exiftool not found")
	// ErrSidecarNotRegular: a sidecar path is a FIFO, socket, device or
	// folder. faced never opens it for reading (a FIFO would block) and
	// never replaces it.
	ErrSidecarNotRegular = errors.New("sidecar is not a regular file (FIFO, socket, device or folder); left untouched")
	// ErrSidecarOutside: a sidecar is a symbolic link that leads outside
	// the photo folder (or dangles); faced neither reads nor replaces it.
	ErrSidecarOutside = errors.New("sidecar is a symbolic link leading outside the photo folder; left untouched")
	// ErrSidecarTooLarge: a sidecar is over the size, depth or element
	// limits faced parses; it is left untouched.
	ErrSidecarTooLarge = errors.New("sidecar over faced's parse limits (size, depth or elements); left untouched")
)

// Exporter writes sidecars. It is safe for concurrent use on different
// photos.
type Exporter struct {
	opts Options
	log  *slog.Logger
}

// New checks opts and returns an Exporter.
func New(opts Options) (*Exporter, error) {
	switch opts.Naming {
	case "":
		opts.Naming = "full"
	case "full", "base":
	default:
		return nil, fmt.Errorf("exporters: sidecar naming %q: want full or base", opts.Naming)
	}
	if opts.ExifTool == "" {
		opts.ExifTool = "exiftool"
	}
	if opts.MaxSidecarBytes <= 0 {
		opts.MaxSidecarBytes = DefaultMaxSidecarBytes
	}
	if opts.Library != "" {
		if real, err := filepath.EvalSymlinks(opts.Library); err == nil {
			opts.Library = real
		}
		opts.Library = filepath.Clean(opts.Library)
	}
	l := opts.Logger
	if l == nil {
		l = slog.Default()
	}
	return &Exporter{opts: opts, log: l}, nil
}

// SidecarNames returns the two sidecar names of photo: photo.ext.xmp
// ("full") and photo.xmp ("base").
func SidecarNames(photo string) (full, base string) {
	return photo + ".xmp", strings.TrimSuffix(photo, filepath.Ext(photo)) + ".xmp"
}

// Sidecars returns the sidecars of photo that exist (both names, any case
// of the .xmp suffix, each file once) and the path a new one gets under
// naming. Whatever exists under a sidecar name is listed, FIFOs and
// symbolic links included (nothing is opened here): Export refuses those
// by name instead of creating a file in their place.
func Sidecars(photo, naming string) (existing []string, create string) {
	full, base := SidecarNames(photo)
	var infos []os.FileInfo
	for _, c := range []string{full, strings.TrimSuffix(full, ".xmp") + ".XMP", base, strings.TrimSuffix(base, ".xmp") + ".XMP"} {
		fi, err := os.Lstat(c)
		if err != nil {
			continue
		}
		dup := false
		for _, o := range infos {
			if os.SameFile(o, fi) {
				dup = true
			}
		}
		if !dup {
			infos = append(infos, fi)
			existing = append(existing, c)
		}
	}
	if naming == "base" {
		return existing, base
	}
	return existing, full
}

// Export merges p into every existing sidecar of p.Path (or a new one
// seeded from the photo's embedded XMP) and, in embedded mode, into the
// photo.
func (e *Exporter) Export(ctx context.Context, p Photo) (Result, error) {
	var res Result
	if err := validate(p); err != nil {
		return res, err
	}
	existing, create := Sidecars(p.Path, e.opts.Naming)
	targets := existing
	if len(targets) == 0 {
		targets = []string{create}
	}
	var refused []error
	for _, t := range targets {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		real, err := e.sidecarTarget(t)
		if err != nil {
			// This one is left as it is; the photo's other sidecars are
			// still written, and the error names it.
			refused = append(refused, err)
			continue
		}
		wrote, m, err := e.exportSidecar(ctx, p, real)
		if errors.Is(err, ErrSidecarNotRegular) || errors.Is(err, ErrSidecarOutside) || errors.Is(err, ErrSidecarTooLarge) {
			refused = append(refused, err)
			continue
		}
		if err != nil {
			return res, err
		}
		if wrote {
			res.Written = append(res.Written, real)
		}
		res.add(m)
	}
	if len(refused) > 0 {
		res.Unchanged = len(res.Written) == 0
		return res, errors.Join(refused...)
	}
	if e.opts.Embedded {
		wrote, m, err := e.exportEmbedded(ctx, p)
		if err != nil {
			return res, err
		}
		if wrote {
			res.Written = append(res.Written, p.Path)
		}
		res.add(m)
	}
	res.Unchanged = len(res.Written) == 0
	return res, nil
}

// add records what merging one target found.
func (r *Result) add(m mergeOut) {
	r.UserNames = appendUsers(r.UserNames, m.users)
	for _, id := range m.deleted {
		if !slices.Contains(r.UserDeleted, id) {
			r.UserDeleted = append(r.UserDeleted, id)
		}
	}
}

func appendUsers(dst, src []UserName) []UserName {
	for _, u := range src {
		dup := false
		for _, d := range dst {
			if d.FaceID == u.FaceID && d.Name == u.Name {
				dup = true
			}
		}
		if !dup {
			dst = append(dst, u)
		}
	}
	return dst
}

// sidecarTarget returns the file a sidecar path is written to: the path
// itself, or the target of a symbolic link that stays inside the library.
// FIFOs, sockets, devices, folders and links leading out are refused (from
// lstat: nothing is opened).
func (e *Exporter) sidecarTarget(path string) (string, error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return path, nil
	}
	if err != nil {
		return "", fmt.Errorf("exporters: %s: %w", path, err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		t, err := filepath.EvalSymlinks(path)
		if err != nil {
			return "", fmt.Errorf("%w: %s: %v", ErrSidecarOutside, path, err)
		}
		if e.opts.Library == "" || !within(e.opts.Library, t) {
			return "", fmt.Errorf("%w: %s -> %s", ErrSidecarOutside, path, t)
		}
		if fi, err = os.Lstat(t); err != nil {
			return "", fmt.Errorf("exporters: %s: %w", t, err)
		}
		path = t
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%w: %s (%s)", ErrSidecarNotRegular, path, fi.Mode().Type())
	}
	return path, nil
}

// within reports whether path lies in folder dir (both clean, absolute).
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

func validate(p Photo) error {
	if p.Path == "" {
		return fmt.Errorf("%w: empty path", ErrInvalidPhoto)
	}
	if len(p.Regions) > 0 && (p.StoredWidth <= 0 || p.StoredHeight <= 0) {
		return fmt.Errorf("%w: %s: stored size %dx%d", ErrInvalidPhoto, p.Path, p.StoredWidth, p.StoredHeight)
	}
	switch p.Visibility {
	case "", "private", "public":
	default:
		return fmt.Errorf("%w: %s: visibility %q (want private or public)", ErrInvalidPhoto, p.Path, p.Visibility)
	}
	fi, err := os.Stat(p.Path) // never opened here: a FIFO is refused below
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidPhoto, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is not a regular file", ErrInvalidPhoto, p.Path)
	}
	return nil
}

// snapshot is what a target looked like when it was read.
type snapshot struct {
	exists bool
	size   int64
	mtime  time.Time
	data   []byte
}

func takeSnapshot(path string, max int64) (snapshot, error) {
	data, fi, err := readRegular(path, max)
	if errors.Is(err, fs.ErrNotExist) {
		return snapshot{}, nil
	}
	if err != nil {
		return snapshot{}, err
	}
	return snapshot{exists: true, size: fi.Size(), mtime: fi.ModTime(), data: data}, nil
}

// readRegular reads a sidecar without ever blocking or following a link:
// the open is non-blocking and refuses symbolic links (a FIFO or link
// swapped in after sidecarTarget looked), the opened file must be regular
// (fstat), and at most max bytes are read.
func readRegular(path string, max int64) ([]byte, os.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, nil, fmt.Errorf("%w: %s became a symbolic link", ErrSidecarOutside, path)
	}
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%w: %s (%s)", ErrSidecarNotRegular, path, fi.Mode().Type())
	}
	if fi.Size() > max {
		return nil, nil, fmt.Errorf("%w: %s has %d bytes, faced reads at most %d", ErrSidecarTooLarge, path, fi.Size(), max)
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, nil, err
	}
	if int64(len(data)) > max {
		return nil, nil, fmt.Errorf("%w: %s grew past %d bytes", ErrSidecarTooLarge, path, max)
	}
	return data, fi, nil
}

// unchangedSince reports whether path still is what s saw.
func unchangedSince(path string, s snapshot, max int64) bool {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return !s.exists
	}
	if err != nil || !s.exists || !fi.Mode().IsRegular() {
		return false
	}
	if fi.Size() != s.size || !fi.ModTime().Equal(s.mtime) {
		return false
	}
	data, _, err := readRegular(path, max)
	return err == nil && bytes.Equal(data, s.data)
}

const maxAttempts = 5

// testHookBeforeCheck, when set by a test, runs just before the re-check
// that precedes the rename.
var testHookBeforeCheck func(path string)

func (e *Exporter) exportSidecar(ctx context.Context, p Photo, target string) (bool, mergeOut, error) {
	for attempt := 0; attempt < maxAttempts; attempt++ {
		snap, err := takeSnapshot(target, e.opts.MaxSidecarBytes)
		if err != nil {
			return false, mergeOut{}, fmt.Errorf("exporters: read %s: %w", target, err)
		}
		var doc *xmp.Doc
		if snap.exists {
			if doc, err = xmp.ParseContext(ctx, snap.data, xmp.Limits{}); ctx.Err() != nil {
				return false, mergeOut{}, ctx.Err()
			} else if errors.Is(err, xmp.ErrLimit) {
				return false, mergeOut{}, fmt.Errorf("%w: %s: %v", ErrSidecarTooLarge, target, err)
			} else if err != nil {
				return false, mergeOut{}, fmt.Errorf("%w: %s: %v", ErrUnreadableSidecar, target, err)
			}
		} else {
			doc = e.seed(ctx, p.Path)
		}
		before := doc.Bytes()
		m := merge(doc, mergeInput{photo: p, opts: e.opts, sidecar: target, stop: &stopper{ctx: ctx}})
		if err := ctx.Err(); err != nil {
			// Stopped (SIGTERM): the merged document is dropped, the
			// sidecar stays as it was; the next run writes it.
			return false, mergeOut{}, err
		}
		out := doc.Bytes()
		if snap.exists && bytes.Equal(out, before) {
			return false, m, nil
		}
		xmp.SetValue(versionHost(doc), NSFaced, "faced", "Version", e.opts.FacedVersion)
		out = doc.Bytes()
		if snap.exists && bytes.Equal(out, snap.data) {
			return false, m, nil
		}
		perm := os.FileMode(0o644)
		if snap.exists {
			if fi, err := os.Stat(target); err == nil {
				perm = fi.Mode().Perm()
			}
		}
		err = WriteAtomic(target, out, perm, func() bool {
			if testHookBeforeCheck != nil {
				testHookBeforeCheck(target)
			}
			return unchangedSince(target, snap, e.opts.MaxSidecarBytes)
		}, e.opts.OnWrite)
		if errors.Is(err, errChanged) {
			e.log.Debug("sidecar changed while merging; merging again", "file", target, "attempt", attempt+1)
			continue
		}
		if err != nil {
			return false, mergeOut{}, err
		}
		return true, m, nil
	}
	return false, mergeOut{}, fmt.Errorf("%w: %s", ErrConcurrentWrite, target)
}

func versionHost(d *xmp.Doc) *xmp.Elem {
	if f, ok := d.FindTop("Version", NSFaced); ok {
		return f.Res
	}
	return d.Top()
}

// emptyPacket is the start of a new sidecar when the photo has no XMP.
const emptyPacket = "<?xpacket begin=\"\ufeff\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n" +
	"<x:xmpmeta xmlns:x=\"adobe:ns:meta/\" x:xmptk=\"faced\">\n" +
	" <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n" +
	"  <rdf:Description rdf:about=\"\"/>\n" +
	" </rdf:RDF>\n" +
	"</x:xmpmeta>\n" +
	"<?xpacket end=\"w\"?>\n"

// seed returns the document a new sidecar starts from: the photo's
// embedded XMP when it has one (digiKam ignores embedded XMP once a sidecar
// exists), else an empty packet.
func (e *Exporter) seed(ctx context.Context, photo string) *xmp.Doc {
	data, err := EmbeddedXMP(ctx, photo, e.opts.ExifTool)
	if err != nil {
		e.log.Warn("cannot read embedded XMP; new sidecar starts empty", "file", photo, "err", err)
	}
	if len(bytes.TrimSpace(data)) > 0 {
		doc, err := xmp.Parse(data)
		if err == nil {
			trimPadding(doc)
			return doc
		}
		e.log.Warn("embedded XMP is malformed; new sidecar starts empty", "file", photo, "err", err)
	}
	doc, err := xmp.Parse([]byte(emptyPacket))
	if err != nil {
		panic(err) // constant
	}
	return doc
}

// trimPadding drops the in-file padding of an embedded packet: whitespace
// between top-level nodes becomes one newline.
func trimPadding(d *xmp.Doc) {
	var out []xmp.Node
	for _, n := range d.Nodes {
		if t, ok := n.(xmp.Text); ok && xmp.IsBlank(string(t)) {
			out = append(out, xmp.Text("\n"))
			continue
		}
		out = append(out, n)
	}
	if len(out) > 0 {
		if _, ok := out[len(out)-1].(xmp.Text); !ok {
			out = append(out, xmp.Text("\n"))
		}
	}
	d.Nodes = out
	if x := findX(d); x != nil {
		if last := len(x.Children) - 1; last >= 0 {
			if t, ok := x.Children[last].(xmp.Text); ok && xmp.IsBlank(string(t)) {
				x.Children[last] = xmp.Text("\n")
			}
		}
	}
}

func findX(d *xmp.Doc) *xmp.Elem {
	for _, n := range d.Nodes {
		if e, ok := n.(*xmp.Elem); ok && e.Is(xmp.NSX, "xmpmeta") {
			return e
		}
	}
	return nil
}
