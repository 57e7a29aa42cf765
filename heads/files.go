package heads

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/google/renameio/v2"
)

// FileLabel is the label of one image file.
type FileLabel struct {
	File   string // path relative to the labelled folder
	Age    float64
	Gender Gender
}

// ErrLabel reports a file name or CSV row that carries no usable label.
var ErrLabel = errors.New("heads: bad label")

func isImage(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jpg", ".jpeg", ".png":
		return true
	}
	return false
}

// ParseUTKFaceName reads AGE_GENDER_RACE_DATE.jpg.chip.jpg (gender 0 =
// male, 1 = female); only age and gender are used.
func ParseUTKFaceName(name string) (FileLabel, error) {
	parts := strings.Split(filepath.Base(name), "_")
	if len(parts) < 3 {
		return FileLabel{}, fmt.Errorf("%w: %s: not AGE_GENDER_RACE_DATE", ErrLabel, name)
	}
	age, err := strconv.Atoi(parts[0])
	if err != nil || age < 0 || age > 130 {
		return FileLabel{}, fmt.Errorf("%w: %s: age %q", ErrLabel, name, parts[0])
	}
	l := FileLabel{File: name, Age: float64(age)}
	switch parts[1] {
	case "0":
		l.Gender = Male
	case "1":
		l.Gender = Female
	default:
		return FileLabel{}, fmt.Errorf("%w: %s: gender %q (want 0 = male or 1 = female)", ErrLabel, name, parts[1])
	}
	return l, nil
}

// LabelsFromNames labels every image directly inside dir by its
// UTKFace-style name, in name order.
func LabelsFromNames(dir string) ([]FileLabel, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("heads: %w", err)
	}
	var out []FileLabel
	for _, e := range ents {
		if e.IsDir() || !isImage(e.Name()) {
			continue
		}
		l, err := ParseUTKFaceName(e.Name())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, e.Name()), err)
		}
		out = append(out, l)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no .jpg/.jpeg/.png images in %s", ErrLabel, dir)
	}
	return out, nil
}

// LabelsFromCSV reads file,age,gender rows (an optional header row starting
// with "file"). File paths are relative to the labelled folder. Age may be
// empty (unknown); gender is m/male/0, f/female/1 (UTKFace's coding) or
// empty (unknown).
func LabelsFromCSV(path string) ([]FileLabel, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("heads: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = 3
	r.TrimLeadingSpace = true
	var out []FileLabel
	for line := 1; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrLabel, path, err)
		}
		if line == 1 && strings.EqualFold(strings.TrimSpace(rec[0]), "file") {
			continue
		}
		l := FileLabel{File: strings.TrimSpace(rec[0]), Age: -1}
		if l.File == "" {
			return nil, fmt.Errorf("%w: %s line %d: empty file name", ErrLabel, path, line)
		}
		if a := strings.TrimSpace(rec[1]); a != "" {
			v, err := strconv.ParseFloat(a, 64)
			if err != nil || v < 0 || v > 130 || math.IsNaN(v) {
				return nil, fmt.Errorf("%w: %s line %d: age %q", ErrLabel, path, line, a)
			}
			l.Age = v
		}
		switch strings.ToLower(strings.TrimSpace(rec[2])) {
		case "":
		case "m", "male", "0":
			l.Gender = Male
		case "f", "female", "1":
			l.Gender = Female
		default:
			return nil, fmt.Errorf("%w: %s line %d: gender %q (want m, f, 0 = male or 1 = female)", ErrLabel, path, line, rec[2])
		}
		if l.Age < 0 && l.Gender == GenderUnknown {
			return nil, fmt.Errorf("%w: %s line %d: neither age nor gender", ErrLabel, path, line)
		}
		out = append(out, l)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s has no rows", ErrLabel, path)
	}
	return out, nil
}

// File is one image to run through the network.
type File struct {
	Path   string
	SHA256 string // hex
}

// Extractor runs the network on whole images (face chips, no detection).
type Extractor interface {
	Extract(ctx context.Context, files []File) ([]Input, error)
}

// FileSource is a folder of labelled face chips.
type FileSource struct {
	Dir       string
	Labels    []FileLabel
	Extractor Extractor
}

// Describe implements Source.
func (s FileSource) Describe() string { return "files:" + filepath.Base(filepath.Clean(s.Dir)) }

