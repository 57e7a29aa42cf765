package analyzer

import (
	"bytes"
	"context"
	"errors"

	"github.com/faced/faced/analyzer/imgmeta"
	"github.com/faced/faced/analyzer/internal/clock"
	"github.com/faced/faced/analyzer/jxl"
	"github.com/faced/faced/face"
)

// analyzeJXLJPEG analyses a JPEG XL file that is a lossless transcoding of
// a JPEG (cjxl's default for a JPEG, what converting a photo library
// makes) as that JPEG: libjxl rebuilds the JPEG bit for bit from its jbrd
// box without decoding pixels, and the JPEG path decodes it reduced for
// detection and only the faces' rectangle at full size; libjxl's own
// full-size pixel decode cost five times as much. The faces are the
// original JPEG's (libjxl's IDCT moved a box of a test photo by 3.4 px).
// ok is false, with nothing done, when the file holds no JPEG (pixels
// encoded directly), when the JPEG's EXIF orientation is not the
// codestream's (readers show the codestream's), or when the rebuilt bytes
// are not a JPEG faced reads: analyzeJXL then decodes pixels. The frame of
// the stored boxes is JPEG XL's (jxlStoredFrame), as analyzeJXL gives it.
func (a *Analyzer) analyzeJXLJPEG(ctx context.Context, path string, buf []byte) (res *face.Result, tm Timings, ok bool, err error) {
	t0 := clock.Now()
	jpg, o, release, ok, err := jxl.JPEG(buf, a.opt.MaxFileMB<<20)
	defer release()
	rebuild := clock.Since(t0)
	if errors.Is(err, jxl.ErrTooLarge) {
		return nil, tm, true, fileErr(path, ErrTooLarge, err, "%v", err)
	}
	if !ok || err != nil {
		// Damaged files are reported by the pixel decode.
		return nil, tm, false, nil
	}
	info, err := imgmeta.Read(bytes.NewReader(jpg), int64(len(jpg)))
	if err != nil || info.Format != imgmeta.JPEG || info.Orientation != o || !imgmeta.JPEGComplete(jpg) {
		return nil, tm, false, nil
	}
	if err := a.checkPixels(path, info.Width, info.Height); err != nil {
		return nil, tm, true, err
	}
	res, tm, err = a.analyzeBuf(ctx, path, jpg, info)
	tm.Decode += rebuild
	if err != nil {
		return nil, tm, true, err
	}
	// JPEG XL's stored frame: the upright image turned back by the Exif
	// box's Orientation, if any, else the upright image.
	so, sw, sh, ex := jxlStoredFrame(buf, res.Width, res.Height)
	res.Orientation, res.StoredWidth, res.StoredHeight = so, sw, sh
	if !ex.CaptureTime.IsZero() {
		res.CaptureTime = ex.CaptureTime
	}
	for i := range res.Faces {
		res.Faces[i].StoredBox = imgmeta.BoxToStored(so, res.Width, res.Height, res.Faces[i].Box)
	}
	return res, tm, true, nil
}
