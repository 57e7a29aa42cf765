// Package anconfig maps faced's configuration to analyzer options. It is the
// one place that mapping lives: the daemon and every facedctl command that
// analyses files take their options from AnalyzerOptions, so a config key
// cannot mean one thing to the daemon and another to facedctl.
package anconfig

import (
	"fmt"

	"github.com/faced/faced/analyzer"
	"github.com/faced/faced/config"
	"github.com/faced/faced/heads/hook"
	"github.com/faced/faced/models"
)

// Overrides are command-line settings that replace the configuration's;
// zero values keep it.
type Overrides struct {
	MinSize int
	Variant string
	Exact   bool
	// Threads replaces the ONNX Runtime intra-op threads when non-nil
	// (0 = ORT's default, one per core).
	Threads *int
}

// AnalyzerOptions returns the analyzer options cfg describes (nil cfg: no
// configuration file, every key at its default), with o applied, and the
// configured age/gender heads opened from reg (which may be nil when
// the heads are the seed's).
func AnalyzerOptions(cfg *config.Config, reg *models.Registry, o Overrides) (analyzer.Options, error) {
	if cfg == nil {
		var err error
		// The defaults of every key, from the parser itself.
		if cfg, err = config.Parse("defaults", []byte("[DEFAULT]\nInputDirectory = /photos\nDataDirectory = /var/lib/faced\n")); err != nil {
			return analyzer.Options{}, err
		}
	}
	fps := cfg.VideoFramesPerSecond()
	opt := analyzer.Options{
		MinSize: cfg.MinFaceSize(),
		Variant: string(cfg.ModelVariant()),
		// One ONNX Runtime thread per network run: parallelism comes from
		// the workers (see analyzer.Options.Threads).
		Threads:  1,
		VideoFPS: fps,
		// 0 is documented as the seed's adaptive sampling.
		SeedVideoSampling: fps == 0,
		MinNoFrames:       cfg.MinNoFrames(),
	}
	if o.MinSize > 0 {
		opt.MinSize = o.MinSize
	}
	if o.Variant != "" {
		opt.Variant = o.Variant
	}
	opt.Exact = o.Exact
	if o.Threads != nil {
		opt.Threads = *o.Threads
	}
	hk, err := hook.Open(reg, opt.Variant, cfg.Heads())
	if err != nil {
		return analyzer.Options{}, fmt.Errorf("heads %q: %w", cfg.Heads(), err)
	}
	opt.Heads = hk
	return opt, nil
}
