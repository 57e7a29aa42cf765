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
	"os/exec"
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
		if o.User != "" {
			// Used where kardianos picks SysV: start-stop-daemon --chuid.
			script, err := SysVScript(SysV{Name: o.Name, Executable: o.Executable, ConfigPath: o.ConfigPath, User: o.User})
			if err != nil {
				return nil, err
			}
			c.Option["SysvScript"] = script
		}
	}
	return c, nil
}

// IsSysV reports whether s is kardianos' SysV init backend, which cannot
// apply the systemd unit's sandbox.
func IsSysV(s ks.Service) bool { return strings.HasSuffix(s.Platform(), "-systemv") }

// SystemdUnit returns the kardianos template of faced's hardened systemd
// unit: an unprivileged user (system services), a read-only system
// (ProtectSystem=strict) where only rw — the photo folder and the data
// directory — is writable, no new privileges, private /tmp and devices,
// and network sockets only on loopback (the local API is a unix socket;
// the review page listens on 127.0.0.1).
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
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
IPAddressDeny=any
IPAddressAllow=localhost
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
	return &named{Service: s, name: c.Name}, nil
}

// named keeps the service name next to the kardianos service (which does
// not tell it), for the SysV script path and its rc links.
type named struct {
	ks.Service
	name string
}

// Actions are the service-manager actions `faced` accepts.
var Actions = []string{"install", "uninstall", "start", "stop", "status"}

// Control performs action (one of Actions) on s and returns a line for the
// user. status says "running", "stopped" or "not installed" (systemd and
// SysV alike); uninstall stops the service first and, on SysV, also removes
// the rc links kardianos leaves behind.
func Control(s ks.Service, action string) (string, error) {
	switch action {
	case "status":
		if IsSysV(s) {
			return sysvStatus("/etc", serviceName(s))
		}
		st, err := s.Status()
		if err != nil {
			if errors.Is(err, ks.ErrNotInstalled) {
				return "not installed", nil
			}
			if strings.Contains(err.Error(), "failed state") {
				return "stopped (failed: see journalctl -u " + serviceName(s) + ")", nil
			}
			return "", fmt.Errorf("service status (%s): %w", s.Platform(), err)
		}
		switch st {
		case ks.StatusRunning:
			return "running", nil
		case ks.StatusStopped:
			return "stopped", nil
		}
		return "unknown", nil
	case "uninstall":
		s.Stop() // not running is fine
		if err := ks.Control(s, action); err != nil {
			return "", fmt.Errorf("service %s (%s): %w", action, s.Platform(), err)
		}
		msg := fmt.Sprintf("%s: done (%s)", action, s.Platform())
		if IsSysV(s) {
			removed, err := RemoveRCLinks("/etc", serviceName(s))
			if err != nil {
				return "", fmt.Errorf("service uninstall: rc links: %w", err)
			}
			msg += fmt.Sprintf(", %d rc links removed", len(removed))
		}
		return msg, nil
	}
	if err := ks.Control(s, action); err != nil {
		return "", fmt.Errorf("service %s (%s): %w", action, s.Platform(), err)
	}
	return fmt.Sprintf("%s: done (%s)", action, s.Platform()), nil
}

// serviceName is the name s was configured with.
func serviceName(s ks.Service) string {
	if n, ok := s.(*named); ok {
		return n.name
	}
	return "faced"
}

// sysvStatus asks etc/init.d/NAME status: exit 0 running, 3 stopped (LSB);
// no script: not installed.
func sysvStatus(etc, name string) (string, error) {
	script := filepath.Join(etc, "init.d", name)
	if _, err := os.Stat(script); errors.Is(err, os.ErrNotExist) {
		return "not installed", nil
	}
	err := exec.Command(script, "status").Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return "running", nil
	case errors.As(err, &ee) && ee.ExitCode() >= 1 && ee.ExitCode() <= 3:
		return "stopped", nil // LSB: 1, 2 dead with a pid or lock file left, 3 not running
	case errors.As(err, &ee):
		return fmt.Sprintf("unknown (%s status: exit %d)", script, ee.ExitCode()), nil
	}
	return "", fmt.Errorf("service status: %s: %w", script, err)
}
