package exporters

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/faced/faced/internal/shared"
)

// facedConfig is the shipped exiftool config for faced's namespace.
func facedConfig() string {
	return filepath.Join(shared.Root(), "packaging", "exiftool", "faced.config")
}

func needTool(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s not installed: %v", name, err)
	}
}

// copyFile copies src to dir/name (writable) and returns the new path.
func copyFile(t testing.TB, src, dir, name string) string {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	dst := filepath.Join(dir, name)
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

// exifDump runs exiftool (with faced's config) on file and returns the XMP
// tags, group-qualified, structures kept (-struct), numbers as exiftool
// prints them with -n.
func exifDump(t testing.TB, file string) map[string]any {
	t.Helper()
	needTool(t, "exiftool")
	out, err := exec.Command("exiftool", "-config", facedConfig(), "-a", "-G1", "-struct", "-n", "-j", "-xmp:all", file).Output()
	if err != nil {
		t.Fatalf("exiftool %s: %v", file, err)
	}
	var v []map[string]any
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("exiftool %s: %v\n%s", file, err, out)
	}
	if len(v) != 1 {
		t.Fatalf("exiftool %s: %d results", file, len(v))
	}
	delete(v[0], "SourceFile")
	return v[0]
}

// contains reports whether after holds every value of before: maps key by
// key, lists element by element (each before element equal to or contained
// in a distinct after element), scalars equal. It returns a description of
// the first difference.
func contains(before, after any, path string) string {
	if s, ok := before.(string); ok && s == "" {
		// exiftool prints an empty list or struct as ""
		switch a := after.(type) {
		case []any, map[string]any:
			return ""
		case string:
			if a == "" {
				return ""
			}
		}
	}
	switch b := before.(type) {
	case map[string]any:
		a, ok := after.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: %v became %v", path, before, after)
		}
		for k, bv := range b {
			av, ok := a[k]
			if !ok {
				return fmt.Sprintf("%s.%s: missing (was %v)", path, k, bv)
			}
			if d := contains(bv, av, path+"."+k); d != "" {
				return d
			}
		}
		return ""
	case []any:
		a, ok := after.([]any)
		if !ok {
			// exiftool prints a one-element list as a scalar
			if len(b) == 1 {
				return contains(b[0], after, path)
			}
			return fmt.Sprintf("%s: list %v became %v", path, before, after)
		}
		used := make([]bool, len(a))
		for i, bv := range b {
			found := false
			for j, av := range a {
				if !used[j] && contains(bv, av, "") == "" {
					used[j], found = true, true
					break
				}
			}
			if !found {
				return fmt.Sprintf("%s[%d]: %v not found in %v", path, i, bv, after)
			}
		}
		return ""
	default:
		if la, ok := after.([]any); ok && len(la) == 1 {
			after = la[0]
		}
		if !reflect.DeepEqual(before, after) {
			return fmt.Sprintf("%s: %v became %v", path, before, after)
		}
		return ""
	}
}

// list returns v as a list (exiftool prints one-element lists as scalars).
func list(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	case string:
		if x == "" {
			return nil
		}
	}
	return []any{v}
}

func num(t testing.TB, v any) float64 {
	t.Helper()
	switch x := v.(type) {
	case float64:
		return x
	case string:
		f, err := strconv.ParseFloat(x, 64)
		if err == nil {
			return f
		}
	}
	t.Fatalf("not a number: %#v", v)
	return 0
}

// exiv2Regions reads the MWG regions of file with exiv2 (the library
// digiKam uses): index -> field ("Name", "x", "y", "w", "h") -> value.
func exiv2Regions(t testing.TB, file string) map[int]map[string]string {
	t.Helper()
	needTool(t, "exiv2")
	out, err := exec.Command("exiv2", "-pa", file).CombinedOutput()
	if err != nil {
		t.Fatalf("exiv2 %s: %v\n%s", file, err, out)
	}
	regs := map[int]map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	const pre = "Xmp.mwg-rs.Regions/mwg-rs:RegionList["
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 || !strings.HasPrefix(f[0], pre) {
			continue
		}
		rest := f[0][len(pre):]
		i := strings.IndexByte(rest, ']')
		n, _ := strconv.Atoi(rest[:i])
		field := rest[i+1:]
		field = field[strings.LastIndexByte(field, ':')+1:]
		val := ""
		if len(f) > 3 {
			val = strings.Join(f[3:], " ")
		}
		if regs[n] == nil {
			regs[n] = map[string]string{}
		}
		regs[n][field] = val
	}
	return regs
}

func newExporter(t testing.TB, o Options) *Exporter {
	t.Helper()
	e, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func mustExport(t testing.TB, e *Exporter, p Photo) Result {
	t.Helper()
	r, err := e.Export(context.Background(), p)
	if err != nil {
		t.Fatalf("Export(%s): %v", p.Path, err)
	}
	return r
}
