package exporters

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/faced/faced/exporters/xmp"
)

// Withdraw takes back what faced wrote into the sidecars of photo, a file
// faced no longer analyses (a symbolic link that now leads out of the
// library, whose index rows are purged). faced's regions and keywords are
// merged out as Export removes a face that is gone, and faced's namespace
// is dropped; a sidecar left with nothing but faced's empty containers
// (faced created it and no one else wrote in it) is removed, any other is
// rewritten and keeps everything that is not faced's. Sidecars without
// faced's record (faced:Faces or faced:Version), links leading out of the
// library, special files and unreadable ones are left as they are, and so
// is a base-named sidecar (photo.xmp) that another file of the same name
// shares (photo.png beside photo.jpg): its faces are in it too. The photo
// itself is never opened (it may be /etc/shadow).
func (e *Exporter) Withdraw(ctx context.Context, photo string) (removed, rewritten []string, err error) {
	existing, _ := Sidecars(photo, e.opts.Naming)
	full, _ := SidecarNames(photo)
	var errs []error
	for _, s := range existing {
		if err := ctx.Err(); err != nil {
			return removed, rewritten, err
		}
		if !strings.EqualFold(s, full) && stemShared(photo) {
			continue
		}
		target, err := e.sidecarTarget(s)
		if err != nil {
			continue // a link leading out or a special file: not faced's to touch
		}
		gone, wrote, err := e.withdrawOne(ctx, photo, target)
		switch {
		case err != nil:
			errs = append(errs, err)
		case gone:
			removed = append(removed, target)
		case wrote:
			rewritten = append(rewritten, target)
		}
	}
	return removed, rewritten, errors.Join(errs...)
}

func (e *Exporter) withdrawOne(ctx context.Context, photo, target string) (gone, wrote bool, err error) {
	for attempt := 0; attempt < maxAttempts; attempt++ {
		snap, err := takeSnapshot(target, e.opts.MaxSidecarBytes)
		if err != nil || !snap.exists {
			return false, false, err
		}
		doc, err := xmp.ParseContext(ctx, snap.data, xmp.Limits{})
		if err != nil {
			return false, false, nil // not faced's to repair; left as it is
		}
		if !facedWrote(doc) {
			return false, false, nil
		}
		merge(doc, mergeInput{photo: Photo{Path: photo}, opts: e.opts, sidecar: target, stop: &stopper{ctx: ctx}})
		if err := ctx.Err(); err != nil {
			return false, false, err
		}
		dropFacedFields(doc)
		unchanged := func() bool { return unchangedSince(target, snap, e.opts.MaxSidecarBytes) }
		if emptied(doc) {
			if !unchanged() {
				continue
			}
			if e.opts.OnWrite != nil {
				e.opts.OnWrite(target)
			}
			if err := os.Remove(target); err != nil {
				return false, false, fmt.Errorf("exporters: remove %s: %w", target, err)
			}
			return true, false, nil
		}
		perm := os.FileMode(0o644)
		if fi, err := os.Stat(target); err == nil {
			perm = fi.Mode().Perm()
		}
		err = WriteAtomic(target, doc.Bytes(), perm, unchanged, e.opts.OnWrite)
		if errors.Is(err, errChanged) {
			continue
		}
		return false, err == nil, err
	}
	return false, false, fmt.Errorf("%w: %s", ErrConcurrentWrite, target)
}

// stemShared reports whether another file in photo's folder has photo's
// name without its extension (x.png beside x.jpg: they share x.xmp), a
// sidecar or faced's temporary file aside.
func stemShared(photo string) bool {
	dir, base := filepath.Split(photo)
	stem := strings.TrimSuffix(base, filepath.Ext(base))
	ents, err := os.ReadDir(dir)
	if err != nil {
		return true // cannot tell: leave the shared name alone
	}
	for _, en := range ents {
		n := en.Name()
		if n == base || IsTempName(n) || strings.EqualFold(filepath.Ext(n), ".xmp") {
			continue
		}
		if strings.TrimSuffix(n, filepath.Ext(n)) == stem {
			return true
		}
	}
	return false
}

// facedWrote reports whether faced's record is in the document.
func facedWrote(d *xmp.Doc) bool {
	for _, local := range []string{"Faces", "Version"} {
		if _, ok := d.FindTop(local, NSFaced); ok {
			return true
		}
	}
	return false
}

// dropFacedFields removes every top-level property in faced's namespace.
func dropFacedFields(d *xmp.Doc) {
	for _, desc := range d.Descriptions() {
		for _, c := range desc.Elems() {
			if c.NS() == NSFaced {
				desc.RemoveChild(c)
			}
		}
	}
}

// emptied drops the region and keyword containers faced creates that hold
// no item any more, and reports whether nothing is left: what a sidecar
// faced created looks like once its content is merged out. Any other
// property, attribute or item is someone else's.
func emptied(d *xmp.Doc) bool {
	left := false
	for _, desc := range d.Descriptions() {
		for _, a := range desc.Attrs {
			if a.Prefix != "xmlns" && desc.AttrNS(a) != xmp.NSRDF {
				left = true
			}
		}
		for _, c := range desc.Elems() {
			if arr := containerArray(c); arr != nil && len(xmp.Items(arr)) == 0 {
				desc.RemoveChild(c)
				continue
			}
			left = true
		}
	}
	return !left
}

// containerArray returns the item array of a region or keyword container
// faced writes (nil for any other property).
func containerArray(c *xmp.Elem) *xmp.Elem {
	switch {
	case c.Is(nsMWGRS, "Regions"):
		if f, ok := xmp.FindField(xmp.Resource(c), "RegionList", nsMWGRS); ok && f.El != nil {
			return xmp.ArrayOf(f.El)
		}
	case c.Is(nsMP, "RegionInfo"):
		if f, ok := xmp.FindField(xmp.Resource(c), "Regions", nsMPRI); ok && f.El != nil {
			return xmp.ArrayOf(f.El)
		}
	default:
		for _, kf := range kwFields {
			for _, ns := range append(kf.ns, kf.alsoNS...) {
				if c.Is(ns, kf.local) {
					return xmp.ArrayOf(c)
				}
			}
		}
	}
	return nil
}
