package service

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// PrepareSystem readies what a system service needs before it is
// installed: the unprivileged account name (created as a system user with
// its own group, no login shell, when missing) and DataDirectory, owned by
// it and shared with its group (0750: members may use facedctl). It
// returns a line per change.
func PrepareSystem(name, dataDir string) ([]string, error) {
	if name == "" || name == "root" || name == "0" {
		return nil, fmt.Errorf("service: faced runs as an unprivileged user, not %q", name)
	}
	var did []string
	uid, gid, ok, err := lookupAccount(name)
	if err != nil {
		return nil, err
	}
	if !ok {
		useradd, lerr := exec.LookPath("useradd")
		if lerr != nil {
			return nil, fmt.Errorf("service: user %s does not exist and useradd is missing: create it first", name)
		}
		out, err := exec.Command(useradd, "--system", "--user-group", "--no-create-home", "--home-dir", dataDir,
			"--shell", "/usr/sbin/nologin", "--comment", "faced face-analysis daemon", name).CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("service: useradd %s: %v: %s", name, err, out)
		}
		did = append(did, "created the system user "+name)
		if uid, gid, ok, err = lookupAccount(name); err != nil || !ok {
			return did, fmt.Errorf("service: user %s not found after useradd (%v)", name, err)
		}
	}
	if uid == 0 {
		return did, fmt.Errorf("service: user %s is root", name)
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return did, fmt.Errorf("service: data directory: %w", err)
	}
	// Everything in it too: a folder used by a faced run as root before
	// would stay unwritable to the service. Links are not followed.
	err = filepath.WalkDir(dataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
	if err != nil {
		return did, fmt.Errorf("service: data directory: %w", err)
	}
	if err := os.Chmod(dataDir, 0o750); err != nil {
		return did, fmt.Errorf("service: data directory: %w", err)
	}
	did = append(did, fmt.Sprintf("data directory %s: owner %s, mode 0750", dataDir, name))
	return did, nil
}

// lookupAccount returns the uid and gid of name as the system's name
// service answers (getent: os/user may not see an account made after the
// process started).
func lookupAccount(name string) (uid, gid int, ok bool, err error) {
	out, err := exec.Command("getent", "passwd", name).Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 2 {
		return 0, 0, false, nil // not found
	}
	if err != nil {
		return 0, 0, false, fmt.Errorf("service: getent passwd %s: %w", name, err)
	}
	f := strings.Split(strings.TrimSpace(string(out)), ":")
	if len(f) < 4 {
		return 0, 0, false, fmt.Errorf("service: getent passwd %s: %q", name, out)
	}
	uid, err1 := strconv.Atoi(f[2])
	gid, err2 := strconv.Atoi(f[3])
	if err1 != nil || err2 != nil {
		return 0, 0, false, fmt.Errorf("service: getent passwd %s: %q", name, out)
	}
	return uid, gid, true, nil
}
