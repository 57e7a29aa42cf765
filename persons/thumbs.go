package persons

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // decoders of the formats browsers and faced share
	"image/jpeg"
	_ "image/png"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/faced/faced/face"
	"github.com/faced/faced/index"
)

// ThumbSize is the side of a face thumbnail, in pixels.
const ThumbSize = 160

// ErrNoThumbnail means no thumbnail can be made of a face (a format no
// decoder at hand reads, a photo gone, a forgotten face).
var ErrNoThumbnail = errors.New("no thumbnail")

// Decoder decodes the image a face's upright box (index.FaceRecord.Box) is
// given in: the photo at path turned upright, or a video's frame at
// frameTime seconds. The daemon gives Thumbs the analyzer's decoders
// (analyzer.UprightImage, under the library's confinement); this package
// stays free of them (facedctl's lite build).
type Decoder func(ctx context.Context, path string, frameTime float64) (image.Image, error)

// Thumbs makes face thumbnails, cropped from the original photo (EXIF
// orientation applied) and cached as JPEG files of mode 0600 in a folder of
// DataDirectory. Originals are opened through an os.Root of the library and
// the cache through an os.Root of its folder, so neither a symlink in the
// library nor a face id can make it read or write elsewhere.
type Thumbs struct {
	ix      *index.Index
	library string
	dir     string

	decode Decoder // nil: the standard library's decoders, photos only

	mu     sync.Mutex
	making map[int64]*sync.Mutex // one decode per face at a time
}

// DecodeWith makes thumbnails through decode (every format and video
// frames) instead of the standard library's decoders (JPEG, PNG and GIF
// photos only). Call it before the first Get.
func (t *Thumbs) DecodeWith(decode Decoder) { t.decode = decode }

// NewThumbs returns the cache in dir (created 0700) of faces of the photos
// under library.
func NewThumbs(ix *index.Index, library, dir string) (*Thumbs, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("thumbnail folder: %w", err)
	}
	return &Thumbs{ix: ix, library: library, dir: dir, making: map[int64]*sync.Mutex{}}, nil
}

func thumbName(faceID int64) string { return strconv.FormatInt(faceID, 10) + ".jpg" }

// Get returns the JPEG thumbnail of face id, from the cache or made now.
func (t *Thumbs) Get(ctx context.Context, faceID int64) ([]byte, error) {
	root, err := os.OpenRoot(t.dir)
	if err != nil {
		return nil, fmt.Errorf("thumbnail folder: %w", err)
	}
	defer root.Close()
	if b, err := root.ReadFile(thumbName(faceID)); err == nil {
		return b, nil
	}
	t.mu.Lock()
	m := t.making[faceID]
	if m == nil {
		m = &sync.Mutex{}
		t.making[faceID] = m
	}
	t.mu.Unlock()
	m.Lock()
	defer func() {
		m.Unlock()
		t.mu.Lock()
		delete(t.making, faceID)
		t.mu.Unlock()
	}()
	if b, err := root.ReadFile(thumbName(faceID)); err == nil {
		return b, nil
	}
	rec, err := t.ix.Face(ctx, faceID)
	if err != nil {
		return nil, err
	}
	if rec.ForgottenBy != 0 {
		return nil, fmt.Errorf("face #%d: %w: forgotten", faceID, ErrNoThumbnail)
	}
	f, err := t.ix.FileByID(ctx, rec.FileID)
	if err != nil {
		return nil, err
	}
	var b []byte
	switch {
	case t.decode != nil:
		// The upright image and the upright box, whatever the format.
		if _, err := t.inLibrary(f.Path); err != nil {
			return nil, fmt.Errorf("face #%d: %w: %v", faceID, ErrNoThumbnail, err)
		}
		img, err := t.decode(ctx, f.Path, rec.FrameTime)
		if err != nil {
			return nil, fmt.Errorf("face #%d: %w: %v", faceID, ErrNoThumbnail, err)
		}
		if b, err = encodeThumb(img, rec.Box, 1); err != nil {
			return nil, err
		}
	case f.Kind == face.KindVideo:
		return nil, fmt.Errorf("face #%d: %w: video frame", faceID, ErrNoThumbnail)
	default:
		img, err := t.decodeStd(f.Path)
		if err != nil {
			return nil, fmt.Errorf("face #%d: %w: %v", faceID, ErrNoThumbnail, err)
		}
		if b, err = encodeThumb(img, rec.StoredBox, f.Orientation); err != nil {
			return nil, err
		}
	}
	// Written to a temp name and renamed, so a reader never sees half a file.
	tmp := thumbName(faceID) + ".tmp"
	if err := root.WriteFile(tmp, b, 0o600); err == nil {
		_ = root.Rename(tmp, thumbName(faceID))
	}
	return b, nil
}

