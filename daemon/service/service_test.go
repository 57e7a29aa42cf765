package service

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	ks "github.com/kardianos/service"
)

// detected wraps kardianos' systemd backend so it is chosen on a machine
// that is not systemd-managed; Interactive keeps logs on the console.
type detected struct{ ks.System }

func (detected) Detect() bool      { return true }
func (detected) Interactive() bool { return true }

// fakeSystemd makes kardianos install into a temp HOME as a user service,
// with a fake systemctl first on PATH that logs its arguments. Nothing
// reaches the real service manager.
func fakeSystemd(t *testing.T) (home, log string) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("systemd unit test runs on Linux")
	}
	var sd ks.System
	for _, s := range ks.AvailableSystems() {
		if s.String() == "linux-systemd" {
			sd = s
		}
	}
	if sd == nil {
		t.Fatal("kardianos has no linux-systemd backend")
	}
	prev := ks.AvailableSystems()
	ks.ChooseSystem(detected{sd})
	t.Cleanup(func() { ks.ChooseSystem(prev...) })

	home = t.TempDir()
	bin := t.TempDir()
	log = filepath.Join(bin, "systemctl.log")
	script := "#!/bin/sh\necho \"$@\" >> '" + log + "'\n" +
		"case \"$1\" in --version) echo 'systemd 252 (252.1)';; is-active) echo inactive; exit 3;; " +
		"list-unit-files) echo 'faced-test.service enabled';; esac\nexit 0\n"
	if err := os.WriteFile(filepath.Join(bin, "systemctl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	return home, log
}

func TestInstallWritesHardenedUnit(t *testing.T) {
	home, log := fakeSystemd(t)
	photos, data := "/srv/my photos", filepath.Join(home, "data")
	o := Options{Name: "faced-test", Executable: "/opt/faced/bin/faced", ConfigPath: "/etc/faced/config.txt",
		ReadWritePaths: []string{photos, data}, UserService: true, User: "ignored-for-user-services"}
	s, err := New(o, NewProgram(func(ctx context.Context) error { <-ctx.Done(); return nil }, 0))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ks.ChosenSystem().(detected); !ok {
		t.Fatalf("chosen system %v is not the fake: refusing to install", ks.ChosenSystem())
	}
	if _, err := Control(s, "install"); err != nil {
		t.Fatal(err)
	}
	unitPath := filepath.Join(home, ".config/systemd/user/faced-test.service")
	b, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatalf("unit not written: %v", err)
	}
	unit := string(b)
	for _, want := range []string{
		`ExecStart=/opt/faced/bin/faced "run" "--config" "/etc/faced/config.txt"` + "\n",
		"WorkingDirectory=/etc/faced\n",
		"ProtectSystem=strict\n",
		"NoNewPrivileges=yes\n",
		"PrivateTmp=yes\n",
		"ProtectHome=read-only\n",
		`ReadWritePaths="/srv/my photos"` + "\n",
		`ReadWritePaths="` + data + `"` + "\n",
		"Restart=on-failure\n",
		"WantedBy=default.target\n",
		// The review page listens on 127.0.0.1: loopback only.
		"RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6\n",
		"IPAddressDeny=any\nIPAddressAllow=localhost\n",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q:\n%s", want, unit)
		}
	}
	if strings.Contains(unit, "User=") {
		t.Errorf("a user service must not set User=:\n%s", unit)
	}
	calls, _ := os.ReadFile(log)
	for _, want := range []string{"enable --user faced-test.service", "daemon-reload --user"} {
		if !strings.Contains(string(calls), want) {
			t.Errorf("systemctl was not called with %q; calls:\n%s", want, calls)
		}
	}
	if msg, err := Control(s, "status"); err != nil || msg != "stopped" {
		t.Errorf("status = %q, %v", msg, err)
	}
	if _, err := Control(s, "install"); err == nil {
		t.Error("a second install succeeded")
	}
	if _, err := Control(s, "uninstall"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(unitPath); !os.IsNotExist(err) {
		t.Errorf("unit still there after uninstall: %v", err)
	}
}

func TestSystemUnitRunsAsUser(t *testing.T) {
	c, err := Config(Options{Executable: "/usr/bin/faced", ConfigPath: "/etc/faced/config.txt", User: "faced",
		ReadWritePaths: []string{"/srv/photos", "/var/lib/faced"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.UserName != "faced" || c.Name != "faced" {
		t.Errorf("config = %+v", c)
	}
	unit := SystemdUnit(false, []string{"/srv/photos"})
	if !strings.Contains(unit, "{{if UserName}}User={{UserName}}") || !strings.Contains(unit, "WantedBy=multi-user.target") {
		t.Errorf("system unit template:\n%s", unit)
	}
}

func TestProgramStopsWithinTimeout(t *testing.T) {
	stopped := make(chan struct{})
	p := NewProgram(func(ctx context.Context) error { <-ctx.Done(); close(stopped); return nil }, time.Second)
	if err := p.Start(nil); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(nil); err != nil {
		t.Fatal(err)
	}
	<-stopped
	stuck := NewProgram(func(ctx context.Context) error { select {} }, 50*time.Millisecond)
	stuck.Start(nil)
	if err := stuck.Stop(nil); err == nil {
		t.Error("Stop of a program that never returns reported success")
	}
}
