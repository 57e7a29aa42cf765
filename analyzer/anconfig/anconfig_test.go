package anconfig

import (
	"testing"

	"github.com/faced/faced/config"
)

func TestAnalyzerOptions(t *testing.T) {
	base := "[DEFAULT]\nInputDirectory = /photos\nDataDirectory = /var/lib/faced\n"
	two := 2
	for _, tc := range []struct {
		name  string
		extra string // nil config when "-"
		o     Overrides
		check func(t *testing.T, minSize int, variant string, seed bool, fps float64, frames, threads int)
	}{
		{"no config", "-", Overrides{}, func(t *testing.T, minSize int, variant string, seed bool, fps float64, frames, threads int) {
			if minSize != 32 || variant != "int8" || seed || fps != 2 || frames != 10 || threads != 1 {
				t.Errorf("defaults: %d %s %v %v %d %d", minSize, variant, seed, fps, frames, threads)
			}
		}},
		{"fps 0 is the seed's sampling", "VideoFramesPerSecond = 0\n", Overrides{}, func(t *testing.T, _ int, _ string, seed bool, _ float64, _, _ int) {
			if !seed {
				t.Error("VideoFramesPerSecond = 0 did not select the seed's sampling")
			}
		}},
		{"flags over config", "MinFaceSize = 40\nModelVariant = float32\n", Overrides{MinSize: 20, Threads: &two}, func(t *testing.T, minSize int, variant string, _ bool, _ float64, _, threads int) {
			if minSize != 20 || variant != "float32" || threads != 2 {
				t.Errorf("%d %s %d", minSize, variant, threads)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cfg *config.Config
			if tc.extra != "-" {
				var err error
				if cfg, err = config.Parse("c.txt", []byte(base+tc.extra)); err != nil {
					t.Fatal(err)
				}
			}
			o, err := AnalyzerOptions(cfg, nil, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, o.MinSize, o.Variant, o.SeedVideoSampling, o.VideoFPS, o.MinNoFrames, o.Threads)
		})
	}
}