// Samples implements Source: hashes every labelled file and extracts its
// network outputs.
func (s FileSource) Samples(ctx context.Context) ([]Sample, error) {
	labels := append([]FileLabel(nil), s.Labels...)
	sort.SliceStable(labels, func(i, j int) bool { return labels[i].File < labels[j].File })
	files := make([]File, len(labels))
	for i, l := range labels {
		p := filepath.Join(s.Dir, l.File)
		sum, err := hashFile(p)
		if err != nil {
			return nil, err
		}
		files[i] = File{Path: p, SHA256: sum}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	ins, err := s.Extractor.Extract(ctx, files)
	if err != nil {
		return nil, err
	}
	if len(ins) != len(files) {
		return nil, fmt.Errorf("heads: extractor returned %d outputs for %d files", len(ins), len(files))
	}
	out := make([]Sample, len(labels))
	for i, l := range labels {
		out[i] = Sample{Key: filepath.ToSlash(l.File), Hash: files[i].SHA256, Age: l.Age, Gender: l.Gender, In: ins[i]}
	}
	return out, nil
}

func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("heads: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("heads: read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// CachedExtractor keeps network outputs on disk, one small file per image
// content hash, under Dir (which the caller keys by model: its SHA-256 and
// variant). Misses go to Inner in chunks, and each chunk is stored before the
// next one starts, so an interrupted run loses little.
type CachedExtractor struct {
	Dir      string
	Inner    Extractor
	Chunk    int                   // default 128
	Progress func(done, total int) // optional
	Hits     int                   // filled by Extract
}

const cacheMagic = "FHC1"

func (c *CachedExtractor) path(sum string) string {
	return filepath.Join(c.Dir, sum[:2], sum+".bin")
}

// Extract implements Extractor.
func (c *CachedExtractor) Extract(ctx context.Context, files []File) ([]Input, error) {
	out := make([]Input, len(files))
	var miss []int
	c.Hits = 0
	for i, f := range files {
		if len(f.SHA256) < 2 {
			miss = append(miss, i)
			continue
		}
		in, err := readCache(c.path(f.SHA256))
		if err != nil {
			miss = append(miss, i)
			continue
		}
		out[i] = in
		c.Hits++
	}
	chunk := c.Chunk
	if chunk <= 0 {
		chunk = 128
	}
	for start := 0; start < len(miss); start += chunk {
		part := miss[start:min(start+chunk, len(miss))]
		batch := make([]File, len(part))
		for k, i := range part {
			batch[k] = files[i]
		}
		ins, err := c.Inner.Extract(ctx, batch)
		if err != nil {
			return nil, err
		}
		if len(ins) != len(batch) {
			return nil, fmt.Errorf("heads: extractor returned %d outputs for %d files", len(ins), len(batch))
		}
		for k, i := range part {
			out[i] = ins[k]
			if len(files[i].SHA256) >= 2 {
				if err := writeCache(c.path(files[i].SHA256), ins[k]); err != nil {
					return nil, err
				}
			}
		}
		if c.Progress != nil {
			c.Progress(c.Hits+start+len(part), len(files))
		}
	}
	return out, nil
}

func writeCache(path string, in Input) error {
	if len(in.AgeProbs) != NumAgeClasses || len(in.Features) != FeatureDim {
		return fmt.Errorf("%w: cannot cache %d probabilities, %d features", ErrInput, len(in.AgeProbs), len(in.Features))
	}
	b := make([]byte, 0, 4+8+4*(NumAgeClasses+FeatureDim))
	b = append(b, cacheMagic...)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(in.MaleProb))
	for _, v := range in.AgeProbs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	for _, v := range in.Features {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("heads: cache: %w", err)
	}
	if err := renameio.WriteFile(path, b, 0o644, renameio.WithTempDir(filepath.Dir(path))); err != nil {
		return fmt.Errorf("heads: cache: %w", err)
	}
	return nil
}

func readCache(path string) (Input, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Input{}, err
	}
	if len(b) != 4+8+4*(NumAgeClasses+FeatureDim) || string(b[:4]) != cacheMagic {
		return Input{}, fmt.Errorf("%w: corrupt cache file %s", ErrInput, path)
	}
	in := Input{MaleProb: math.Float64frombits(binary.LittleEndian.Uint64(b[4:])),
		AgeProbs: make([]float32, NumAgeClasses), Features: make([]float32, FeatureDim)}
	o := 12
	for i := range in.AgeProbs {
		in.AgeProbs[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[o:]))
		o += 4
	}
	for i := range in.Features {
		in.Features[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[o:]))
		o += 4
	}
	return in, nil
}
