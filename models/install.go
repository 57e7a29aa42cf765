package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"
)

// InstallResult says what Install did.
type InstallResult struct {
	Dir       string
	Converted []string // models written by this call (empty when all were up to date)
}

// Install converts the seed GraphDefs found in seedDir (the two .pb files
// and LICENSE, flat or under seedDir/models) into dataDir/models and writes
// registry.json. When the installation is already complete and verified,
// it returns at once without converting.
func Install(ctx context.Context, seedDir, dataDir string, log *slog.Logger) (InstallResult, error) {
	if log == nil {
		log = slog.Default()
	}
	dir := modelsDir(dataDir)
	res := InstallResult{Dir: dir}
	if upToDate(dir) {
		return res, syncRegistry(dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, err
	}
	sources := map[string][]byte{}
	for _, f := range []struct{ name, sha string }{{SeedAgeGenderFile, SeedAgeGenderSHA256}, {SeedMTCNNFile, SeedMTCNNSHA256}} {
		p, err := seedPath(seedDir, f.name)
		if err != nil {
			return res, err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return res, fmt.Errorf("seed file %s: %w", p, err)
		}
		if got := sha256Hex(b); got != f.sha {
			return res, fmt.Errorf("seed file %s: SHA-256 %s, expected %s (wrong or damaged file)", p, got, f.sha)
		}
		sources[f.name] = b
	}
	lic, err := seedPath(seedDir, SeedLicenseFile)
	if err != nil {
		return res, err
	}
	lb, err := os.ReadFile(lic)
	if err != nil {
		return res, err
	}
	if err := renameio.WriteFile(filepath.Join(dir, "LICENSE"), lb, 0o644, renameio.WithTempDir(dir)); err != nil {
		return res, err
	}
	doc := registryDoc{Converter: ConverterVersion, License: "LICENSE"}
	for _, s := range specs() {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		file := s.name + ".onnx"
		meta := map[string]string{
			"faced.source_file":       s.seedFile,
			"faced.source_sha256":     s.seedSHA,
			"faced.converter_version": ConverterVersion,
			"faced.input":             s.input,
			"faced.outputs":           joinComma(s.outputs),
			"faced.license":           SeedLicense,
		}
		b, err := Convert(sources[s.seedFile], ConvertOptions{Name: s.name, Input: s.input, Outputs: s.outputs, DimNames: s.dims, QDQ: s.qdq, Metadata: meta})
		if err != nil {
			return res, err
		}
		if err := renameio.WriteFile(filepath.Join(dir, file), b, 0o644, renameio.WithTempDir(dir)); err != nil {
			return res, err
		}
		mi := specInfo(s, file, sha256Hex(b), int64(len(b)))
		doc.Models = append(doc.Models, mi)
		res.Converted = append(res.Converted, s.name)
		log.Info("model converted", "model", s.name, "file", filepath.Join(dir, file), "bytes", len(b))
	}
	jb, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return res, err
	}
	if err := renameio.WriteFile(filepath.Join(dir, RegistryFile), append(jb, '\n'), 0o644, renameio.WithTempDir(dir)); err != nil {
		return res, err
	}
	applyPolicy(dataDir, dir)
	return res, nil
}

func joinComma(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}

// upToDate reports whether dir holds a verified installation made by this
// converter version with every model this version produces.
func upToDate(dir string) bool {
	doc, err := readRegistry(dir)
	if err != nil || doc.Converter != ConverterVersion {
		return false
	}
	have := map[string]bool{}
	for _, mi := range doc.Models {
		if verify(dir, mi) != nil {
			return false
		}
		have[mi.Name] = true
	}
	for _, s := range specs() {
		if !have[s.name] {
			return false
		}
	}
	_, err = os.Stat(filepath.Join(dir, "LICENSE"))
	return err == nil
}

func seedPath(seedDir, name string) (string, error) {
	for _, p := range []string{filepath.Join(seedDir, name), filepath.Join(seedDir, "models", name)} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("seed file %s not found in %s or %s/models: %w", name, seedDir, seedDir, errors.Join(ErrModelMissing, os.ErrNotExist))
}
