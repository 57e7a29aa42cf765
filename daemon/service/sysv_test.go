package service

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	ks "github.com/kardianos/service"
)

// packagedSysV is the SysV script of the Debian package.
var packagedSysV = SysV{Executable: "/usr/bin/faced", ConfigPath: "/etc/faced/config.txt", User: "faced"}

// TestPackagedSysVScriptIsRendered: packaging/deb/faced.init is
// SysVScript rendered for the package (FACED_UPDATE_GOLDEN=1 rewrites it).
func TestPackagedSysVScriptIsRendered(t *testing.T) {
	want, err := SysVScript(packagedSysV)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join("..", "..", "packaging", "deb", "faced.init")
	if os.Getenv("FACED_UPDATE_GOLDEN") == "1" {
		os.WriteFile(p, []byte(want), 0o755)
	}
	got, err := os.ReadFile(p)
	if err != nil || string(got) != want {
		t.Fatalf("%s differs from SysVScript (%v): run FACED_UPDATE_GOLDEN=1 go test ./daemon/service", p, err)
	}
	if out, err := exec.Command("sh", "-n", p).CombinedOutput(); err != nil {
		t.Fatalf("sh -n %s: %v\n%s", p, err, out)
	}
	if !strings.Contains(want, `--chuid "$RUNAS"`) || !strings.Contains(want, "RUNAS=faced\n") {
		t.Error("the script does not start faced as the user faced")
	}
}

func TestSysVScriptRefusesRoot(t *testing.T) {
	for _, u := range []string{"", "root", "0"} {
		if _, err := SysVScript(SysV{Executable: "/usr/bin/faced", ConfigPath: "/etc/faced/config.txt", User: u}); err == nil {
			t.Errorf("SysVScript with user %q: no error", u)
		}
	}
}

// TestMain lets the test binary stand in for faced in the SysV test: run
// with FACED_SYSV_FAKE set, it records its user id and sleeps.
func TestMain(m *testing.M) {
	if out := os.Getenv("FACED_SYSV_FAKE"); out != "" && len(os.Args) > 1 && os.Args[1] == "run" {
		fmt.Println("uid", os.Getuid(), "args", strings.Join(os.Args[1:], " "))
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestSysVScriptStartsUnprivileged runs the rendered script (from a temp
// folder, a fake faced, the account "nobody"; nothing is installed): start
// runs faced as that user, status says Running then Stopped with LSB codes.
func TestSysVScriptStartsUnprivileged(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root: start-stop-daemon --chuid")
	}
	if _, err := exec.LookPath("start-stop-daemon"); err != nil {
		t.Skip("no start-stop-daemon")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody")
	}
	dir, err := os.MkdirTemp("", "sysv")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755) // nobody must reach the fake binary
	self, _ := os.Executable()
	fake := filepath.Join(dir, "faced")
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fake, b, 0o755); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("faced-test-%d", os.Getpid())
	script, err := SysVScript(SysV{Name: name, Executable: fake, ConfigPath: filepath.Join(dir, "config.txt"), User: "nobody",
		LogDir: filepath.Join(dir, "log")})
	if err != nil {
		t.Fatal(err)
	}
	sp := filepath.Join(dir, name)
	if err := os.WriteFile(sp, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(arg string) (string, int) {
		cmd := exec.Command(sp, arg)
		cmd.Env = append(os.Environ(), "FACED_SYSV_FAKE=1")
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out)), code
	}
	t.Cleanup(func() { run("stop") })
	if out, code := run("status"); out != "Stopped" || code != 3 {
		t.Errorf("status before start: %q exit %d, want Stopped 3", out, code)
	}
	if out, code := run("start"); code != 0 {
		t.Fatalf("start: exit %d\n%s", code, out)
	}
	if out, code := run("status"); out != "Running" || code != 0 {
		t.Errorf("status after start: %q exit %d, want Running 0", out, code)
	}
	pid, err := os.ReadFile("/run/" + name + ".pid")
	if err != nil {
		t.Fatal(err)
	}
	uid := procUID(t, strings.TrimSpace(string(pid)))
	if uid != nobody.Uid {
		t.Errorf("faced runs as uid %s, want nobody (%s)", uid, nobody.Uid)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "log", name+".log"))
	if !strings.Contains(string(log), "uid "+nobody.Uid+" args run --config "+filepath.Join(dir, "config.txt")) {
		t.Errorf("log %q: not the fake's line as nobody", log)
	}
	if out, code := run("stop"); code != 0 {
		t.Errorf("stop: exit %d\n%s", code, out)
	}
	if out, code := run("status"); out != "Stopped" || code != 3 {
		t.Errorf("status after stop: %q exit %d, want Stopped 3", out, code)
	}
	if _, err := os.Stat("/run/" + name + ".pid"); err == nil {
		t.Error("pid file left after stop")
	}
}

// procUID returns the real uid of process pid.
func procUID(t *testing.T, pid string) string {
	t.Helper()
	f, err := os.Open("/proc/" + pid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "Uid:"); ok {
			return strings.Fields(rest)[0]
		}
	}
	return ""
}

