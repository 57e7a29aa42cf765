//go:build !lite

package main

import (
	"github.com/faced/faced/agegender"
	"github.com/faced/faced/heads"
	"github.com/faced/faced/heads/hook"
	"github.com/faced/faced/models"
)

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
		return models.ModelInfo{}, &exitError{2, err}
	}
	return reg.Model(mname)
}

// loadTrainedHeads loads the trained heads called names from the registry,
// refusing heads trained on another model file than modelSHA256; "" and
// "seed" (the network's own heads) are skipped.
func loadTrainedHeads(reg *models.Registry, modelSHA256 string, names []string) ([]*heads.Heads, error) {
	var hs []*heads.Heads
	for _, n := range names {
		_, h, err := hook.Load(reg.Dir(), n, modelSHA256)
		if err != nil {
			return nil, err
		}
		if h != nil {
			hs = append(hs, h)
		}
	}
	return hs, nil
}
