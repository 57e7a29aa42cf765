package conformance

import (
	"context"
	"fmt"
	"math"
	"os/exec"
	"testing"
)

// TestDigiKamImportsFacedFaces reads faced's sidecars on every shared test
// photo the way digiKam 8 does (exiv2 keys, MP then MWG, first-invalid-entry
// stop, MP+MWG de-duplication by integer rectangle): each of faced's named
// faces is imported once (not twice: MP and MWG round to the same pixels),
// on its own box, and nothing is "Unknown" because of faced.
func TestDigiKamImportsFacedFaces(t *testing.T) {
	if _, err := exec.LookPath("exiv2"); err != nil {
		t.Skipf("exiv2 not installed: %v", err)
	}
	lib := libraryOf(t)
	ctx := context.Background()
	imported, twice, foreign, unknown := 0, 0, 0, 0
	for _, p := range lib {
		rs, err := ReadDigiKam(ctx, p.path, false)
		if err != nil {
			t.Fatal(err)
		}
		faces := DigiKamImport(rs, p.w, p.h)
		want := named(p.faces)
		got := map[string]int{}
		for _, f := range faces {
			reg, ours := want[f.Name]
			switch {
			case ours:
				got[f.Name]++
				if !p.jpeg {
					break
				}
				b := clampBox(reg.StoredBox, p.w, p.h)
				for _, c := range []struct {
					what      string
					got, want float64
				}{{"x1", float64(f.X1), b.X1}, {"y1", float64(f.Y1), b.Y1}, {"x2", float64(f.X2 + 1), b.X2}, {"y2", float64(f.Y2 + 1), b.Y2}} {
					if math.Abs(c.got-c.want) > 1 {
						t.Errorf("%s: digiKam puts %q %s at %v, faced's %.2f", p.name, f.Name, c.what, c.got, c.want)
					}
				}
			case f.Name == "Unknown":
				unknown++
			default:
				foreign++
			}
		}
		for name := range want {
			switch got[name] {
			case 1:
				imported++
			case 0:
				t.Errorf("%s: digiKam does not import faced's %q (%d regions read: %+v)", p.name, name, len(rs), rs)
			default:
				twice++
				t.Errorf("%s: digiKam imports faced's %q %d times (MP and MWG round differently)", p.name, name, got[name])
			}
		}
	}
	t.Logf("digiKam 8.1 rules (exiv2 %s) on %d shared photos: %d of faced's %d named faces imported once, %d twice, %d foreign faces, %d Unknown",
		exiv2Version(), len(lib), imported, 2*len(lib), twice, foreign, unknown)
	fmt.Printf("conformance: digikam photos=%d faced_imported=%d faced_named=%d twice=%d foreign=%d unknown=%d\n", len(lib), imported, 2*len(lib), twice, foreign, unknown)
}

func exiv2Version() string {
	out, err := exec.Command("exiv2", "--version").Output()
	if err != nil {
		return "?"
	}
	for i, c := range out {
		if c == '\n' {
			return string(out[:i])
		}
	}
	return string(out)
}
