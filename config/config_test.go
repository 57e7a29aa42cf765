package config

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faced/faced/internal/shared"
	"github.com/faced/faced/media"
)

// The committed config.txt is the working default: it must load, and its
// paths must resolve against the repository root.
func TestCommittedConfigLoads(t *testing.T) {
	root := shared.Root()
	c, err := Load(filepath.Join(root, "config.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.InputDirectory(), filepath.Join(root, "var", "samples"); got != want {
		t.Errorf("InputDirectory = %q, want %q", got, want)
	}
	if got, want := c.DataDirectory(), filepath.Join(root, "var", "data"); got != want {
		t.Errorf("DataDirectory = %q, want %q", got, want)
	}
	if c.DistanceThreshold() != 0 {
		t.Errorf("DistanceThreshold = %v, want 0 (model)", c.DistanceThreshold())
	}
	if c.SidecarNaming() != SidecarFull || c.ModelVariant() != VariantInt8 {
		t.Errorf("SidecarNaming %q, ModelVariant %q", c.SidecarNaming(), c.ModelVariant())
	}
	if c.Socket() != DefaultSocket(c.DataDirectory()) {
		t.Errorf("Socket = %q", c.Socket())
	}
	// Every key is documented in the committed file: each appears there.
	src, err := os.ReadFile(filepath.Join(root, "config.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range Keys() {
		if !strings.Contains(string(src), "\n"+k+" =") {
			t.Errorf("key %s is not set (documented) in config.txt", k)
		}
	}
}

func TestLoadTestdata(t *testing.T) {
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_DATA_HOME", "/xdg")

	c, err := Load("testdata/seed.txt")
	if err != nil {
		t.Fatal(err)
	}
	if c.InputDirectory() != filepath.Join(dir, "photos") || c.DistanceThreshold() != 0.82 ||
		c.MinNoPhotos() != 2 || c.MinNoFrames() != 10 || c.MinDaysDifferenceBetweenPhotoMDates() != 2 ||
		c.MinFaceWidthPercent() != 7 {
		t.Errorf("seed config read wrong: %+v", c)
	}
	if runtime.GOOS == "linux" && c.DataDirectory() != "/xdg/faced" {
		t.Errorf("default DataDirectory = %q, want /xdg/faced", c.DataDirectory())
	}
	if c.File() != filepath.Join(dir, "seed.txt") {
		t.Errorf("File = %q", c.File())
	}

	c, err = Load("testdata/crlf_bom.txt")
	if err != nil {
		t.Fatal(err)
	}
	if c.InputDirectory() != filepath.Join(dir, "C-photos") || c.Workers() != 3 || c.WorkerCount() != 3 || !c.EmbeddedXMP() {
		t.Errorf("CRLF/BOM config read wrong: input %q workers %d xmp %v", c.InputDirectory(), c.Workers(), c.EmbeddedXMP())
	}

	for _, tc := range []struct {
		file, key string
		line      int
	}{
		{"unknown_key.txt", "MinNoPhoto", 4},
		{"duplicate_key.txt", "Workers", 5},
	} {
		_, err := Load(filepath.Join("testdata", tc.file))
		var le *LineError
		if !errors.As(err, &le) {
			t.Fatalf("%s: error %v is not a *LineError", tc.file, err)
		}
		if le.File != filepath.Join(dir, tc.file) || le.Line != tc.line || le.Key != tc.key {
			t.Errorf("%s: got %#v, want line %d key %s", tc.file, le, tc.line, tc.key)
		}
		if want := filepath.Join(dir, tc.file) + ":" + strconv.Itoa(tc.line) + ": "; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: message %q does not start with %q", tc.file, err, want)
		}
	}

	if _, err := Load("testdata/absent.txt"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: got %v, want os.ErrNotExist", err)
	}
}

func TestParseValues(t *testing.T) {
	const name = "/etc/faced/config.txt"
	base := "[DEFAULT]\nInputDirectory = /photos\nDataDirectory = /data\n"
	for _, tc := range []struct {
		name  string
		extra string
		check func(*Config) bool
	}{
		{"defaults", "", func(c *Config) bool {
			return c.DistanceThreshold() == 0 && c.MinNoPhotos() == 2 && c.MinNoFrames() == 10 &&
				c.MinDaysDifferenceBetweenPhotoMDates() == 0 && c.MinFaceWidthPercent() == 7 &&
				c.Workers() == 0 && c.WorkerCount() == runtime.NumCPU() && c.SidecarNaming() == SidecarFull &&
				c.MinFaceSize() == 32 && c.ORTLibrary() == "" && c.ModelVariant() == VariantInt8 &&
				c.Heads() == "seed" && slices.Equal(c.Extensions(), media.Extensions()) &&
				len(c.IgnoreGlobs()) == 0 && c.SettleTime() == time.Second && c.RescanInterval() == time.Hour &&
				c.VideoFramesPerSecond() == 2 && c.MinNoFrames() == 10 && c.UnnamedPersonLabel() == "Person" &&
				c.VisibilityKeywordRoot() == "faced" && !c.EmbeddedXMP() && c.LogLevel() == slog.LevelInfo &&
				c.Socket() == DefaultSocket("/data")
		}},
		{"threshold number", "DistanceThreshold = 0.82\n", func(c *Config) bool { return c.DistanceThreshold() == 0.82 }},
		{"threshold model any case", "DistanceThreshold = Model\n", func(c *Config) bool { return c.DistanceThreshold() == 0 }},
		{"relative paths", "ORTLibrary = lib/libonnxruntime.so\nSocket = ../../data/run/f.sock\n", func(c *Config) bool {
			return c.ORTLibrary() == "/etc/faced/lib/libonnxruntime.so" && c.Socket() == "/data/run/f.sock"
		}},
		{"socket in runtime folder", "Socket = /run/faced/api.sock\n", func(c *Config) bool { return c.Socket() == "/run/faced/api.sock" }},
		{"input inside /run and /var", "InputDirectory = /run/media/alice/SD\n", nil},
		{"max workers", "Workers = 256\n", func(c *Config) bool { return c.Workers() == 256 }},
		{"allowed outside folders", "AllowedOutsideFolders = /mnt/a, ../../srv/b\n", func(c *Config) bool {
			return slices.Equal(c.AllowedOutsideFolders(), []string{"/mnt/a", "/srv/b"})
		}},
		{"key case-insensitive", "sidecarnaming = BASE\n", func(c *Config) bool { return c.SidecarNaming() == SidecarBase }},
		{"comments and blanks", "# x\n; y\n\n   \nWorkers=2\n", func(c *Config) bool { return c.Workers() == 2 }},
		{"settle fraction", "SettleSeconds = 0.25\nRescanMinutes = 0\n", func(c *Config) bool {
			return c.SettleTime() == 250*time.Millisecond && c.RescanInterval() == 0
		}},
		{"extensions normalised", "Extensions = JPG, .Png ,heic\n", func(c *Config) bool {
			return slices.Equal(c.Extensions(), []string{".jpg", ".png", ".heic"})
		}},
		{"globs", "IgnoreGlobs = *.tmp, @eaDir ,Private/*\n", func(c *Config) bool {
			return slices.Equal(c.IgnoreGlobs(), []string{"*.tmp", "@eaDir", "Private/*"})
		}},
		{"log level", "LogLevel = DEBUG\n", func(c *Config) bool { return c.LogLevel() == slog.LevelDebug }},
		{"float32", "ModelVariant = float32\nVideoFramesPerSecond = 2.5\n", func(c *Config) bool {
			return c.ModelVariant() == VariantFloat32 && c.VideoFramesPerSecond() == 2.5
		}},
		{"value with equals sign", "UnnamedPersonLabel = a=b\n", func(c *Config) bool { return c.UnnamedPersonLabel() == "a=b" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := base + tc.extra
			if strings.HasPrefix(tc.extra, "InputDirectory") {
				src = "[DEFAULT]\nDataDirectory = /data\n" + tc.extra
			}
			c, err := Parse(name, []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			if tc.check != nil && !tc.check(c) {
				t.Errorf("unexpected values: %s", c)
			}
		})
	}
}

func TestConfigIsImmutable(t *testing.T) {
	c, err := Parse("/c.txt", []byte("[DEFAULT]\nInputDirectory=/p\nDataDirectory=/d\nIgnoreGlobs=a,b\n"))
	if err != nil {
		t.Fatal(err)
	}
	g := c.IgnoreGlobs()
	g[0] = "changed"
	e := c.Extensions()
	e[0] = "changed"
	if c.IgnoreGlobs()[0] != "a" || c.Extensions()[0] != ".jpg" {
		t.Error("a returned slice aliases the Config")
	}
}

func TestParseErrors(t *testing.T) {
	const name = "/etc/faced/config.txt"
	base := "[DEFAULT]\nInputDirectory = /photos\nDataDirectory = /data\n" // lines 1-3
	for _, tc := range []struct {
		name    string
		src     string
		line    int
		key     string
		inError string
	}{
		{"unknown key", base + "Colour = red\n", 4, "Colour", "unknown key"},
		{"typo suggestion", base + "MinNoFrame = 3\n", 4, "MinNoFrame", "did you mean MinNoFrames"},
		{"duplicate", base + "Workers = 1\nworkers = 2\n", 5, "Workers", "first set on line 4"},
		{"duplicate path", base + "InputDirectory = /x\n", 4, "InputDirectory", "duplicate"},
		{"threshold zero", base + "DistanceThreshold = 0\n", 4, "DistanceThreshold", "number > 0"},
		{"threshold text", base + "DistanceThreshold = auto\n", 4, "DistanceThreshold", `"auto"`},
		{"threshold NaN", base + "DistanceThreshold = NaN\n", 4, "DistanceThreshold", "NaN"},
		{"negative workers", base + "Workers = -1\n", 4, "Workers", "0 (one per CPU core)"},
		{"inline comment", base + "Workers = 2 # two\n", 4, "Workers", "whole number"},
		{"min photos zero", base + "MinNoPhotos = 0\n", 4, "MinNoPhotos", "≥ 1"},
		{"percent too big", base + "MinFaceWidthPercent = 101\n", 4, "MinFaceWidthPercent", "≤ 100"},
		{"face size too small", base + "MinFaceSize = 8\n", 4, "MinFaceSize", "≥ 12"},
		{"sidecar naming", base + "SidecarNaming = short\n", 4, "SidecarNaming", `"full" or "base"`},
		{"variant", base + "ModelVariant = int4\n", 4, "ModelVariant", "int8"},
		{"heads", base + "Heads = a b\n", 4, "Heads", "heads name"},
		{"extension xmp", base + "Extensions = .jpg,.xmp\n", 4, "Extensions", "sidecar"},
		{"extension empty", base + "Extensions = ,\n", 4, "Extensions", "at least one"},
		{"extensions with semicolons", base + "Extensions = jpg;;png\n", 4, "Extensions", "bad extension"},
		{"extension with space", base + "Extensions = jpg png\n", 4, "Extensions", "bad extension"},
		{"workers too many", base + "Workers = 100000\n", 4, "Workers", "256"},
		{"input is root", "[DEFAULT]\nDataDirectory = /d\nInputDirectory = /\n", 3, "InputDirectory", "system folder"},
		{"input in proc", "[DEFAULT]\nInputDirectory = /proc/self\n", 2, "InputDirectory", "/proc"},
		{"input is sys", "[DEFAULT]\nInputDirectory = /sys\n", 2, "InputDirectory", "/sys"},
		{"input in etc", "[DEFAULT]\nInputDirectory = /etc/photos\n", 2, "InputDirectory", "/etc"},
		{"input in usr", "[DEFAULT]\nInputDirectory = /usr/share\n", 2, "InputDirectory", "/usr"},
		{"input is var", "[DEFAULT]\nInputDirectory = /var\n", 2, "InputDirectory", "system folder"},
		{"input dotdot to root", "[DEFAULT]\nInputDirectory = ../..\n", 2, "InputDirectory", "system folder"},
		{"data in dev", "[DEFAULT]\nInputDirectory = /p\nDataDirectory = /dev/shm/faced\n", 3, "DataDirectory", "/dev"},
		{"allowed outside /etc", base + "AllowedOutsideFolders = /mnt/a, /etc\n", 4, "AllowedOutsideFolders", "system folder"},
		{"socket over passwd", base + "Socket = /etc/passwd\n", 4, "Socket", "outside DataDirectory"},
		{"socket beside data", base + "Socket = /data.sock\n", 4, "Socket", "outside DataDirectory"},
		{"socket is data", base + "Socket = /data\n", 4, "Socket", "outside DataDirectory"},
		{"extension unknown", base + "Extensions = .jpg,.xyz\n", 4, "Extensions", "cannot read .xyz"},
		{"bad glob", base + "IgnoreGlobs = [abc\n", 4, "IgnoreGlobs", "bad glob"},
		{"negative settle", base + "SettleSeconds = -1\n", 4, "SettleSeconds", "≥ 0"},
		{"bool", base + "EmbeddedXMP = maybe\n", 4, "EmbeddedXMP", "true or false"},
		{"log level", base + "LogLevel = loud\n", 4, "LogLevel", "debug, info"},
		{"empty path", "[DEFAULT]\nORTLibrary = \nInputDirectory =\n", 3, "InputDirectory", "empty value"},
		{"label", base + "UnnamedPersonLabel = a|b\n", 4, "UnnamedPersonLabel", "'|'"},
		{"no separator", base + "Workers\n", 4, "", "Key = Value"},
		{"empty key", base + "= 3\n", 4, "", "missing key"},
		{"other section", base + "[extra]\n", 4, "", "unknown section"},
		{"second default", base + "[DEFAULT]\n", 4, "", "duplicate section"},
		{"bad header", base + "[DEFAULT\n", 4, "", "malformed"},
		{"key before section", "Workers = 2\n[DEFAULT]\n", 1, "Workers", "outside"},
		{"continuation", base + "  Workers = 2\n", 4, "", "indented"},
		{"missing input", "[DEFAULT]\nDataDirectory = /d\n", 0, "InputDirectory", "missing"},
		{"no section", "# empty\n", 0, "", "no [DEFAULT]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(name, []byte(tc.src))
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("got %v, %v; want a *LineError", c, err)
			}
			if le.File != name || le.Line != tc.line || le.Key != tc.key {
				t.Errorf("got %#v, want line %d key %q", le, tc.line, tc.key)
			}
			if !strings.Contains(err.Error(), tc.inError) {
				t.Errorf("error %q does not mention %q", err, tc.inError)
			}
		})
	}
}

