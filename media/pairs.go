package media

import (
	"os"
	"path/filepath"
	"strings"
)

// Pairs: a camera shooting RAW+JPEG writes IMG_1.CR2 beside IMG_1.JPG, and
// an iPhone Live Photo is IMG_1.HEIC with the few seconds of IMG_1.MOV around
// it. Both are one moment: faced analyses the still once (the JPEG, the
// HEIC), counts its persons once, and writes the raw's sidecar from the
// still's faces. The companion (the raw, the MOV) is not a file of its own:
// PrimaryOf names its still, and the walk and the watcher leave it out.

// stillExts are the extensions of the stills a companion pairs with, by
// preference.
var stillExts = []string{".jpg", ".jpeg", ".jpe", ".heic", ".heif", ".hif"}

// PrimaryOf returns the still that the file at path is the companion of: a
// raw file's or a Live Photo .mov's sibling with the same base name and a
// JPEG or HEIF extension (any case). A .mov and a still that both carry an
// Apple content identifier (ContentID) pair only when the identifiers are
// equal: a movie of the same name that is not the still's Live Photo is a
// video of its own. ok is false for every other file.
func PrimaryOf(path string) (string, bool) {
	e, ok := ByPath(path)
	if !ok || !(e.Kind == Raw || e.Format == MOV) {
		return "", false
	}
	base := strings.TrimSuffix(path, filepath.Ext(path))
	movID, movRead := "", false
	for _, x := range stillExts {
		for _, c := range []string{x, strings.ToUpper(x)} {
			if !isFile(base + c) {
				continue
			}
			if e.Format == MOV {
				if !movRead {
					movID, movRead = ContentID(path), true
				}
				if movID != "" {
					if id := ContentID(base + c); id != "" && id != movID {
						continue
					}
				}
			}
			return base + c, true
		}
	}
	return "", false
}

// LiveVideos returns the Live Photo movies paired with the still at path
// (PrimaryOf of each is path): the .mov files the walk leaves out, and
// which leave the index if they were analysed before the still arrived.
func LiveVideos(path string) []string {
	if !isStill(filepath.Ext(path)) {
		return nil
	}
	base := strings.TrimSuffix(path, filepath.Ext(path))
	var out []string
	for _, c := range []string{".mov", ".MOV", ".Mov"} {
		if isFile(base+c) && samePrimary(base+c, path) {
			out = append(out, base+c)
		}
	}
	return out
}

// Companions returns the raw files paired with the still at path (see
// PrimaryOf); their sidecars carry the still's faces.
func Companions(path string) []string {
	e, ok := ByPath(path)
	if !ok || e.Kind != Photo || !isStill(filepath.Ext(path)) {
		return nil
	}
	base := strings.TrimSuffix(path, filepath.Ext(path))
	var out []string
	for _, r := range table {
		if r.Kind != Raw {
			continue
		}
		for _, x := range r.Exts {
			for _, c := range []string{x, strings.ToUpper(x)} {
				if isFile(base+c) && samePrimary(base+c, path) {
					out = append(out, base+c)
				}
			}
		}
	}
	return out
}

// samePrimary: the raw's primary is path (and not a sibling still that
// PrimaryOf prefers, say IMG_1.JPG over IMG_1.HEIC).
func samePrimary(raw, path string) bool {
	p, ok := PrimaryOf(raw)
	return ok && p == path
}

func isStill(ext string) bool {
	ext = strings.ToLower(ext)
	for _, x := range stillExts {
		if x == ext {
			return true
		}
	}
	return false
}

func isFile(p string) bool {
	st, err := os.Lstat(p)
	return err == nil && st.Mode().IsRegular()
}
