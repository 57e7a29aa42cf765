package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/faced/faced/media"
)

// Load reads and validates the configuration file at path.
func Load(path string) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	src, err := os.ReadFile(abs)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(abs, src)
}

// Parse validates src as the content of the configuration file name; relative
// paths in it resolve against name's folder. Tests use it to build a Config
// without writing a file.
func Parse(name string, src []byte) (*Config, error) {
	abs, err := filepath.Abs(name)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", name, err)
	}
	dir := filepath.Dir(abs)
	c := &Config{file: abs, lines: map[string]int{}}
	seen := map[string]int{} // canonical key -> line

	lineErr := func(line int, key, format string, args ...any) error {
		return &LineError{File: abs, Line: line, Key: key, Reason: fmt.Sprintf(format, args...)}
	}

	src = bytes.TrimPrefix(src, []byte("\xef\xbb\xbf"))
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	inDefault := false
	n := 0
	for sc.Scan() {
		n++
		raw := sc.Text()
		line := strings.TrimSpace(raw)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
			continue
		case line[0] == '[':
			if !strings.HasSuffix(line, "]") {
				return nil, lineErr(n, "", "malformed section header %q", line)
			}
			sec := strings.TrimSpace(line[1 : len(line)-1])
			if sec != "DEFAULT" {
				return nil, lineErr(n, "", "unknown section [%s]: faced reads only [DEFAULT]", sec)
			}
			if inDefault {
				return nil, lineErr(n, "", "duplicate section [DEFAULT]")
			}
			inDefault = true
			continue
		case raw[0] == ' ' || raw[0] == '\t':
			return nil, lineErr(n, "", "indented line: continuation lines are not supported")
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, lineErr(n, "", "expected \"Key = Value\", got %q", line)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if k == "" {
			return nil, lineErr(n, "", "missing key before \"=\"")
		}
		if !inDefault {
			return nil, lineErr(n, k, "key outside the [DEFAULT] section")
		}
		s, ok := keyIndex[strings.ToLower(k)]
		if !ok {
			return nil, lineErr(n, k, "unknown key%s", suggest(k))
		}
		if prev, dup := seen[s.name]; dup {
			return nil, lineErr(n, s.name, "duplicate key (first set on line %d)", prev)
		}
		seen[s.name] = n
		c.lines[s.name] = n
		if err := s.set(c, v, dir); err != nil {
			return nil, lineErr(n, s.name, "%v", err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, lineErr(n+1, "", "%v", err)
	}
	if !inDefault {
		return nil, lineErr(0, "", "no [DEFAULT] section")
	}
	for _, s := range keys {
		if _, ok := seen[s.name]; ok {
			continue
		}
		if s.required {
			return nil, lineErr(0, s.name, "missing (required)")
		}
		def := s.def
		if s.name == "DataDirectory" {
			d, err := DefaultDataDirectory()
			if err != nil {
				return nil, lineErr(0, s.name, "not set and no default: %v", err)
			}
			def = d
		}
		if err := s.set(c, def, dir); err != nil {
			// A default that does not validate is a bug in this package.
			panic(fmt.Sprintf("config: default %s = %q: %v", s.name, def, err))
		}
	}
	if c.socket == "" {
		c.socket = DefaultSocket(c.dataDirectory)
	} else if err := checkSocketPlace(c.socket, c.dataDirectory); err != nil {
		return nil, lineErr(c.lines["Socket"], "Socket", "%v", err)
	}
	return c, nil
}

// DefaultDataDirectory is the per-user data folder used when DataDirectory is
// not set: $XDG_DATA_HOME/faced or ~/.local/share/faced on Linux and BSDs,
// ~/Library/Application Support/faced on macOS, %LocalAppData%\faced on
// Windows.
func DefaultDataDirectory() (string, error) {
	switch runtime.GOOS {
	case "windows":
		if d := os.Getenv("LocalAppData"); d != "" {
			return filepath.Join(d, "faced"), nil
		}
		return "", errors.New("%LocalAppData% is not set")
	case "darwin", "ios":
		h, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		return filepath.Join(h, "Library", "Application Support", "faced"), nil
	default:
		if d := os.Getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
			return filepath.Join(d, "faced"), nil
		}
		h, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		return filepath.Join(h, ".local", "share", "faced"), nil
	}
}

// DefaultSocket is the local API address used when Socket is empty:
// <dataDir>/faced.sock, or the named pipe \\.\pipe\faced on Windows.
func DefaultSocket(dataDir string) string {
	if runtime.GOOS == "windows" {
		return `\\.\pipe\faced`
	}
	return filepath.Join(dataDir, "faced.sock")
}

// keySpec describes one configuration key. set parses v into c; its error is
// the reason text of a LineError.
type keySpec struct {
	name     string
	required bool
	def      string
	set      func(c *Config, v, dir string) error
}

