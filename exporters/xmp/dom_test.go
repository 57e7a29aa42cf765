package xmp

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/faced/faced/internal/shared"
)

// corpus returns the XMP packets of the real test files: the sidecar as is,
// the photos' embedded packets through exiftool.
func corpus(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, sub := range []string{"testdata/photos/xmp_face_regions", "testdata/photos/exif_orientation"} {
		dir := shared.Dir(t, sub)
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			p := filepath.Join(dir, e.Name())
			var data []byte
			if filepath.Ext(p) == ".xmp" {
				data, err = os.ReadFile(p)
			} else {
				if _, lerr := exec.LookPath("exiftool"); lerr != nil {
					continue
				}
				data, err = exec.Command("exiftool", "-xmp", "-b", p).Output()
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(data) > 0 {
				out[e.Name()] = data
			}
		}
	}
	if len(out) == 0 {
		t.Skip("no XMP in the test corpus")
	}
	return out
}

func TestParseWriteFixedPoint(t *testing.T) {
	for name, data := range corpus(t) {
		t.Run(name, func(t *testing.T) {
			d, err := Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			b1 := d.Bytes()
			d2, err := Parse(b1)
			if err != nil {
				t.Fatalf("re-parse: %v\n%s", err, b1)
			}
			if b2 := d2.Bytes(); !bytes.Equal(b1, b2) {
				t.Fatalf("not a fixed point:\n%s\n----\n%s", b1, b2)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{"", "<a>", "<x:xmpmeta xmlns:x='adobe:ns:meta/'></x:xmpmeta>", "<a></b>", "not xml"} {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("Parse(%q): no error", in)
		}
	}
}

const shorthandDoc = `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
 <rdf:Description rdf:about="" xmlns:a="urn:other" xmlns:s="urn:s">
  <s:Area s:x="1" a:keep="k"/>
 </rdf:Description>
</rdf:RDF></x:xmpmeta>`

func TestEnsurePrefixCollision(t *testing.T) {
	d, err := Parse([]byte(shorthandDoc))
	if err != nil {
		t.Fatal(err)
	}
	top := d.Top()
	// "a" is bound to another URI: a numbered prefix is declared.
	p := top.EnsurePrefix("urn:mine", "a")
	if p != "a1" || top.LookupNS("a1") != "urn:mine" || top.LookupNS("a") != "urn:other" {
		t.Fatalf("prefix %q, a1=%q a=%q", p, top.LookupNS("a1"), top.LookupNS("a"))
	}
	if q := top.EnsurePrefix("urn:mine", "zz"); q != "a1" {
		t.Errorf("bound URI got a second prefix %q", q)
	}
}

func TestSetValueForms(t *testing.T) {
	d, err := Parse([]byte(shorthandDoc))
	if err != nil {
		t.Fatal(err)
	}
	f, ok := d.FindTop("Area", "urn:s")
	if !ok || f.El == nil {
		t.Fatal("Area not found")
	}
	area := Resource(f.El)
	if v, _ := Value(area, "x", "urn:s"); v != "1" {
		t.Fatalf("x = %q", v)
	}
	if SetValue(area, "urn:s", "s", "x", "1") {
		t.Error("setting the same value reported a change")
	}
	// Attribute shorthand: a new field becomes an attribute (a property
	// element with attributes cannot also hold elements).
	SetValue(area, "urn:s", "s", "y", "2")
	if len(area.Elems()) != 0 {
		t.Fatalf("shorthand resource got a child element: %s", d.Bytes())
	}
	re, err := Parse(d.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	f2, _ := re.FindTop("Area", "urn:s")
	r2 := Resource(f2.El)
	for k, want := range map[string]string{"x": "1", "y": "2"} {
		if v, _ := Value(r2, k, "urn:s"); v != want {
			t.Errorf("%s = %q, want %q", k, v, want)
		}
	}
	if v, _ := Value(r2, "keep", "urn:other"); v != "k" {
		t.Errorf("foreign attribute lost: %q", v)
	}
	// A struct in the rdf:Description gets an element, indented like its
	// siblings; removing it restores the original bytes.
	before := d.Bytes()
	top := d.Top()
	SetValue(top, "urn:s", "s", "Name", "N")
	if !bytes.Contains(d.Bytes(), []byte("\n  <s:Name>N</s:Name>")) {
		t.Errorf("new element not laid out like its siblings:\n%s", d.Bytes())
	}
	RemoveField(top, "Name", "urn:s")
	if !bytes.Equal(d.Bytes(), before) {
		t.Errorf("add+remove changed the document:\n%s\n---\n%s", before, d.Bytes())
	}
}
