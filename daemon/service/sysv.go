package service

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// SysV describes faced's SysV init script.
type SysV struct {
	Name       string // service name, default "faced"
	Executable string // the faced binary
	ConfigPath string // absolute config.txt
	User       string // the unprivileged account faced runs as
	LogDir     string // default /var/log/NAME
}

// HardeningWarning is what faced says where the platform cannot sandbox
// the service the way the systemd unit does.
const HardeningWarning = "warning: SysV init cannot sandbox faced (no ProtectSystem, PrivateTmp, NoNewPrivileges): " +
	"it runs as the unprivileged user %q and only file permissions limit what it writes; " +
	"give that user read access to the photo folder and write access only to its folders (sidecars) and DataDirectory"

// SysVScript returns faced's SysV init script: start-stop-daemon starts
// faced as s.User (--chuid: never root), with its output in LogDir; status
// prints Running or Stopped (exit 0 or 3, as kardianos and LSB expect).
// packaging/deb/faced.init is this script rendered for the Debian package.
func SysVScript(s SysV) (string, error) {
	if s.Name == "" {
		s.Name = "faced"
	}
	if s.User == "" || s.User == "root" || s.User == "0" {
		return "", fmt.Errorf("service: the SysV script needs an unprivileged user, not %q", s.User)
	}
	if s.LogDir == "" {
		s.LogDir = "/var/log/" + s.Name
	}
	if s.Executable == "" || s.ConfigPath == "" {
		return "", fmt.Errorf("service: SysV script: executable and config path are required")
	}
	r := strings.NewReplacer(
		"@NAME@", shQuote(s.Name), "@DAEMON@", shQuote(s.Executable), "@CONFIG@", shQuote(s.ConfigPath),
		"@WORKDIR@", shQuote(filepath.Dir(s.ConfigPath)), "@USER@", shQuote(s.User), "@LOGDIR@", shQuote(s.LogDir),
		"@PROVIDES@", s.Name)
	return r.Replace(sysvTemplate), nil
}

// shQuote quotes v for sh when it needs it.
func shQuote(v string) string {
	if v != "" && strings.Trim(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-") == "" {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}

const sysvTemplate = `#!/bin/sh
### BEGIN INIT INFO
# Provides:          @PROVIDES@
# Required-Start:    $local_fs $remote_fs $syslog
# Required-Stop:     $local_fs $remote_fs $syslog
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: faced face-analysis daemon
# Description:       faced finds faces in the photo folder and writes XMP
#                    sidecars next to the photos.
### END INIT INFO
#
# Written by faced (daemon/service.SysVScript). SysV init cannot sandbox the
# daemon as the systemd unit does (ProtectSystem, PrivateTmp,
# NoNewPrivileges): faced runs as the unprivileged user below, and file
# permissions alone limit what it may write.

NAME=@NAME@
DAEMON=@DAEMON@
CONFIG=@CONFIG@
WORKDIR=@WORKDIR@
RUNAS=@USER@
LOGDIR=@LOGDIR@
LOG="$LOGDIR/$NAME.log"
PIDFILE="/run/$NAME.pid"
PATH=/usr/sbin:/usr/bin:/sbin:/bin

[ -x "$DAEMON" ] || exit 0
# Debian's helpers; under systemd they hand the action to systemctl.
[ -r /lib/lsb/init-functions ] && . /lib/lsb/init-functions

running() {
	start-stop-daemon --status --pidfile "$PIDFILE" --exec "$DAEMON" --user "$RUNAS"
}

case "$1" in
start)
	if running; then
		echo "$NAME: already running"
		exit 0
	fi
	# start-stop-daemon opens the log as root: faced needs no write access
	# there, its group may read it.
	install -d -o root -g "$(id -gn "$RUNAS")" -m 0750 "$LOGDIR"
	echo "Starting $NAME as user $RUNAS"
	start-stop-daemon --start --quiet --background --make-pidfile --pidfile "$PIDFILE" \
		--chuid "$RUNAS" --chdir "$WORKDIR" --output "$LOG" \
		--exec "$DAEMON" -- run --config "$CONFIG" || exit 1
	sleep 1
	if ! running; then
		echo "$NAME: exited at start; the end of $LOG:" >&2
		tail -n 5 "$LOG" >&2
		rm -f "$PIDFILE"
		exit 1
	fi
	;;
stop)
	echo "Stopping $NAME"
	start-stop-daemon --stop --quiet --retry TERM/15/KILL/5 --pidfile "$PIDFILE" --exec "$DAEMON" --user "$RUNAS"
	rc=$?
	rm -f "$PIDFILE"
	# 1: it was not running
	[ "$rc" -le 1 ] || exit "$rc"
	;;
restart|force-reload)
	"$0" stop && "$0" start
	;;
status)
	if running; then
		echo "Running"
		exit 0
	fi
	echo "Stopped"
	exit 3
	;;
*)
	echo "Usage: $0 {start|stop|restart|force-reload|status}" >&2
	exit 3
	;;
esac
exit 0
`

// RemoveRCLinks removes the /etc/rc?.d links (under etc) that point to
// etc/init.d/NAME: kardianos' SysV uninstall removes the script and leaves
// the seven links it made, and update-rc.d's S/K links have the same form.
// It returns the links removed.
func RemoveRCLinks(etc, name string) ([]string, error) {
	script := filepath.Join(etc, "init.d", name)
	links, err := filepath.Glob(filepath.Join(etc, "rc?.d", "[SK][0-9][0-9]"+name))
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, l := range links {
		t, err := os.Readlink(l)
		if err != nil {
			continue // not a link: not ours
		}
		if !filepath.IsAbs(t) {
			t = filepath.Join(filepath.Dir(l), t)
		}
		if filepath.Clean(t) != script {
			continue
		}
		if err := os.Remove(l); err != nil {
			return removed, err
		}
		removed = append(removed, l)
	}
	return removed, nil
}