var keys = []keySpec{
	{name: "InputDirectory", required: true, set: func(c *Config, v, dir string) error {
		p, err := pathValue(v, dir, false)
		if err == nil {
			err = checkNotSystem(p)
		}
		c.inputDirectory = p
		return err
	}},
	{name: "DistanceThreshold", def: "model", set: func(c *Config, v, _ string) error {
		if strings.EqualFold(v, "model") {
			c.distanceThreshold = 0
			return nil
		}
		f, err := floatValue(v)
		if err != nil || f <= 0 {
			return fmt.Errorf("want \"model\" or a number > 0, got %q", v)
		}
		c.distanceThreshold = f
		return nil
	}},
	{name: "MinNoPhotos", def: "2", set: intKey(1, func(c *Config, n int) { c.minNoPhotos = n })},
	{name: "MinNoFrames", def: "10", set: intKey(1, func(c *Config, n int) { c.minNoFrames = n })},
	{name: "MinDaysDifferenceBetweenPhotoMDates", def: "0", set: intKey(0, func(c *Config, n int) { c.minDaysDifference = n })},
	{name: "MinFaceWidthPercent", def: "7", set: func(c *Config, v, _ string) error {
		f, err := floatValue(v)
		if err != nil || f <= 0 || f > 100 {
			return fmt.Errorf("want a percentage > 0 and ≤ 100, got %q", v)
		}
		c.minFaceWidthPercent = f
		return nil
	}},
	{name: "DataDirectory", set: func(c *Config, v, dir string) error {
		p, err := pathValue(v, dir, false)
		if err == nil {
			err = checkNotSystem(p)
		}
		c.dataDirectory = p
		return err
	}},
	{name: "Workers", def: "0", set: func(c *Config, v, _ string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > MaxWorkers {
			return fmt.Errorf("want 0 (one per CPU core) or a whole number from 1 to %d, got %q", MaxWorkers, v)
		}
		c.workers = n
		return nil
	}},
	{name: "SidecarNaming", def: "full", set: func(c *Config, v, _ string) error {
		switch s := SidecarNaming(strings.ToLower(v)); s {
		case SidecarFull, SidecarBase:
			c.sidecarNaming = s
			return nil
		}
		return fmt.Errorf("want \"full\" or \"base\", got %q", v)
	}},
	{name: "MinFaceSize", def: "32", set: intKey(12, func(c *Config, n int) { c.minFaceSize = n })},
	{name: "ORTLibrary", def: "", set: func(c *Config, v, dir string) error {
		p, err := pathValue(v, dir, true)
		c.ortLibrary = p
		return err
	}},
	{name: "SeedDirectory", def: "", set: func(c *Config, v, dir string) error {
		p, err := pathValue(v, dir, true)
		c.seedDirectory = p
		return err
	}},
	{name: "ModelVariant", def: "int8", set: func(c *Config, v, _ string) error {
		switch m := ModelVariant(strings.ToLower(v)); m {
		case VariantInt8, VariantFloat32:
			c.modelVariant = m
			return nil
		}
		return fmt.Errorf("want \"int8\" or \"float32\", got %q", v)
	}},
	{name: "Heads", def: "seed", set: func(c *Config, v, _ string) error {
		if !nameRE.MatchString(v) {
			return fmt.Errorf("want \"seed\" or a heads name (letters, digits, '.', '_', '-'), got %q", v)
		}
		c.heads = v
		return nil
	}},
	{name: "Extensions", def: strings.Join(media.Extensions(), ","), set: func(c *Config, v, _ string) error {
		var exts []string
		for _, e := range splitList(v) {
			e = strings.ToLower(e)
			if !strings.HasPrefix(e, ".") {
				e = "." + e
			}
			if !extRE.MatchString(e) {
				return fmt.Errorf("bad extension %q: want letters and digits after the dot, items separated by commas", e)
			}
			if e == ".xmp" {
				return errors.New(".xmp is a sidecar, never a media file")
			}
			if !media.Known(e) {
				return fmt.Errorf("faced cannot read %s files (it reads %s)", e, strings.Join(media.Extensions(), " "))
			}
			exts = append(exts, e)
		}
		if len(exts) == 0 {
			return errors.New("want at least one extension")
		}
		c.extensions = exts
		return nil
	}},
	{name: "AllowedOutsideFolders", def: "", set: func(c *Config, v, dir string) error {
		var out []string
		for _, f := range splitList(v) {
			p, err := pathValue(f, dir, false)
			if err == nil {
				err = checkNotSystem(p)
			}
			if err != nil {
				return err
			}
			out = append(out, p)
		}
		c.allowedOutside = out
		return nil
	}},
	{name: "IgnoreGlobs", def: "", set: func(c *Config, v, _ string) error {
		var globs []string
		for _, g := range splitList(v) {
			if _, err := path.Match(g, ""); err != nil {
				return fmt.Errorf("bad glob %q: %v", g, err)
			}
			globs = append(globs, g)
		}
		c.ignoreGlobs = globs
		return nil
	}},
	{name: "SettleSeconds", def: "1", set: durationKey(0, 3600, time.Second, func(c *Config, d time.Duration) { c.settle = d })},
	{name: "RescanMinutes", def: "60", set: durationKey(0, 7*24*60, time.Minute, func(c *Config, d time.Duration) { c.rescan = d })},
	{name: "VideoFramesPerSecond", def: "2", set: func(c *Config, v, _ string) error {
		f, err := floatValue(v)
		if err != nil || f < 0 || f > 240 {
			return fmt.Errorf("want 0 (the seed's adaptive sampling) or a rate > 0 and ≤ 240, got %q", v)
		}
		c.videoFramesPerSecond = f
		return nil
	}},
	{name: "UnnamedPersonLabel", def: "Person", set: func(c *Config, v, _ string) error {
		if v == "" || strings.ContainsAny(v, "|/\\") || strings.ContainsFunc(v, isControl) {
			return fmt.Errorf("want a non-empty label without '|', '/', '\\' or control characters, got %q", v)
		}
		c.unnamedPersonLabel = v
		return nil
	}},
	{name: "VisibilityKeywordRoot", def: "faced", set: func(c *Config, v, _ string) error {
		if v == "" || strings.ContainsAny(v, "|/\\,") || strings.ContainsFunc(v, isControl) {
			return fmt.Errorf("want a non-empty keyword without '|', '/', '\\', ',' or control characters, got %q", v)
		}
		c.visibilityKeywordRoot = v
		return nil
	}},
	{name: "EmbeddedXMP", def: "false", set: func(c *Config, v, _ string) error {
		b, err := boolValue(v)
		c.embeddedXMP = b
		return err
	}},
	{name: "LogLevel", def: "info", set: func(c *Config, v, _ string) error {
		var l slog.Level
		if err := l.UnmarshalText([]byte(v)); err != nil {
			return fmt.Errorf("want debug, info, warn or error, got %q", v)
		}
		c.logLevel = l
		return nil
	}},
	{name: "ReviewAddress", def: "127.0.0.1:7878", set: func(c *Config, v, _ string) error {
		// host:port of the review page; "off" serves none. A host other
		// than a loopback one exposes it to the network: the per-install
		// secret still guards it (see README, threat model).
		if strings.EqualFold(v, "off") || v == "" {
			c.reviewAddress = ""
			return nil
		}
		if _, _, err := net.SplitHostPort(v); err != nil {
			return fmt.Errorf("want host:port or off, got %q", v)
		}
		c.reviewAddress = v
		return nil
	}},
	{name: "Socket", def: "", set: func(c *Config, v, dir string) error {
		if runtime.GOOS == "windows" && strings.HasPrefix(v, `\\.\pipe\`) {
			c.socket = v
			return nil
		}
		p, err := pathValue(v, dir, true)
		c.socket = p
		return err
	}},
}

var keyIndex = func() map[string]*keySpec {
	m := make(map[string]*keySpec, len(keys))
	for i := range keys {
		m[strings.ToLower(keys[i].name)] = &keys[i]
	}
	return m
}()

// Keys returns the names of all configuration keys, in file order.
func Keys() []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.name
	}
	return out
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// extRE is a media file extension: "jpg;;png" (a wrong separator) is one
// bad extension, not a list.
var extRE = regexp.MustCompile(`^\.[a-z0-9]+$`)

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func pathValue(v, dir string, emptyOK bool) (string, error) {
	if v == "" {
		if emptyOK {
			return "", nil
		}
		return "", errors.New("want a path, got an empty value")
	}
	if strings.ContainsFunc(v, isControl) {
		return "", fmt.Errorf("path contains control characters: %q", v)
	}
	if v == "~" || strings.HasPrefix(v, "~/") {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("cannot expand ~: %v", err)
		}
		return filepath.Join(h, v[1:]), nil
	}
	return resolve(dir, v), nil
}

func intKey(min int, store func(*Config, int)) func(*Config, string, string) error {
	return func(c *Config, v, _ string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < min {
			return fmt.Errorf("want a whole number ≥ %d, got %q", min, v)
		}
		store(c, n)
		return nil
	}
}

func durationKey(min, max float64, unit time.Duration, store func(*Config, time.Duration)) func(*Config, string, string) error {
	return func(c *Config, v, _ string) error {
		f, err := floatValue(v)
		if err != nil || f < min || f > max {
			return fmt.Errorf("want a number ≥ %g and ≤ %g, got %q", min, max, v)
		}
		store(c, time.Duration(f*float64(unit)))
		return nil
	}
}

func floatValue(v string) (float64, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, err
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, errors.New("not a finite number")
	}
	return f, nil
}

func boolValue(v string) (bool, error) {
	// The spellings Python's configparser accepts for getboolean.
	switch strings.ToLower(v) {
	case "1", "yes", "true", "on":
		return true, nil
	case "0", "no", "false", "off":
		return false, nil
	}
	return false, fmt.Errorf("want true or false, got %q", v)
}

func splitList(v string) []string {
	var out []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// suggest names a known key that differs from k only in case or by a small
// edit, to help with typos.
func suggest(k string) string {
	best, bestD := "", 3
	for _, s := range keys {
		if d := editDistance(strings.ToLower(k), strings.ToLower(s.name)); d < bestD {
			best, bestD = s.name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
