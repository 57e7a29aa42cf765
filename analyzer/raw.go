package analyzer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"syscall"

	"github.com/faced/faced/analyzer/imgmeta"
	"github.com/faced/faced/analyzer/internal/clock"
	"github.com/faced/faced/analyzer/rawpreview"
	"github.com/faced/faced/face"
	"github.com/faced/faced/media"
)

// MinRawPreviewSide is the longer side a raw file's largest embedded JPEG
// must have to be analysed in place of the raw data (faces of 32 px in a
// 6 000 px photo are 5 px in a 1 000 px preview: smaller previews lose
// faces; decoding the sensor data with LibRaw is not built in).
const MinRawPreviewSide = 1000

// analyzeRaw analyses a camera raw file through the largest JPEG preview
// embedded in it, as the JPEG path analyses a JPEG (reduced DCT decode for
// detection, face regions decoded again at full preview resolution), with
// the orientation of the preview's own EXIF or, when it has none, the raw
// container's. Boxes are in the preview's pixels: for the full-size
// previews cameras embed (JpgFromRaw, CR3's first track, Canon's
// PreviewImage) that is the developed image's default crop, the frame
// photo managers show a raw in; see exporters/README.md for the sidecars.
//
// The file is mapped, not read: raw files are 20-80 MB and only the
// preview's pages are touched.
func (a *Analyzer) analyzeRaw(ctx context.Context, path string, id media.Identity) (*face.Result, Timings, error) {
	var tm Timings
	t0 := clock.Now()
	f, size, err := a.openLimited(path)
	if err != nil {
		return nil, tm, err
	}
	defer f.Close()
	if size < 16 {
		return nil, tm, fileErr(path, ErrCorrupt, nil, "%s file of %d bytes", id.Format, size)
	}
	file, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, tm, fileErr(path, ErrCorrupt, err, "cannot map the file: %v", err)
	}
	defer syscall.Munmap(file)
	p, err := rawpreview.Largest(file)
	if err != nil || max(p.Width, p.Height) < MinRawPreviewSide {
		why := "it has none"
		if err == nil {
			why = fmt.Sprintf("the largest is %dx%d", p.Width, p.Height)
		}
		return nil, tm, fileErr(path, ErrUnsupported, err, "unsupported format: %s file without an embedded JPEG preview of at least %d px (%s; decoding raw sensor data is not supported)",
			id.Format, MinRawPreviewSide, why)
	}
	buf := p.Bytes(file)
	info, err := imgmeta.Read(bytes.NewReader(buf), int64(len(buf)))
	if err != nil {
		kind := ErrCorrupt
		if errors.Is(err, ErrUnsupported) {
			kind = ErrUnsupported
		}
		return nil, tm, fileErr(path, kind, err, "embedded preview: %v", err)
	}
	if !info.OrientationTagged {
		// Previews usually carry no EXIF of their own: the raw's IFD0
		// (CR3: CMT1) says which way is up.
		info.Orientation, info.OrientationTagged = rawpreview.Orientation(file)
	}
	if info.CaptureTime.IsZero() {
		if x := rawMeta(file); !x.CaptureTime.IsZero() {
			info.CaptureTime = x.CaptureTime
		}
	}
	if err := a.checkPixels(path, info.Width, info.Height); err != nil {
		return nil, tm, err
	}
	if !imgmeta.JPEGComplete(buf) {
		return nil, tm, fileErr(path, ErrCorrupt, nil, "truncated embedded JPEG preview")
	}
	read := clock.Since(t0)
	res, tm, err := a.analyzeBuf(ctx, path, buf, info)
	tm.Decode += read
	return res, tm, err
}

// rawMeta reads the capture time of a TIFF-based raw's IFD0/EXIF.
func rawMeta(file []byte) imgmeta.Info {
	if bytes.HasPrefix(file, []byte("II*\x00")) || bytes.HasPrefix(file, []byte("MM\x00*")) {
		return imgmeta.FromEXIF(file)
	}
	return imgmeta.Info{}
}
