package models

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/google/renameio/v2"
)

// RegistryFile is the registry's file name inside DATA/models.
const RegistryFile = "registry.json"

// Errors callers branch on (errors.Is).
var (
	// ErrModelMissing: the registry, a model file or a model entry is absent.
	ErrModelMissing = errors.New("model missing")
	// ErrModelCorrupt: a file does not match its recorded SHA-256, or the
	// registry cannot be read.
	ErrModelCorrupt = errors.New("model corrupt")
)

// ModelError names the file at fault and how to fix it.
type ModelError struct {
	Kind error  // ErrModelMissing or ErrModelCorrupt
	Path string // file concerned
	Why  string
}

func (e *ModelError) Error() string {
	return fmt.Sprintf("%v: %s: %s; faced installs missing models when it starts (from SeedDirectory or the installed location), or run `facedctl models install --seed DIR --data DIR`", e.Kind, e.Path, e.Why)
}

func (e *ModelError) Unwrap() error { return e.Kind }

// Source records the seed file a model was converted from.
type Source struct {
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
}

// Preprocess holds the constants callers apply before feeding the model:
// x = (pixel - Mean[c]) * Scale, channels in ChannelOrder.
type Preprocess struct {
	Layout       string    `json:"layout"`
	ChannelOrder string    `json:"channel_order"`
	Mean         []float32 `json:"mean"`
	Scale        float32   `json:"scale"`
	Resize       string    `json:"resize"`
}

// ModelInfo is one registry entry.
type ModelInfo struct {
	Name       string             `json:"name"`
	File       string             `json:"file"` // relative to DATA/models
	SHA256     string             `json:"sha256"`
	Size       int64              `json:"size"`
	License    string             `json:"license"`
	Source     Source             `json:"source"`
	Converter  string             `json:"converter"`
	Inputs     []string           `json:"inputs"`
	Outputs    []string           `json:"outputs"`
	InputSize  [2]int             `json:"input_size"` // H, W; 0 = dynamic
	Preprocess Preprocess         `json:"preprocess"`
	Thresholds map[string]float64 `json:"thresholds"`
	// FoldWeights asks ONNX Runtime to constant-fold the DequantizeLinear
	// weight paths at load time (weight-only 8-bit models: the file stays
	// 8-bit, the session computes in float32 with pre-packed weights).
	FoldWeights bool `json:"fold_weights,omitempty"`
}

// registryDoc is registry.json.
type registryDoc struct {
	Converter string      `json:"converter"`
	License   string      `json:"license_file"`
	Models    []ModelInfo `json:"models"`
}

// Registry is the verified set of installed models.
type Registry struct {
	dir    string
	models []ModelInfo
}

// Dir returns DATA/models.
func (r *Registry) Dir() string { return r.dir }

// Path returns the absolute path of a model's file.
func (r *Registry) Path(mi ModelInfo) string { return filepath.Join(r.dir, mi.File) }

// modelsDir is where a data directory holds the converted models and
// registry.json (written by Install, read by OpenRegistry and List).
func modelsDir(dataDir string) string { return filepath.Join(dataDir, "models") }

func readRegistry(dir string) (*registryDoc, error) {
	p := filepath.Join(dir, RegistryFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, &ModelError{Kind: ErrModelMissing, Path: p, Why: "no model registry (models not installed)"}
	}
	if err != nil {
		return nil, &ModelError{Kind: ErrModelCorrupt, Path: p, Why: err.Error()}
	}
	var doc registryDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, &ModelError{Kind: ErrModelCorrupt, Path: p, Why: "invalid JSON: " + err.Error()}
	}
	return &doc, nil
}

