package analyzer

import (
	"github.com/faced/faced/media"
)

// mediaKind is the media table's kind of the file identified as id, with a
// JPEG or HEIC that is a Google/Samsung motion photo named Motion (it was
// analysed as its still). A file that cannot be read again here keeps the
// table's kind: the analysis itself already succeeded.
func (a *Analyzer) mediaKind(path string, id media.Identity) media.Kind {
	if id.Format != media.JPEG && id.Format != media.HEIC {
		return id.Kind
	}
	f, err := a.open(path)
	if err != nil {
		return id.Kind
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return id.Kind
	}
	if ok, _ := media.IsMotionPhoto(f, st.Size(), id.Format); ok {
		return media.Motion
	}
	return id.Kind
}
