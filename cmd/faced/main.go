// Command faced is the face-analysis daemon: it watches InputDirectory,
// analyses new photos and videos, keeps the face index, clusters persons and
// writes XMP sidecars. `faced run` runs it in the foreground;
// install|uninstall|start|stop|status manage it as an OS service.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/faced/faced/config"
	"github.com/faced/faced/daemon"
	"github.com/faced/faced/daemon/service"
	"github.com/faced/faced/daemon/wire"
	"github.com/faced/faced/internal/cli"
	"github.com/faced/faced/models"
)

// defaultMemoryLimit is the Go runtime's soft memory limit unless
// GOMEMLIMIT is set.
const defaultMemoryLimit = 128 << 20

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	if err := newRoot().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "faced:", err)
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "faced",
		Short:         "faced finds faces in a photo folder and writes them into XMP sidecars",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	var configPath string
	root.PersistentFlags().StringVar(&configPath, "config", cli.DefaultConfigPath(), cli.ConfigFlagHelp)
	root.AddCommand(newRunCmd(&configPath))
	for _, a := range service.Actions {
		root.AddCommand(newServiceCmd(a, &configPath))
	}
	return root
}

func newRunCmd(configPath *string) *cobra.Command {
	var once bool
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the daemon in the foreground (SIGINT/SIGTERM stop it within 10 s)",
		Long: `Run the daemon in the foreground: reconcile InputDirectory with the index,
analyse what is new or changed, cluster persons, write sidecars, then watch
for changes and serve the local API (facedctl status) until SIGINT or SIGTERM.

With --once: reconcile, process everything queued, cluster, export, print a
summary and exit 0.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd.Context(), *configPath, once, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().BoolVar(&once, "once", false, "process what is there once, print a summary and exit")
	return cmd
}

func run(ctx context.Context, configPath string, once bool, stdout, stderr io.Writer) error {
	cfg, err := config.Load(configPath)
	if err != nil {
		return err
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// A soft limit keeps the Go heap (cluster engine, index reads) from
		// doubling between collections; the native side (ONNX Runtime,
		// OpenCV, SQLite) is not counted by it.
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel()}))
	slog.SetDefault(log)
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if p := os.Getenv("FACED_CPUPROFILE"); p != "" {
		stopProfile, err := startCPUProfile(p)
		if err != nil {
			return err
		}
		defer stopProfile()
	}
	begin := time.Now()
	// First start in a new DataDirectory: install the models (or verify them).
	if _, err := models.Ensure(ctx, cfg.DataDirectory(), modelSources(cfg), log); err != nil {
		return err
	}
	app, err := openWaitingForSpace(ctx, cfg, wire.AppOptions{Version: version, Logger: log, Once: once}, log)
	if err != nil || app == nil {
		return err // app == nil: stopped while the data disk was full
	}
	defer app.Close()
	if once {
		startup := time.Since(begin)
		sum, err := app.Daemon.RunOnce(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "faced %s: started in %s\n", version, startup.Round(time.Millisecond))
		printSummary(stdout, app, sum)
		return nil
	}
	prog := service.NewProgram(func(ctx context.Context) error {
		if _, err := app.Daemon.ServeAPI(ctx, app.Socket); err != nil {
			return cfg.KeyError("Socket", err)
		}
		app.ServeReview(ctx, log)
		return app.Daemon.Run(ctx)
	}, 10*time.Second)
	log.Info("faced starting", "version", version, "config", cfg.File(), "input", cfg.InputDirectory(),
		"data", cfg.DataDirectory(), "workers", cfg.WorkerCount())
	if err := prog.Start(nil); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return prog.Stop(nil)
	case err := <-prog.Done():
		return err
	}
}

// modelSources are where a first start looks for models: the config's
// SeedDirectory, then the places of models.DefaultSources next to this binary.
func modelSources(cfg *config.Config) []string {
	var src []string
	if d := cfg.SeedDirectory(); d != "" {
		src = append(src, d)
	}
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		src = append(src, models.DefaultSources(exe)...)
	}
	return src
}

// startCPUProfile writes a CPU profile of the whole run to path
// (FACED_CPUPROFILE, for measurements); the returned func ends it.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("FACED_CPUPROFILE: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("FACED_CPUPROFILE %s: %w", path, err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

func printSummary(w io.Writer, app *wire.App, s daemon.Summary) {
	fmt.Fprintf(w, "faced %s: %s in %s\n", version, app.Config.InputDirectory(), s.Duration.Round(time.Millisecond))
	fmt.Fprintf(w, "  files seen %d, queued %d, analysed %d, failed %d, renamed %d, removed %d\n",
		s.Seen, s.Queued, s.Analysed, s.Failed, s.Renamed, s.Removed)
	fmt.Fprintf(w, "  sidecars written %d, not written %d\n", s.Exported, s.ExportFailed)
	fmt.Fprintf(w, "  index: %d faces, %d persons\n", s.Faces, s.Persons)
	if s.Analysed > 0 && s.Duration > 0 {
		fmt.Fprintf(w, "  %.2f files/s\n", float64(s.Analysed+s.Failed)/s.Duration.Seconds())
	}
	if s.Workers > 0 && s.Duration > 0 && s.Analysed+s.Failed > 0 {
		fmt.Fprintf(w, "  workers idle %.1f%% of %d x %s (scan, queue, waiting for the index writer, after the last file)\n",
			100*s.WorkerIdle.Seconds()/(float64(s.Workers)*s.Duration.Seconds()), s.Workers, s.Duration.Round(time.Millisecond))
	}
	for _, e := range s.Errors {
		fmt.Fprintf(w, "  error: %q: %s\n", e.Path, e.Reason)
	}
}

// serviceShort is the help line of each service action.
var serviceShort = map[string]string{
	"install":   "Install faced as a system service (systemd, else SysV) running as the unprivileged user faced; prepares the user and DataDirectory",
	"uninstall": "Stop and remove the service and every file the install wrote (unit or init script and its rc links)",
	"start":     "Start the installed service",
	"stop":      "Stop the installed service",
	"status":    "Say whether the service is running, stopped or not installed",
}

func newServiceCmd(action string, configPath *string) *cobra.Command {
	var user string
	var userService bool
	cmd := &cobra.Command{
		Use:   action,
		Short: serviceShort[action],
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			abs, err := filepath.Abs(*configPath)
			if err != nil {
				return err
			}
			o := service.Options{ConfigPath: abs, User: user, UserService: userService}
			if action == "install" {
				cfg, err := config.Load(abs)
				if err != nil {
					return err
				}
				o.ReadWritePaths = []string{cfg.InputDirectory(), cfg.DataDirectory()}
				if !userService {
					// A system service never runs as root: the account and
					// DataDirectory are made ready for it.
					did, err := service.PrepareSystem(user, cfg.DataDirectory())
					for _, l := range did {
						fmt.Fprintln(cmd.OutOrStdout(), l)
					}
					if err != nil {
						return err
					}
				}
			}
			s, err := service.New(o, service.NewProgram(func(ctx context.Context) error {
				return errors.New("not run through the service manager")
			}, 0))
			if err != nil {
				return err
			}
			if action == "install" && !userService && service.IsSysV(s) {
				fmt.Fprintf(cmd.ErrOrStderr(), service.HardeningWarning+"\n", user)
			}
			msg, err := service.Control(s, action)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), msg)
			return nil
		},
	}
	if action == "install" {
		cmd.Flags().StringVar(&user, "user", "faced", "unprivileged account the system service runs as, created when missing (never root)")
	}
	cmd.Flags().BoolVar(&userService, "user-service", false, "a per-user service (systemd --user, launchd agent)")
	return cmd
}
