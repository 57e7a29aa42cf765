// Package face holds the plain data types that flow between faced's
// packages: a detected face, a box, and the analysis of one file. It has no
// dependencies beyond the standard library, so the index, the clusterer, the
// exporters and the CLI can share these types without linking OpenCV or ONNX
// Runtime.
package face

import "time"

// Box is an axis-aligned rectangle in pixel coordinates: (X1,Y1) is the
// top-left corner, (X2,Y2) the bottom-right one, as MTCNN reports them.
type Box struct {
	X1 float64 `json:"x1"`
	Y1 float64 `json:"y1"`
	X2 float64 `json:"x2"`
	Y2 float64 `json:"y2"`
}

// W returns the width of b.
func (b Box) W() float64 { return b.X2 - b.X1 }

// H returns the height of b.
func (b Box) H() float64 { return b.Y2 - b.Y1 }

// Area returns the area of b, 0 for an empty box.
func (b Box) Area() float64 {
	if b.X2 <= b.X1 || b.Y2 <= b.Y1 {
		return 0
	}
	return (b.X2 - b.X1) * (b.Y2 - b.Y1)
}

// IoU returns the intersection over union of a and b (0 when disjoint).
func IoU(a, b Box) float64 {
	in := Box{max(a.X1, b.X1), max(a.Y1, b.Y1), min(a.X2, b.X2), min(a.Y2, b.Y2)}.Area()
	u := a.Area() + b.Area() - in
	if u <= 0 {
		return 0
	}
	return in / u
}

// Face is one detected face with everything the networks said about it.
type Face struct {
	// Box is the MTCNN box in upright pixels (after EXIF orientation).
	Box Box `json:"box"`
	// StoredBox is the same box in the stored (unrotated) pixel frame, the
	// frame MWG regions are defined on.
	StoredBox Box `json:"stored_box"`
	// Score is the O-Net face probability.
	Score float64 `json:"score"`
	// Landmarks are the five MTCNN points x1..x5, y1..y5 in upright pixels.
	Landmarks [10]float64 `json:"landmarks"`
	// Age is the apparent age in years (the seed's top-2 expectation).
	Age float64 `json:"age"`
	// MaleProb is the gender sigmoid, P(male).
	MaleProb float64 `json:"male_prob"`
	// Features is the L2-normalised identity vector. It never leaves the
	// index: it is not serialised to JSON, sidecars or logs.
	Features []float32 `json:"-"`
	// FrameTime is the position in seconds of the representative frame for
	// faces found in a video; 0 for photos.
	FrameTime float64 `json:"frame_time,omitempty"`
	// Frames is the number of video frames the face was seen in (videos only).
	Frames int `json:"frames,omitempty"`
}

// Kind tells photos from videos.
type Kind string

// File kinds.
const (
	KindPhoto Kind = "photo"
	KindVideo Kind = "video"
)

// Result is the analysis of one file.
type Result struct {
	File string `json:"file"`
	Kind Kind   `json:"kind"`
	// Width and Height are the upright dimensions (after EXIF orientation).
	Width  int `json:"width"`
	Height int `json:"height"`
	// StoredWidth and StoredHeight are the dimensions of the pixels as stored.
	StoredWidth  int `json:"stored_width"`
	StoredHeight int `json:"stored_height"`
	// Orientation is the EXIF orientation tag (1..8), 1 when absent.
	Orientation int    `json:"orientation"`
	Faces       []Face `json:"faces"`
	// Model names the model set that produced the faces.
	Model string `json:"model,omitempty"`
	// CaptureTime is when the photo was taken according to its own
	// metadata (EXIF DateTimeOriginal, wall-clock time); zero when the file
	// does not say, and the caller falls back to the file's mtime.
	CaptureTime time.Time `json:"capture_time,omitzero"`
	// Format is the format the file was read as (media.Format: "jpeg",
	// "heic", "cr2", "mp4", ...), named by its bytes.
	Format string `json:"format,omitempty"`
	// Media is the file's kind in faced's media table (media.Kind: "photo",
	// "raw", "motion" for a Google/Samsung motion photo analysed as its
	// still, "video"); Kind stays photo or video.
	Media string `json:"media,omitempty"`
	// Note is something the user should know about how the file was read
	// (bytes disagreeing with the extension, a raw read through its
	// preview); empty when nothing is worth saying.
	Note string `json:"note,omitempty"`
}
