// Package service adapts faced to the OS service managers (systemd,
// launchd, Windows services) through github.com/kardianos/service: the
// hardened systemd unit, the Program whose Start only launches and whose
// Stop cancels and waits, and the install|uninstall|start|stop|status
// actions of `faced`.
package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	ks "github.com/kardianos/service"
)

// Options describe the service to install or control.
type Options struct {
	// Name is the service name; default "faced".
	Name string
	// Executable is the faced binary; default os.Executable().
	Executable string
	// ConfigPath is the config.txt the service runs with (made absolute).
	ConfigPath string
	// User is the unprivileged account a system service runs as (systemd
	// User=, launchd UserName); empty runs it as the service manager's
	// default. Ignored for user services.
	User string
	// ReadWritePaths are the only paths the service may write: the photo
	// folder (sidecars) and the data directory.
	ReadWritePaths []string
	// UserService installs a per-user service (systemd --user, a launchd
	// agent) instead of a system one.
	UserService bool
	// StopTimeout bounds Stop; default 10 s.
	StopTimeout time.Duration
}

func (o *Options) defaults() error {
	if o.Name == "" {
		o.Name = "faced"
	}
	if o.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("service: locate the faced binary: %w", err)
		}
		o.Executable = exe
	}
	if o.ConfigPath == "" {
		return errors.New("service: ConfigPath is empty")
	}
	abs, err := filepath.Abs(o.ConfigPath)
	if err != nil {
		return err
	}
	o.ConfigPath = abs
	if o.StopTimeout <= 0 {
		o.StopTimeout = 10 * time.Second
	}
	return nil
}

// Config returns the kardianos configuration of the service o describes.
func Config(o Options) (*ks.Config, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	c := &ks.Config{
		Name:             o.Name,
		DisplayName:      "faced face-analysis daemon",
		Description:      "faced: finds faces in the photo folder and writes XMP sidecars",
		Executable:       o.Executable,
		Arguments:        []string{"run", "--config", o.ConfigPath},
		WorkingDirectory: filepath.Dir(o.ConfigPath),
		Option: ks.KeyValue{
			"UserService":   o.UserService,
			"SystemdScript": SystemdUnit(o.UserService, o.ReadWritePaths),
			"Restart":       "on-failure",
			"KeepAlive":     true,
			"RunAtLoad":     true,
		},
	}
	if !o.UserService {
		c.UserName = o.User
	}
	return c, nil
}

// SystemdUnit returns the kardianos template of faced's hardened systemd
// unit: an unprivileged user (system services), a read-only system
// (ProtectSystem=strict) where only rw — the photo folder and the data
// directory — is writable, no new privileges, private /tmp and devices.
// packaging/systemd/faced.service is the same unit, rendered.
func SystemdUnit(userService bool, rw []string) string {
	var b strings.Builder
	b.WriteString(`[Unit]
Description={{Description}}
Documentation=https://github.com/faced/faced
ConditionFileIsExecutable={{Path | cmdEscape}}
After=local-fs.target

[Service]
Type=simple
ExecStart={{Path | cmdEscape}}{{range Arguments}} {{. | cmd}}{{end}}
{{if WorkingDirectory}}WorkingDirectory={{WorkingDirectory | cmdEscape}}
{{end}}{{if UserName}}User={{UserName}}
{{end}}Restart={{Restart}}
RestartSec=10
TimeoutStopSec=15
KillSignal=SIGTERM
UMask=0077
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=read-only
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictSUIDSGID=yes
RestrictRealtime=yes
RestrictNamespaces=yes
LockPersonality=yes
RestrictAddressFamilies=AF_UNIX
CapabilityBoundingSet=
SystemCallArchitectures=native
`)
	for _, p := range rw {
		if p == "" {
			continue
		}
		// The mini template engine would read "{{" in a path as an action.
		p = strings.ReplaceAll(p, "{{", "{ {")
		fmt.Fprintf(&b, "ReadWritePaths=%s\n", systemdQuote(p))
	}
	b.WriteString("\n[Install]\n")
	if userService {
		b.WriteString("WantedBy=default.target\n")
	} else {
		b.WriteString("WantedBy=multi-user.target\n")
	}
	return b.String()
}

// systemdQuote quotes a path for a systemd unit (spaces, quotes, %).
func systemdQuote(p string) string {
	p = strings.ReplaceAll(p, `\`, `\\`)
	p = strings.ReplaceAll(p, `"`, `\"`)
	p = strings.ReplaceAll(p, "%", "%%")
	return `"` + p + `"`
}

// Program adapts a run function to kardianos: Start launches it and
// returns at once; Stop cancels its context and waits up to StopTimeout.
type Program struct {
	run     func(ctx context.Context) error
	timeout time.Duration
	cancel  context.CancelFunc
	done    chan error
}

// NewProgram returns a Program running run.
func NewProgram(run func(ctx context.Context) error, stopTimeout time.Duration) *Program {
	if stopTimeout <= 0 {
		stopTimeout = 10 * time.Second
	}
	return &Program{run: run, timeout: stopTimeout}
}

// Start implements kardianos' Interface.
func (p *Program) Start(ks.Service) error {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan error, 1)
	go func() { p.done <- p.run(ctx) }()
	return nil
}

// Stop implements kardianos' Interface.
func (p *Program) Stop(ks.Service) error {
	if p.cancel == nil {
		return nil
	}
	p.cancel()
	select {
	case err := <-p.done:
		return err
	case <-time.After(p.timeout):
		return fmt.Errorf("faced did not stop within %v", p.timeout)
	}
}

// Done yields run's result once it returned (before Stop, that is a crash
// or a fatal error).
func (p *Program) Done() <-chan error { return p.done }

// New returns the kardianos service for o running prog.
func New(o Options, prog *Program) (ks.Service, error) {
	c, err := Config(o)
	if err != nil {
		return nil, err
	}
	s, err := ks.New(prog, c)
	if err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	return s, nil
}

// Actions are the service-manager actions `faced` accepts.
var Actions = []string{"install", "uninstall", "start", "stop", "status"}

// Control performs action (one of Actions) on s and returns a line for the
// user.
func Control(s ks.Service, action string) (string, error) {
	if action == "status" {
		st, err := s.Status()
		if err != nil {
			if errors.Is(err, ks.ErrNotInstalled) {
				return "not installed", nil
			}
			return "", fmt.Errorf("service status (%s; not installed?): %w", s.Platform(), err)
		}
		switch st {
		case ks.StatusRunning:
			return "running", nil
		case ks.StatusStopped:
			return "stopped", nil
		}
		return "unknown", nil
	}
	if err := ks.Control(s, action); err != nil {
		return "", fmt.Errorf("service %s (%s): %w", action, s.Platform(), err)
	}
	return fmt.Sprintf("%s: done (%s)", action, s.Platform()), nil
}
