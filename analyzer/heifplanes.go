package analyzer

import (
	"context"
	"image"

	"gocv.io/x/gocv"

	"github.com/faced/faced/analyzer/heif"
	"github.com/faced/faced/analyzer/internal/clock"
	"github.com/faced/faced/analyzer/mtcnn"
	"github.com/faced/faced/face"
)

// analyzePlanes is analyzeUpright for a HEIF image held as libheif's RGB
// planes (pl, upright, res.Width × res.Height), without interleaving the
// whole image: the detection image is reduced straight from the planes
// (the same pixels as ResizeArea on the interleaved image), and only the
// rectangle holding the faces' crops is interleaved at full resolution,
// as the JPEG path decodes only that rectangle again. A 12 MP photo thus
// never has a 36 MB BGR copy. Where the planes cannot be reduced that way
// (exact mode, a small image, more than 8 bits, an integer factor), the
// whole image is interleaved and analyzeUpright runs on it. pl is closed
// once the faces' rectangle is cut from it (Close is idempotent: the
// caller's deferred Close stays).
func (a *Analyzer) analyzePlanes(ctx context.Context, pl *heif.Planes, res *face.Result, retry bool, tm *Timings) error {
	t0 := clock.Now()
	var det gocv.Mat
	dw, dh, reduce := a.detectionSize(pl.Width, pl.Height)
	if !reduce || pl.Bits != 8 || !mtcnn.ResizeAreaPlanes(pl.B, pl.G, pl.R, pl.Stride, pl.Width, pl.Height, &det, dw, dh) {
		img, err := pl.BGR(image.Rect(0, 0, pl.Width, pl.Height))
		tm.Decode += clock.Since(t0)
		if err != nil {
			return err
		}
		defer img.Close()
		return a.analyzeUpright(ctx, img, res, retry, tm)
	}
	defer det.Close()
	tm.Decode += clock.Since(t0)
	var cut gocv.Mat
	defer func() {
		if cut.Ptr() != nil {
			cut.Close()
		}
	}()
	return a.analyzeDetection(ctx, det, a.detectionMinSize(det.Cols(), res.Width), res, retry, tm, func(faces []face.Face) (cropSource, error) {
		// The union of the faces' seed crops, interleaved at full
		// resolution (describeFrom cuts each crop from it).
		var u image.Rectangle
		for _, f := range faces {
			if c, ok := cropRect(f.Box, 10, res.Width, res.Height); ok {
				u = u.Union(c)
			}
		}
		// The planes are not needed past this point: release them before
		// the networks run on the faces.
		defer pl.Close()
		if u.Empty() {
			// No face has a crop: describeFrom cuts nothing.
			return cropSource{img: det, sx: float64(det.Cols()) / float64(res.Width), sy: float64(det.Rows()) / float64(res.Height)}, nil
		}
		m, err := pl.BGR(u)
		if err != nil {
			return cropSource{}, err
		}
		cut = m
		return cropSource{img: m, off: u.Min, sx: 1, sy: 1}, nil
	})
}