// CheckPaths names the key and its line for a missing, unlistable or
// system InputDirectory or DataDirectory.
func TestCheckPaths(t *testing.T) {
	dir := t.TempDir()
	photos := filepath.Join(dir, "photos")
	file := filepath.Join(dir, "file")
	toProc := filepath.Join(dir, "proc-link")
	for _, p := range []string{photos} {
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/proc", toProc); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(dir, "config.txt")
	for _, tc := range []struct {
		name, src string
		line      int
		key       string
		inError   string
	}{
		{"ok", "[DEFAULT]\nInputDirectory = photos\nDataDirectory = data\n", 0, "", ""},
		{"missing input", "[DEFAULT]\nDataDirectory = data\n\nInputDirectory = nothing\n", 4, "InputDirectory", "no such file"},
		{"input is a file", "[DEFAULT]\nInputDirectory = file\nDataDirectory = data\n", 2, "InputDirectory", "not a folder"},
		{"input leads to /proc", "[DEFAULT]\nInputDirectory = proc-link\nDataDirectory = data\n", 2, "InputDirectory", "system folder /proc"},
		{"allowed folder missing", "[DEFAULT]\nInputDirectory = photos\nDataDirectory = data\nAllowedOutsideFolders = /nonexistent-faced\n", 4, "AllowedOutsideFolders", "no such file"},
		{"data is a file", "[DEFAULT]\nInputDirectory = photos\nDataDirectory = file\n", 3, "DataDirectory", "not a folder"},
		{"data leads to /proc", "[DEFAULT]\nInputDirectory = photos\n# x\nDataDirectory = proc-link/x/..\n", 4, "DataDirectory", "system folder /proc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(name, []byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			err = c.CheckPaths()
			if tc.key == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("got %v, want a *LineError", err)
			}
			if le.File != name || le.Line != tc.line || le.Key != tc.key || !strings.Contains(err.Error(), tc.inError) {
				t.Errorf("got %q (%#v), want line %d key %s mentioning %q", err, le, tc.line, tc.key, tc.inError)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("%s:%d: %s", name, tc.line, tc.key)) {
				t.Errorf("error %q does not start with file:line: key", err)
			}
		})
	}
	// A key left at its default is named, with line 0 and "default".
	t.Setenv("XDG_DATA_HOME", file)
	c, err := Parse(name, []byte("[DEFAULT]\nInputDirectory = photos\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckPaths(); err == nil || !strings.Contains(err.Error(), "DataDirectory") || !strings.Contains(err.Error(), "default") {
		t.Errorf("default DataDirectory under a file: %v", err)
	}
}
