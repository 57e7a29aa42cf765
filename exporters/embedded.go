package exporters

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/faced/faced/exporters/xmp"
)

var xmpAPP1 = []byte("http://ns.adobe.com/xap/1.0/\x00")

// jpegXMP returns the XMP packet of a JPEG's APP1 segment; ok is false when
// the file is not a JPEG.
func jpegXMP(path string) (data []byte, ok bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var soi [2]byte
	if _, err := io.ReadFull(r, soi[:]); err != nil || soi != [2]byte{0xFF, 0xD8} {
		return nil, false, nil
	}
	for {
		b, err := r.ReadByte()
		if err != nil {
			return nil, true, nil
		}
		if b != 0xFF {
			return nil, true, fmt.Errorf("%s: bad JPEG marker", path)
		}
		m, err := r.ReadByte()
		for err == nil && m == 0xFF { // fill bytes
			m, err = r.ReadByte()
		}
		if err != nil {
			return nil, true, nil
		}
		if m == 0xD9 || m == 0xDA { // EOI, SOS: no more metadata
			return nil, true, nil
		}
		if m == 0x01 || (m >= 0xD0 && m <= 0xD7) {
			continue
		}
		var lb [2]byte
		if _, err := io.ReadFull(r, lb[:]); err != nil {
			return nil, true, nil
		}
		n := int(binary.BigEndian.Uint16(lb[:])) - 2
		if n < 0 {
			return nil, true, fmt.Errorf("%s: bad JPEG segment length", path)
		}
		seg := make([]byte, n)
		if _, err := io.ReadFull(r, seg); err != nil {
			return nil, true, fmt.Errorf("%s: truncated JPEG segment", path)
		}
		if m == 0xE1 && bytes.HasPrefix(seg, xmpAPP1) {
			return seg[len(xmpAPP1):], true, nil
		}
	}
}

// EmbeddedXMP returns the XMP packet embedded in photo (nil when it has
// none): read directly from a JPEG's APP1 segment, through `exiftool -xmp
// -b` for other formats (nil when exiftool is missing).
func EmbeddedXMP(ctx context.Context, photo, exiftool string) ([]byte, error) {
	data, isJPEG, err := jpegXMP(photo)
	if isJPEG || err != nil {
		return data, err
	}
	if exiftool == "" {
		exiftool = "exiftool"
	}
	if _, lerr := exec.LookPath(exiftool); lerr != nil {
		return nil, nil
	}
	return runExifTool(ctx, exiftool, "-xmp", "-b", "--", photo)
}

func runExifTool(ctx context.Context, exiftool string, args ...string) ([]byte, error) {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, exiftool, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("exiftool %v: %w: %s", args, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out, nil
}

// exportEmbedded merges p into the XMP embedded in the photo and writes it
// back with exiftool's in-place safe write (-overwrite_original_in_place
// keeps the inode and attributes, -P the modification time).
func (e *Exporter) exportEmbedded(ctx context.Context, p Photo) (bool, mergeOut, error) {
	if _, err := exec.LookPath(e.opts.ExifTool); err != nil {
		return false, mergeOut{}, fmt.Errorf("%w: embedded mode for %s: %v", ErrNoExifTool, p.Path, err)
	}
	for attempt := 0; attempt < maxAttempts; attempt++ {
		before, err := os.Stat(p.Path)
		if err != nil {
			return false, mergeOut{}, fmt.Errorf("exporters: %w", err)
		}
		data, err := runExifTool(ctx, e.opts.ExifTool, "-xmp", "-b", "--", p.Path)
		if err != nil {
			return false, mergeOut{}, fmt.Errorf("exporters: read embedded XMP of %s: %w", p.Path, err)
		}
		var doc *xmp.Doc
		if len(bytes.TrimSpace(data)) > 0 {
			if doc, err = xmp.Parse(data); err != nil {
				return false, mergeOut{}, fmt.Errorf("%w: embedded XMP of %s: %v", ErrUnreadableSidecar, p.Path, err)
			}
			trimPadding(doc)
		} else {
			doc, _ = xmp.Parse([]byte(emptyPacket))
		}
		orig := doc.Bytes()
		m := merge(doc, mergeInput{photo: p, opts: e.opts, sidecar: p.Path})
		if bytes.Equal(doc.Bytes(), orig) {
			return false, m, nil
		}
		xmp.SetValue(versionHost(doc), NSFaced, "faced", "Version", e.opts.FacedVersion)
		// Beside the photo (the watcher ignores TempPrefix), not in /tmp:
		// faced writes nowhere but the library and DataDirectory.
		tmp, err := os.CreateTemp(filepath.Dir(p.Path), TempPrefix+"embedded-*.xmp")
		if err != nil {
			return false, mergeOut{}, fmt.Errorf("exporters: %w", err)
		}
		tmpName := tmp.Name()
		_, werr := tmp.Write(doc.Bytes())
		cerr := tmp.Close()
		if werr != nil || cerr != nil {
			os.Remove(tmpName)
			return false, mergeOut{}, fmt.Errorf("exporters: write %s: %w", tmpName, errors.Join(werr, cerr))
		}
		after, err := os.Stat(p.Path)
		if err != nil || after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
			os.Remove(tmpName)
			continue
		}
		if e.opts.OnWrite != nil {
			e.opts.OnWrite(p.Path)
		}
		_, err = runExifTool(ctx, e.opts.ExifTool, "-overwrite_original_in_place", "-P", "-q",
			"-xmp<="+tmpName, "--", p.Path)
		os.Remove(tmpName)
		if err != nil {
			return false, mergeOut{}, fmt.Errorf("exporters: embedded write %s: %w", filepath.Base(p.Path), err)
		}
		// -P keeps whole seconds only: restore the exact time, so the
		// watcher and reconciliation see no change of the photo.
		if err := os.Chtimes(p.Path, time.Time{}, before.ModTime()); err != nil {
			e.log.Warn("cannot restore the photo's modification time", "file", p.Path, "err", err)
		}
		return true, m, nil
	}
	return false, mergeOut{}, fmt.Errorf("%w: %s", ErrConcurrentWrite, p.Path)
}