func fileSHA256(p string) (string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// verify checks a model file against its entry.
func verify(dir string, mi ModelInfo) error {
	p := filepath.Join(dir, mi.File)
	sum, _, err := fileSHA256(p)
	if errors.Is(err, os.ErrNotExist) {
		return &ModelError{Kind: ErrModelMissing, Path: p, Why: "model file not found"}
	}
	if err != nil {
		return &ModelError{Kind: ErrModelCorrupt, Path: p, Why: err.Error()}
	}
	if sum != mi.SHA256 {
		return &ModelError{Kind: ErrModelCorrupt, Path: p, Why: fmt.Sprintf("SHA-256 %s, registry says %s", sum, mi.SHA256)}
	}
	return nil
}

// OpenRegistry reads dataDir/models/registry.json and verifies every model
// file's SHA-256. A missing or damaged installation is a *ModelError
// (errors.Is ErrModelMissing or ErrModelCorrupt).
func OpenRegistry(dataDir string) (*Registry, error) {
	dir := modelsDir(dataDir)
	doc, err := readRegistry(dir)
	if err != nil {
		return nil, err
	}
	if len(doc.Models) == 0 {
		return nil, &ModelError{Kind: ErrModelMissing, Path: filepath.Join(dir, RegistryFile), Why: "registry lists no models"}
	}
	for _, mi := range doc.Models {
		if err := verify(dir, mi); err != nil {
			return nil, err
		}
	}
	return &Registry{dir: dir, models: doc.Models}, nil
}

// Models returns the installed models sorted by name.
func (r *Registry) Models() []ModelInfo {
	out := append([]ModelInfo(nil), r.models...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Model returns one entry by name.
func (r *Registry) Model(name string) (ModelInfo, error) {
	for _, mi := range r.models {
		if mi.Name == name {
			return mi, nil
		}
	}
	return ModelInfo{}, &ModelError{Kind: ErrModelMissing, Path: filepath.Join(r.dir, RegistryFile), Why: fmt.Sprintf("no model named %q", name)}
}

// Status is one line of `facedctl models list`.
type Status struct {
	ModelInfo
	Err error // nil when the file matches its SHA-256
}

// List reports every model in dataDir's registry, verified or not.
func List(dataDir string) ([]Status, error) {
	dir := modelsDir(dataDir)
	doc, err := readRegistry(dir)
	if err != nil {
		return nil, err
	}
	var out []Status
	for _, mi := range doc.Models {
		out = append(out, Status{ModelInfo: mi, Err: verify(dir, mi)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// syncRegistry rewrites dir's registry.json when its model entries, apart
// from the converted files themselves (name, file, SHA-256, size), differ
// from what this version of faced says about them (thresholds, input size,
// preprocessing): an installation made before thresholds were tuned gets
// them without converting again. The files are already verified (see
// upToDate); the JSON written is the one a fresh Install writes.
func syncRegistry(dir string) error {
	doc, err := readRegistry(dir)
	if err != nil {
		return err
	}
	have := map[string]ModelInfo{}
	for _, mi := range doc.Models {
		have[mi.Name] = mi
	}
	want := registryDoc{Converter: ConverterVersion, License: "LICENSE"}
	for _, s := range specs() {
		old, ok := have[s.name]
		if !ok {
			return &ModelError{Kind: ErrModelMissing, Path: filepath.Join(dir, RegistryFile), Why: fmt.Sprintf("no model named %q", s.name)}
		}
		want.Models = append(want.Models, specInfo(s, old.File, old.SHA256, old.Size))
	}
	jb, err := json.MarshalIndent(want, "", "  ")
	if err != nil {
		return err
	}
	jb = append(jb, '\n')
	p := filepath.Join(dir, RegistryFile)
	if cur, err := os.ReadFile(p); err == nil && bytes.Equal(cur, jb) {
		return nil
	}
	return renameio.WriteFile(p, jb, 0o644, renameio.WithTempDir(filepath.Dir(p)))
}

// specInfo is the registry entry of a model converted from s into file.
func specInfo(s spec, file, sha string, size int64) ModelInfo {
	mi := ModelInfo{Name: s.name, File: file, SHA256: sha, Size: size, License: SeedLicense,
		Source: Source{File: s.seedFile, SHA256: s.seedSHA}, Converter: ConverterVersion,
		Inputs: []string{s.input}, Outputs: s.outputs}
	s.info(&mi)
	return mi
}
