package analyzer

import (
	"sync"
	"time"

	"github.com/barasher/go-exiftool"
)

// videoDates reads when a video was recorded from its QuickTime/MP4 header
// (CreateDate, else MediaCreateDate, else TrackCreateDate: the movie header
// stores UTC) through one stay-open exiftool process, started on the first
// video and shared by every worker (go-exiftool serialises requests). A
// missing exiftool or an unset date gives the zero time, and the caller falls
// back to the file's mtime.
type videoDates struct {
	once sync.Once
	et   *exiftool.Exiftool
	err  error
}

func (d *videoDates) captureTime(path string) time.Time {
	d.once.Do(func() { d.et, d.err = exiftool.NewExiftool() })
	if d.err != nil {
		return time.Time{}
	}
	fms := d.et.ExtractMetadata(path)
	if len(fms) != 1 || fms[0].Err != nil {
		return time.Time{}
	}
	for _, k := range []string{"CreateDate", "MediaCreateDate", "TrackCreateDate"} {
		s, err := fms[0].GetString(k)
		if err != nil || len(s) < 19 {
			continue
		}
		// Unset dates are written as "0000:00:00 00:00:00", which does not parse.
		if t, err := time.Parse("2006:01:02 15:04:05", s[:19]); err == nil && t.Year() > 1904 {
			return t
		}
	}
	return time.Time{}
}

func (d *videoDates) close() error {
	if d.et != nil {
		return d.et.Close()
	}
	return nil
}
