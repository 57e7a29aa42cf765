package models

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/faced/faced/cluster"
	"github.com/faced/faced/internal/shared"
)

// installTemp converts the seed into a temporary data directory.
func installTemp(t *testing.T) string {
	t.Helper()
	seed := shared.Dir(t, "seed")
	data := t.TempDir()
	res, err := Install(context.Background(), seed, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Converted) != len(specs()) {
		t.Fatalf("converted %v", res.Converted)
	}
	return data
}

func TestInstallIdempotentAndVerified(t *testing.T) {
	data := installTemp(t)
	seed := shared.Dir(t, "seed")
	res, err := Install(context.Background(), seed, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Converted) != 0 {
		t.Fatalf("second install converted %v again", res.Converted)
	}
	reg, err := OpenRegistry(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(reg.Models()) != len(specs()) {
		t.Fatalf("%d models", len(reg.Models()))
	}
	mi, err := reg.Model(AgeGender)
	if err != nil {
		t.Fatal(err)
	}
	if mi.Source.SHA256 != SeedAgeGenderSHA256 || mi.License != SeedLicense || len(mi.Outputs) != 3 || mi.Thresholds["male"] != 0.6 {
		t.Errorf("registry entry %+v", mi)
	}
	if _, err := os.Stat(filepath.Join(data, "models", "LICENSE")); err != nil {
		t.Error("seed LICENSE not installed next to the models")
	}
	if _, err := reg.Model("nope"); !errors.Is(err, ErrModelMissing) {
		t.Errorf("unknown model: %v", err)
	}
	// the identity models carry the person-clustering options the cluster
	// package was tuned with
	for _, name := range []string{AgeGender, AgeGenderInt8} {
		mi, err := reg.Model(name)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := cluster.OptionsFromThresholds(mi.Thresholds), cluster.DefaultOptions(); got != want {
			t.Errorf("%s: options from the registry %+v, cluster defaults %+v", name, got, want)
		}
		if mi.Thresholds[cluster.ThresholdSeedCut] != DefaultDistanceThreshold {
			t.Errorf("%s: seed cut %v", name, mi.Thresholds[cluster.ThresholdSeedCut])
		}
	}
}

func TestInstallRefreshesStaleRegistry(t *testing.T) {
	data := installTemp(t)
	seed := shared.Dir(t, "seed")
	p := filepath.Join(data, "models", RegistryFile)
	fresh, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	// an installation from before the thresholds were tuned
	var doc registryDoc
	if err := json.Unmarshal(fresh, &doc); err != nil {
		t.Fatal(err)
	}
	for i := range doc.Models {
		if doc.Models[i].Name == AgeGender || doc.Models[i].Name == AgeGenderInt8 {
			doc.Models[i].Thresholds = map[string]float64{"male": 0.6, "distance": 0.74}
		}
	}
	stale, _ := json.MarshalIndent(doc, "", "  ")
	if err := os.WriteFile(p, stale, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Install(context.Background(), seed, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Converted) != 0 {
		t.Fatalf("refreshing the registry converted %v", res.Converted)
	}
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, fresh) {
		t.Fatalf("refreshed registry differs from a fresh install's:\n%s\nwant\n%s", got, fresh)
	}
	if _, err := OpenRegistry(data); err != nil {
		t.Fatal(err)
	}
	// an up-to-date registry is left alone
	st, _ := os.Stat(p)
	if _, err := Install(context.Background(), seed, data, nil); err != nil {
		t.Fatal(err)
	}
	if st2, _ := os.Stat(p); !st2.ModTime().Equal(st.ModTime()) {
		t.Error("an up-to-date registry was rewritten")
	}
}

func TestRegistryErrors(t *testing.T) {
	data := installTemp(t)
	p := filepath.Join(data, "models", "rnet.onnx")

	// Corrupt one byte: ErrModelCorrupt naming the file.
	b, _ := os.ReadFile(p)
	b[len(b)/2] ^= 1
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := OpenRegistry(data)
	var me *ModelError
	if !errors.Is(err, ErrModelCorrupt) || !errors.As(err, &me) || me.Path != p {
		t.Fatalf("corrupt file: %v", err)
	}
	st, err := List(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if (s.Name == RNet) != (s.Err != nil) {
			t.Errorf("list: %s err=%v", s.Name, s.Err)
		}
	}
	// Reinstall repairs it.
	res, err := Install(context.Background(), shared.Dir(t, "seed"), data, nil)
	if err != nil || len(res.Converted) == 0 {
		t.Fatalf("reinstall: %v %v", res.Converted, err)
	}
	if _, err := OpenRegistry(data); err != nil {
		t.Fatalf("after reinstall: %v", err)
	}

	// Missing file, then missing registry: ErrModelMissing.
	os.Remove(p)
	if _, err := OpenRegistry(data); !errors.Is(err, ErrModelMissing) {
		t.Fatalf("missing file: %v", err)
	}
	os.Remove(filepath.Join(data, "models", RegistryFile))
	if _, err := OpenRegistry(data); !errors.Is(err, ErrModelMissing) {
		t.Fatalf("missing registry: %v", err)
	}
	// Garbage registry: ErrModelCorrupt.
	os.WriteFile(filepath.Join(data, "models", RegistryFile), []byte("{"), 0o644)
	if _, err := OpenRegistry(data); !errors.Is(err, ErrModelCorrupt) {
		t.Fatalf("garbage registry: %v", err)
	}
}

func TestInstallRejectsWrongSeed(t *testing.T) {
	seed := t.TempDir()
	for _, f := range []string{SeedAgeGenderFile, SeedMTCNNFile, SeedLicenseFile} {
		os.WriteFile(filepath.Join(seed, f), []byte("not a model"), 0o644)
	}
	if _, err := Install(context.Background(), seed, t.TempDir(), nil); err == nil {
		t.Fatal("install accepted seed files with the wrong SHA-256")
	}
	if _, err := Install(context.Background(), t.TempDir(), t.TempDir(), nil); !errors.Is(err, ErrModelMissing) {
		t.Fatalf("empty seed folder: %v", err)
	}
}

// TestFindORTLibraryMissing: a library named explicitly (config or
// FACED_ORT_LIB) that is not there is an error naming it, even when the
// default library exists, so a typo never silently loads another library.
func TestFindORTLibraryMissing(t *testing.T) {
	real := filepath.Join(shared.VarDir(), "lib", ORTLibName)
	missing := filepath.Join(t.TempDir(), "configured.so")
	for _, tc := range []struct {
		name, configured, env, want string
	}{
		{"configured missing", missing, "", missing},
		{"env missing", "", missing, missing},
		{"configured missing, env set", missing, real, missing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("FACED_ORT_LIB", tc.env)
			_, err := FindORTLibrary(tc.configured)
			var me *MissingRuntimeError
			if !errors.As(err, &me) {
				t.Fatalf("expected MissingRuntimeError, got %v", err)
			}
			if len(me.Tried) != 1 || me.Tried[0] != tc.want {
				t.Errorf("tried %v, want [%s]", me.Tried, tc.want)
			}
		})
	}
}

// TestSessionConcurrentRun shares one session between goroutines and checks
// every result equals the serial one.
func TestSessionConcurrentRun(t *testing.T) {
	initORT(t)
	data := installTemp(t)
	reg, err := OpenRegistry(data)
	if err != nil {
		t.Fatal(err)
	}
	s, err := reg.NewSession(ONet, SessionOptions{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	in := pattern(48, 48, MTCNNScale)
	want, err := s.Run(in)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				got, err := s.Run(in)
				if err != nil {
					errs <- err
					return
				}
				for k := range want {
					for j := range want[k].Data {
						if got[k].Data[j] != want[k].Data[j] {
							errs <- errors.New("concurrent result differs")
							return
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Run(in); err == nil {
		t.Fatal("Run after Close succeeded")
	}
}
