//go:build !lite

package main

import (
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
