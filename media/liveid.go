package media

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// Apple pairs a Live Photo's still and its movie by a content identifier
// (a UUID): the still's Apple maker note tag 0x0011 (exiftool's
// MediaGroupUUID, formerly ContentIdentifier) and the movie's QuickTime
// metadata key com.apple.quicktime.content.identifier. When both files
// carry one, they pair only when the identifiers are equal; without them
// the base name decides (IMG_1.HEIC + IMG_1.MOV).

// maxIDScan bounds how much of a still ContentID reads looking for the
// maker note (a HEIC's Exif item can sit anywhere in its few megabytes).
const maxIDScan = 64 << 20

// maxMoov bounds the movie metadata box read (a Live Photo's is a few KB).
const maxMoov = 16 << 20

// ContentID returns the Apple content identifier of a Live Photo still
// (JPEG, HEIC) or movie (MOV, MP4) at path, or "" when it has none or
// cannot be read. Symbolic links are not followed. A file unchanged since
// the last call (same inode, size, mtime and ctime) is not read again: the
// walk asks for every Live Photo pair at each reconciliation, and a still
// is read in full to find its maker note.
func ContentID(path string) string {
	e, ok := ByPath(path)
	if !ok {
		return ""
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return ""
	}
	key, keyed := idKeyOf(path, st)
	if keyed {
		if id, ok := idCache.get(key); ok {
			return id
		}
	}
	id := ""
	idReads.Add(1)
	switch {
	case e.Format == MOV || e.Format == MP4:
		id = movContentID(f, st.Size())
	case e.Format == JPEG || e.Format == HEIC:
		buf := make([]byte, min(st.Size(), maxIDScan))
		n, _ := io.ReadFull(f, buf)
		id = makerNoteContentID(buf[:n])
	}
	if keyed {
		idCache.put(key, id)
	}
	return id
}

// idKey identifies a file's content as far as stat tells it.
type idKey struct {
	path             string
	ino, size        uint64
	mtimeNs, ctimeNs int64
}

func idKeyOf(path string, st os.FileInfo) (idKey, bool) {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return idKey{}, false
	}
	return idKey{path: path, ino: sys.Ino, size: uint64(st.Size()),
		mtimeNs: st.ModTime().UnixNano(), ctimeNs: sys.Ctim.Nano()}, true
}

// maxIDCache bounds the identifiers kept (a library's Live Photos, both
// files each); past it the cache starts over.
const maxIDCache = 1 << 18

// idReads counts the files ContentID read (a test checks the cache).
var idReads atomic.Int64

// idCache holds ContentID's answers by idKey.
var idCache = &contentIDs{m: map[idKey]string{}}

type contentIDs struct {
	mu sync.Mutex
	m  map[idKey]string
}

func (c *contentIDs) get(k idKey) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.m[k]
	return id, ok
}

func (c *contentIDs) put(k idKey, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxIDCache {
		clear(c.m)
	}
	c.m[k] = id
}

// makerNoteContentID finds Apple's iOS maker note in b and returns its tag
// 0x0011: "Apple iOS\0", a 2-byte version, the byte order, then an IFD
// whose offsets count from the maker note's start.
func makerNoteContentID(b []byte) string {
	i := bytes.Index(b, []byte("Apple iOS\x00"))
	if i < 0 || len(b)-i < 16 {
		return ""
	}
	mn := b[i:]
	var bo binary.ByteOrder
	switch string(mn[12:14]) {
	case "MM":
		bo = binary.BigEndian
	case "II":
		bo = binary.LittleEndian
	default:
		return ""
	}
	n := int(bo.Uint16(mn[14:]))
	for k := range n {
		e := 16 + 12*k
		if e+12 > len(mn) {
			return ""
		}
		if bo.Uint16(mn[e:]) != 0x0011 || bo.Uint16(mn[e+2:]) != 2 {
			continue
		}
		cnt := int(bo.Uint32(mn[e+4:]))
		val := mn[e+8 : e+12]
		if cnt > 4 {
			off := int(bo.Uint32(mn[e+8:]))
			if off < 0 || cnt > 256 || off+cnt > len(mn) {
				return ""
			}
			val = mn[off : off+cnt]
		} else {
			val = val[:cnt]
		}
		return strings.TrimRight(string(val), "\x00 ")
	}
	return ""
}

// movContentID reads the com.apple.quicktime.content.identifier item of a
// QuickTime movie's moov/meta (keys + ilst).
func movContentID(r io.ReaderAt, size int64) string {
	moov := topBox(r, size, "moov")
	if moov == nil {
		return ""
	}
	meta := childBox(moov, "meta")
	if meta == nil {
		return ""
	}
	// QuickTime's meta is a plain box, ISO's a full box (4 bytes of
	// version and flags before the children).
	if childBox(meta, "keys") == nil && len(meta) >= 4 {
		meta = meta[4:]
	}
	keys, ilst := childBox(meta, "keys"), childBox(meta, "ilst")
	if len(keys) < 8 || ilst == nil {
		return ""
	}
	idx := 0
	n := int(binary.BigEndian.Uint32(keys[4:]))
	for k, off := 1, 8; k <= n && off+8 <= len(keys); k++ {
		sz := int(binary.BigEndian.Uint32(keys[off:]))
		if sz < 8 || off+sz > len(keys) {
			return ""
		}
		if string(keys[off+8:off+sz]) == "com.apple.quicktime.content.identifier" {
			idx = k
			break
		}
		off += sz
	}
	if idx == 0 {
		return ""
	}
	var want [4]byte
	binary.BigEndian.PutUint32(want[:], uint32(idx))
	item := childBox(ilst, string(want[:]))
	data := childBox(item, "data")
	if len(data) < 8 {
		return ""
	}
	return strings.TrimRight(string(data[8:]), "\x00 ")
}

// topBox reads the body of the first top-level box of type typ (at most
// maxMoov bytes), or nil.
func topBox(r io.ReaderAt, size int64, typ string) []byte {
	var hdr [16]byte
	for off := int64(0); off+8 <= size; {
		if _, err := r.ReadAt(hdr[:8], off); err != nil {
			return nil
		}
		sz, h := int64(binary.BigEndian.Uint32(hdr[:4])), int64(8)
		switch sz {
		case 1:
			if _, err := r.ReadAt(hdr[8:16], off+8); err != nil {
				return nil
			}
			sz, h = int64(binary.BigEndian.Uint64(hdr[8:16])), 16
		case 0:
			sz = size - off
		}
		if sz < h || sz > size-off {
			return nil
		}
		if string(hdr[4:8]) == typ {
			if sz-h > maxMoov {
				return nil
			}
			b := make([]byte, sz-h)
			if _, err := r.ReadAt(b, off+h); err != nil && err != io.EOF {
				return nil
			}
			return b
		}
		off += sz
	}
	return nil
}

// childBox returns the body of the first box of type typ among the boxes
// in b, or nil.
func childBox(b []byte, typ string) []byte {
	for off := 0; off+8 <= len(b); {
		sz, h := int(binary.BigEndian.Uint32(b[off:])), 8
		if sz == 1 {
			if off+16 > len(b) {
				return nil
			}
			sz, h = int(binary.BigEndian.Uint64(b[off+8:])), 16
		} else if sz == 0 {
			sz = len(b) - off
		}
		if sz < h || sz > len(b)-off {
			return nil
		}
		if string(b[off+4:off+8]) == typ {
			return b[off+h : off+sz]
		}
		off += sz
	}
	return nil
}