// TestRemoveRCLinks: the links to the script go, other services' stay.
func TestRemoveRCLinks(t *testing.T) {
	etc := t.TempDir()
	os.MkdirAll(filepath.Join(etc, "init.d"), 0o755)
	os.WriteFile(filepath.Join(etc, "init.d", "faced"), []byte("#!/bin/sh\n"), 0o755)
	var ours []string
	for i := 0; i <= 6; i++ {
		d := filepath.Join(etc, "rc"+strconv.Itoa(i)+".d")
		os.MkdirAll(d, 0o755)
		l := filepath.Join(d, "S50faced")
		if i == 0 || i == 1 || i == 6 {
			l = filepath.Join(d, "K02faced")
		}
		target := filepath.Join(etc, "init.d", "faced")
		if i == 3 {
			target = "../init.d/faced" // update-rc.d's relative form
		}
		os.Symlink(target, l)
		ours = append(ours, l)
		os.Symlink("../init.d/other", filepath.Join(d, "S01other"))
	}
	os.Symlink("../init.d/elsewhere", filepath.Join(etc, "rc2.d", "S20faced")) // same name, not ours
	removed, err := RemoveRCLinks(etc, "faced")
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 7 {
		t.Errorf("removed %d links, want 7: %v", len(removed), removed)
	}
	for _, l := range ours {
		if _, err := os.Lstat(l); err == nil {
			t.Errorf("%s left", l)
		}
	}
	left, _ := filepath.Glob(filepath.Join(etc, "rc?.d", "*"))
	if len(left) != 8 {
		t.Errorf("other links: %d left, want 8 (7 S01other + the foreign S20faced): %v", len(left), left)
	}
}

// TestPrepareSystem creates a system account (removed after) and gives it
// the data directory, files inside included; root is refused.
func TestPrepareSystem(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root: useradd")
	}
	if _, err := exec.LookPath("useradd"); err != nil {
		t.Skip("no useradd")
	}
	if _, err := PrepareSystem("root", t.TempDir()); err == nil {
		t.Error("PrepareSystem(root): no error")
	}
	name := fmt.Sprintf("fdt%d", os.Getpid()%100000)
	t.Cleanup(func() { exec.Command("userdel", name).Run() })
	data := filepath.Join(t.TempDir(), "data")
	os.MkdirAll(data, 0o755)
	os.WriteFile(filepath.Join(data, "faces.db"), nil, 0o600) // left by a run as root
	did, err := PrepareSystem(name, data)
	if err != nil {
		t.Fatal(err)
	}
	if len(did) != 2 {
		t.Errorf("did %q, want the account and the folder", did)
	}
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{data, filepath.Join(data, "faces.db")} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(fi.Sys().(*syscall.Stat_t).Uid); got != u.Uid {
			t.Errorf("%s owned by uid %s, want %s", p, got, u.Uid)
		}
	}
	if fi, _ := os.Stat(data); fi.Mode().Perm() != 0o750 {
		t.Errorf("data directory mode %v, want 0750", fi.Mode().Perm())
	}
	if did, err := PrepareSystem(name, data); err != nil || len(did) != 1 {
		t.Errorf("second run: %q %v, want only the folder line", did, err)
	}
}

// TestSysVInstallUninstallLeavesNothing installs through kardianos' SysV
// backend (root; a unique name, never started): the script is ours (runs
// as the given user), status says stopped, then not installed after
// uninstall, and neither the script nor any of the seven rc links stays.
func TestSysVInstallUninstallLeavesNothing(t *testing.T) {
	if os.Getuid() != 0 || runtime.GOOS != "linux" {
		t.Skip("needs root on Linux: writes /etc/init.d and /etc/rc?.d")
	}
	if _, err := os.Stat("/etc/init.d"); err != nil {
		t.Skip("no /etc/init.d")
	}
	var sysv ks.System
	for _, s := range ks.AvailableSystems() {
		if s.String() == "unix-systemv" {
			sysv = s
		}
	}
	if sysv == nil {
		t.Skip("kardianos has no SysV backend here")
	}
	prev := ks.AvailableSystems()
	ks.ChooseSystem(detected{sysv})
	t.Cleanup(func() { ks.ChooseSystem(prev...) })
	name := fmt.Sprintf("faced-test-%d", os.Getpid())
	t.Cleanup(func() {
		os.Remove("/etc/init.d/" + name)
		RemoveRCLinks("/etc", name)
	})
	before, _ := filepath.Glob("/etc/rc?.d/*")
	s, err := New(Options{Name: name, Executable: "/usr/bin/true", ConfigPath: "/etc/faced-test/config.txt", User: "nobody"},
		NewProgram(func(ctx context.Context) error { return nil }, 0))
	if err != nil {
		t.Fatal(err)
	}
	if !IsSysV(s) {
		t.Fatalf("platform %s is not SysV", s.Platform())
	}
	if msg, err := Control(s, "status"); err != nil || msg != "not installed" {
		t.Errorf("status before install: %q %v", msg, err)
	}
	if _, err := Control(s, "install"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/etc/init.d/" + name)
	if err != nil || !strings.Contains(string(b), `--chuid "$RUNAS"`) || !strings.Contains(string(b), "RUNAS=nobody\n") {
		t.Fatalf("installed script is not faced's unprivileged one (%v)", err)
	}
	links, _ := filepath.Glob("/etc/rc?.d/[SK][0-9][0-9]" + name)
	if len(links) != 7 {
		t.Errorf("install made %d rc links, want 7", len(links))
	}
	if msg, err := Control(s, "status"); err != nil || msg != "stopped" {
		t.Errorf("status after install: %q %v, want stopped", msg, err)
	}
	msg, err := Control(s, "uninstall")
	if err != nil || !strings.Contains(msg, "7 rc links removed") {
		t.Errorf("uninstall: %q %v", msg, err)
	}
	if _, err := os.Stat("/etc/init.d/" + name); !os.IsNotExist(err) {
		t.Errorf("script left: %v", err)
	}
	after, _ := filepath.Glob("/etc/rc?.d/*")
	if strings.Join(before, "\n") != strings.Join(after, "\n") {
		t.Errorf("rc links before and after differ:\n%v\n%v", before, after)
	}
	if msg, err := Control(s, "status"); err != nil || msg != "not installed" {
		t.Errorf("status after uninstall: %q %v", msg, err)
	}
}
