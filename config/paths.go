package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// systemTrees are folders that are never a photo library or a data folder,
// nor is anything inside them: virtual file systems, devices and the
// installed system.
var systemTrees = []string{"/proc", "/sys", "/dev", "/etc", "/usr", "/boot", "/bin", "/sbin",
	"/lib", "/lib32", "/lib64", "/libx32", "/snap"}

// systemFolders are refused themselves; folders inside them are fine
// (/run/media/<user>/<disk> is where removable disks are mounted, /var/lib
// holds service data).
var systemFolders = []string{"/", "/var", "/run", "/home", "/tmp"}

// checkNotSystem refuses p when it is the root folder or a system folder.
func checkNotSystem(p string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	p = filepath.Clean(p)
	for _, s := range systemFolders {
		if p == s {
			return fmt.Errorf("%s is a system folder, not a photo or data folder: name a folder inside it", p)
		}
	}
	for _, s := range systemTrees {
		if p == s || strings.HasPrefix(p, s+"/") {
			return fmt.Errorf("%s is in the system folder %s: faced does not read or write there", p, s)
		}
	}
	return nil
}

// RuntimeSocketFolders are the folders outside DataDirectory where the
// socket may live: a "faced" folder in a runtime folder faced's service
// owns (systemd's RuntimeDirectory=faced, $XDG_RUNTIME_DIR/faced).
func RuntimeSocketFolders() []string {
	out := []string{"/run/faced", "/var/run/faced"}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" && filepath.IsAbs(d) {
		out = append(out, filepath.Join(d, "faced"))
	}
	return out
}

// checkSocketPlace refuses a socket path outside DataDirectory and the
// runtime folders: faced removes a stale socket at start, and that must
// never hit a file faced does not own.
func checkSocketPlace(sock, dataDir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	places := append([]string{dataDir}, RuntimeSocketFolders()...)
	for _, d := range places {
		if within(sock, d) && sock != d {
			return nil
		}
	}
	return fmt.Errorf("%s is outside DataDirectory (%s) and faced's runtime folders (%s): the socket must live in a folder faced owns",
		sock, dataDir, strings.Join(places[1:], ", "))
}

// within reports whether p is d or inside it (lexically).
func within(p, d string) bool {
	rel, err := filepath.Rel(d, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// CheckPaths checks the folders the configuration names against the disk:
// InputDirectory must be a readable folder (its real path, symbolic links
// resolved, not a system folder) and DataDirectory, when it exists, a folder
// (faced creates it otherwise), AllowedOutsideFolders readable folders.
// Each problem is a *LineError naming the key
// and its line.
func (c *Config) CheckPaths() error {
	if err := checkFolder(c.inputDirectory); err != nil {
		return c.KeyError("InputDirectory", err)
	}
	for _, d := range c.allowedOutside {
		if err := checkFolder(d); err != nil {
			return c.KeyError("AllowedOutsideFolders", err)
		}
	}
	if _, err := os.Lstat(c.dataDirectory); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return c.KeyError("DataDirectory", checkFolder(c.dataDirectory))
}

// checkFolder checks that dir is a folder this process can list, whose real
// path is not a system folder.
func checkFolder(dir string) error {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("folder %s: %w", dir, unwrapPath(err))
	}
	if real != dir {
		if err := checkNotSystem(real); err != nil {
			return fmt.Errorf("%s leads to %w", dir, err)
		}
	}
	f, err := os.Open(real)
	if err != nil {
		return fmt.Errorf("folder %s: cannot open: %w", dir, unwrapPath(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("folder %s: %w", dir, unwrapPath(err))
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a folder", dir)
	}
	if _, err := f.Readdirnames(1); err != nil && err != io.EOF {
		return fmt.Errorf("folder %s: cannot list: %w", dir, unwrapPath(err))
	}
	return nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