// inLibrary returns path relative to the library, or an error when it is
// not inside it.
func (t *Thumbs) inLibrary(path string) (string, error) {
	rel, err := filepath.Rel(t.library, path)
	if err != nil || !filepath.IsLocal(rel) {
		return "", fmt.Errorf("%s is outside the library", path)
	}
	return rel, nil
}

// decodeStd opens path inside the library (symlinks leaving it refused)
// and decodes it with the standard library.
func (t *Thumbs) decodeStd(path string) (image.Image, error) {
	rel, err := t.inLibrary(path)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(t.library)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	b, err := root.ReadFile(rel)
	if err != nil {
		return nil, err
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return img, nil
}

// Remove deletes the cached thumbnails of faces.
func (t *Thumbs) Remove(faces []int64) error {
	root, err := os.OpenRoot(t.dir)
	if err != nil {
		return fmt.Errorf("thumbnail folder: %w", err)
	}
	defer root.Close()
	var errs []error
	for _, id := range faces {
		if err := root.Remove(thumbName(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Cached reports whether face id's thumbnail is in the cache.
func (t *Thumbs) Cached(faceID int64) bool {
	_, err := os.Stat(filepath.Join(t.dir, thumbName(faceID)))
	return err == nil
}

// encodeThumb crops box (stored frame) with a margin, turns the crop
// upright by the EXIF orientation and scales it into a ThumbSize square.
func encodeThumb(img image.Image, box face.Box, orientation int) ([]byte, error) {
	b := img.Bounds()
	side := max(box.W(), box.H()) * 1.4
	cx, cy := (box.X1+box.X2)/2, (box.Y1+box.Y2)/2
	r := image.Rect(int(cx-side/2), int(cy-side/2), int(cx+side/2), int(cy+side/2)).Add(b.Min).Intersect(b)
	if r.Empty() {
		return nil, fmt.Errorf("%w: box outside the photo", ErrNoThumbnail)
	}
	out := image.NewRGBA(image.Rect(0, 0, ThumbSize, ThumbSize))
	w, h := r.Dx(), r.Dy()
	// Upright size of the crop: orientations 5..8 swap the axes.
	uw, uh := w, h
	if orientation >= 5 && orientation <= 8 {
		uw, uh = h, w
	}
	scale := float64(max(uw, uh)) / ThumbSize
	ox, oy := (ThumbSize-float64(uw)/scale)/2, (ThumbSize-float64(uh)/scale)/2
	for y := range ThumbSize {
		for x := range ThumbSize {
			// Area average over the source pixels of this output pixel.
			ux0, uy0 := (float64(x)-ox)*scale, (float64(y)-oy)*scale
			if ux0 < 0 || uy0 < 0 || ux0 >= float64(uw) || uy0 >= float64(uh) {
				out.Set(x, y, color.RGBA{24, 24, 24, 255})
				continue
			}
			n := max(int(scale), 1)
			var sr, sg, sb, cnt uint32
			for j := 0; j < n; j++ {
				for i := 0; i < n; i++ {
					ux, uy := int(ux0)+i, int(uy0)+j
					if ux >= uw || uy >= uh {
						continue
					}
					sx, sy := storedXY(ux, uy, w, h, orientation)
					cr, cg, cb, _ := img.At(r.Min.X+sx, r.Min.Y+sy).RGBA()
					sr, sg, sb, cnt = sr+cr>>8, sg+cg>>8, sb+cb>>8, cnt+1
				}
			}
			if cnt > 0 {
				out.Set(x, y, color.RGBA{uint8(sr / cnt), uint8(sg / cnt), uint8(sb / cnt), 255})
			}
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, out, &jpeg.Options{Quality: 85}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// storedXY maps upright pixel (ux, uy) of a crop stored as w x h to its
// stored pixel, for EXIF orientation o (1..8).
func storedXY(ux, uy, w, h, o int) (int, int) {
	switch o {
	case 2:
		return w - 1 - ux, uy
	case 3:
		return w - 1 - ux, h - 1 - uy
	case 4:
		return ux, h - 1 - uy
	case 5:
		return uy, ux
	case 6:
		return uy, h - 1 - ux
	case 7:
		return w - 1 - uy, h - 1 - ux
	case 8:
		return w - 1 - uy, ux
	}
	return ux, uy
}
