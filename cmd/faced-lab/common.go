package main

import (
	"path/filepath"

	"github.com/faced/faced/agegender"
	"github.com/faced/faced/heads"
	"github.com/faced/faced/heads/hook"
	"github.com/faced/faced/internal/cli"
	"github.com/faced/faced/models"
	"github.com/spf13/cobra"
)

// evalParent returns `faced-lab eval`, creating it if no other file has yet.
func evalParent() *cobra.Command {
	return cli.Parent(rootCmd, "eval", "Evaluate faced on labelled data")
}

// modelsParent returns `faced-lab models`, creating it if no other file has.
func modelsParent() *cobra.Command {
	return cli.Parent(rootCmd, "models", "Model training tools")
}

// openRegistry finds the ONNX Runtime library (ortLib; "" = $FACED_ORT_LIB
// or var/lib), initialises the runtime with it and opens the model registry
// in dataDir: the common start of every command that runs the networks.
func openRegistry(ortLib, dataDir string) (*models.Registry, error) {
	lib, err := models.FindORTLibrary(ortLib)
	if err != nil {
		return nil, err
	}
	if err := models.InitRuntime(lib); err != nil {
		return nil, err
	}
	return models.OpenRegistry(dataDir)
}

// ageGenderModel returns the registry entry of the age/gender model variant
// ("" = agegender.DefaultVariant); an unknown variant is a usage error
// (exit 2).
func ageGenderModel(reg *models.Registry, variant string) (models.ModelInfo, error) {
	mname, err := agegender.ModelName(variant)
	if err != nil {
		return models.ModelInfo{}, cli.Exit(cli.ExitUsage, err)
	}
	return reg.Model(mname)
}

// loadTrainedHeads returns the registry entry of the age/gender model
// variant and the trained heads called names, refusing heads trained on
// another model file; "" and "seed" (the network's own heads) are skipped.
func loadTrainedHeads(reg *models.Registry, variant string, names []string) (models.ModelInfo, []*heads.Heads, error) {
	mi, err := ageGenderModel(reg, variant)
	if err != nil {
		return mi, nil, err
	}
	var hs []*heads.Heads
	for _, n := range names {
		_, h, err := hook.Load(reg.Dir(), n, mi.SHA256)
		if err != nil {
			return mi, nil, err
		}
		if h != nil {
			hs = append(hs, h)
		}
	}
	return mi, hs, nil
}

// headsFeatureCache is the cache of the age/gender network's outputs that
// "models train-heads" and "eval heads" share: under cacheDir (default
// dataDir/cache/heads-features), one folder per model file and variant
// (SHA-256 prefix "-" variant), filled by net in batches of batch.
func headsFeatureCache(cacheDir, dataDir string, mi models.ModelInfo, net *agegender.Net, batch int) *heads.CachedExtractor {
	if cacheDir == "" {
		cacheDir = filepath.Join(dataDir, "cache", "heads-features")
	}
	return &heads.CachedExtractor{Dir: filepath.Join(cacheDir, mi.SHA256[:16]+"-"+net.Variant()),
		Inner: hook.Extractor{Net: net, Batch: batch}}
}
