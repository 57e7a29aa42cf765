package conformance

import (
	"context"
	"path/filepath"
	"strings"
)

// lightroomEmbedded are the formats whose metadata Lightroom Classic keeps
// inside the file and reads only from there: it "does not parse sidecar
// files for jpegs" (github.com/bufemc/picasa2xmp README), TIFF, PSD, JPEG,
// DNG (wolfnowl.com, Lightroom file management and metadata, 2012; Adobe:
// XMP sidecars are written for proprietary raw files only), and HEIC.
var lightroomEmbedded = map[string]bool{".jpg": true, ".jpeg": true, ".tif": true, ".tiff": true, ".psd": true,
	".dng": true, ".heic": true, ".heif": true, ".png": true}

// LightroomSource is the file Lightroom Classic (13.x) reads metadata from
// for photo: the photo itself for JPEG, TIFF, PSD, DNG, HEIC; photo.xmp
// (base name, never photo.ext.xmp) for proprietary RAW files.
func LightroomSource(photo string) string {
	if lightroomEmbedded[strings.ToLower(filepath.Ext(photo))] {
		return photo
	}
	return strings.TrimSuffix(photo, filepath.Ext(photo)) + ".xmp"
}

// LightroomKeywords returns the keywords Lightroom Classic imports for
// photo: lr:hierarchicalSubject ("People|Name" becomes the keyword Name
// under People) and dc:subject, from LightroomSource (Adobe help,
// face-recognition: named people become keywords). Whether Lightroom
// imports other tools' face regions is not documented by Adobe and reported
// unreliable, so regions are not counted here.
func LightroomKeywords(ctx context.Context, photos ...string) ([][]string, error) {
	var srcs []string
	for _, p := range photos {
		if src := LightroomSource(p); fileExists(src) {
			srcs = append(srcs, src)
		}
	}
	out := make([][]string, len(photos))
	if len(srcs) == 0 {
		return out, nil
	}
	m, err := exiftoolFlat(ctx, srcs...)
	if err != nil {
		return nil, err
	}
	for i, p := range photos {
		tags := m[LightroomSource(p)]
		out[i] = append(strList(tags["HierarchicalSubject"]), strList(tags["Subject"])...)
	}
	return out, nil
}
