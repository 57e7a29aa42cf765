package wire

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/faced/faced/config"
	"github.com/faced/faced/internal/shared"
)

// openApp opens the daemon of a config made of extra over a temporary
// library and data directory using the installed models.
func openApp(t *testing.T, extra string) (*App, error) {
	t.Helper()
	models := filepath.Join(shared.DataDir(t), "models")
	t.Setenv("FACED_ORT_LIB", filepath.Join(shared.VarDir(), "lib", "libonnxruntime.so.1.24.1"))
	dir := t.TempDir()
	photos, data := filepath.Join(dir, "photos"), filepath.Join(dir, "data")
	os.MkdirAll(photos, 0o755)
	os.MkdirAll(data, 0o700)
	if err := os.Symlink(models, filepath.Join(data, "models")); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(filepath.Join(dir, "config.txt"), []byte(fmt.Sprintf("[DEFAULT]\nInputDirectory = %s\nDataDirectory = %s\n%s", photos, data, extra)))
	if err != nil {
		t.Fatal(err)
	}
	app, err := Open(context.Background(), cfg, AppOptions{Once: true})
	if err == nil {
		t.Cleanup(func() { app.Close() })
	}
	return app, err
}

// TestOpenVideoSampling: VideoFramesPerSecond = 0 is documented as the
// seed's adaptive sampling; the daemon used to turn it into 2 fps.
func TestOpenVideoSampling(t *testing.T) {
	for _, tc := range []struct {
		extra string
		seed  bool
		fps   float64
	}{
		{"VideoFramesPerSecond = 0\n", true, 0},
		{"VideoFramesPerSecond = 3\n", false, 3},
	} {
		app, err := openApp(t, tc.extra)
		if err != nil {
			t.Fatal(err)
		}
		o := app.AnalyzerOptions
		if o.SeedVideoSampling != tc.seed || (!tc.seed && o.VideoFPS != tc.fps) {
			t.Errorf("%q: SeedVideoSampling %v, VideoFPS %v; want seed sampling %v", tc.extra, o.SeedVideoSampling, o.VideoFPS, tc.seed)
		}
	}
}
