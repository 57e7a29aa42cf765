#!/bin/bash
# make deb-test (root; changes the machine, so not part of make test):
# builds the package, installs it, starts the service (systemd where it is
# PID 1, else SysV), drops photos into a library and waits for their
# sidecars, runs `facedctl status` through the socket as an ordinary user in
# the group faced, checks that the daemon runs unprivileged and cannot write
# outside the library's folders and DataDirectory, then purges the package
# and compares the listing of /etc, /var/lib and /usr before and after.
set -uo pipefail
cd "$(dirname "$0")/../.."
REPO=$(pwd)
fail() { echo "deb-test: FAIL: $*" >&2; exit 1; }
say() { echo "deb-test: $*"; }
[ "$(id -u)" = 0 ] || fail "run as root (it installs and purges the package)"
dpkg -s faced >/dev/null 2>&1 && fail "faced is already installed: dpkg --purge faced first"
getent passwd faced >/dev/null && fail "a user faced already exists"
PHOTOS_SRC=${FACED_SHARED_DIR:-$REPO/../shared}/testdata/photos/group
ls "$PHOTOS_SRC"/*.jpg >/dev/null 2>&1 || fail "no test photos in $PHOTOS_SRC"

WORK=$(mktemp -d /tmp/faced-deb-test.XXXXXX)
chmod 0755 "$WORK"
TESTER=faced-deb-tester
cleanup() {
	if dpkg -s faced >/dev/null 2>&1; then
		/etc/init.d/faced stop >/dev/null 2>&1
		dpkg --purge faced >/dev/null 2>&1
	fi
	getent passwd "$TESTER" >/dev/null && userdel "$TESTER"
	rm -rf "$WORK"
}
trap cleanup EXIT

# What the package may leave: nothing. dpkg's own bookkeeping is listed too.
snapshot() { find /etc /var/lib /usr -xdev 2>/dev/null | grep -v -e '^/var/lib/dpkg/' -e '^/var/lib/apt/' -e '^/etc/ld.so.cache$' | LC_ALL=C sort; }
snapshot > "$WORK/before.txt"
find /var/lib/dpkg -xdev | LC_ALL=C sort > "$WORK/dpkg-before.txt"

say "building the package"
DEB=$(bash packaging/deb/build.sh "$WORK/dist" | tail -1) || fail "make deb"
say "installing $DEB"
dpkg -i "$DEB" > "$WORK/dpkg-i.log" 2>&1 || { cat "$WORK/dpkg-i.log"; fail "dpkg -i"; }
id faced || fail "no user faced after install"
[ "$(stat -c %U:%G:%a /var/lib/faced)" = faced:faced:750 ] || fail "/var/lib/faced is $(stat -c %U:%G:%a /var/lib/faced)"
pgrep -u faced >/dev/null && fail "installing the package started faced (it must enable nothing unasked)"

# The library: photos owned by root (read-only to faced), folders writable
# by the group faced for the sidecars (README.Debian's recipe).
LIB=$WORK/photos
mkdir -p "$LIB/2024"
chgrp -R faced "$LIB"
find "$LIB" -type d -exec chmod 2775 {} +
sed -i "s|^InputDirectory = .*|InputDirectory = $LIB|" /etc/faced/config.txt

if [ -d /run/systemd/system ]; then
	INIT=systemd
	mkdir -p /etc/systemd/system/faced.service.d
	printf '[Service]\nReadWritePaths=%s\n' "$LIB" > /etc/systemd/system/faced.service.d/library.conf
	systemctl daemon-reload && systemctl start faced || fail "systemctl start faced"
else
	INIT=sysv
	update-rc.d faced enable >/dev/null || fail "update-rc.d faced enable"
	service faced start || { tail -20 /var/log/faced/faced.log; fail "service faced start"; }
fi
say "service started ($INIT)"
PID=$(pgrep -u faced -x faced | head -1)
[ -n "$PID" ] || fail "faced is not running as the user faced"
uid=$(awk '/^Uid:/{print $2}' /proc/$PID/status)
cap=$(awk '/^CapEff:/{print $2}' /proc/$PID/status)
[ "$uid" = "$(id -u faced)" ] && [ "$cap" = 0000000000000000 ] || fail "faced runs with uid $uid, CapEff $cap"
say "faced (pid $PID) runs as $(id -un "$uid"), no capabilities"
[ "$(/usr/bin/faced status --config /etc/faced/config.txt)" = running ] || fail "faced status does not say running"
# The rotation of the SysV log (TestSysVLogRotation runs it) and the man
# pages, as installed.
if command -v logrotate >/dev/null; then
	logrotate --debug --state "$WORK/logrotate.state" /etc/logrotate.d/faced >"$WORK/logrotate.txt" 2>&1 ||
		fail "logrotate rejects /etc/logrotate.d/faced: $(tail -3 "$WORK/logrotate.txt")"
	grep -q "rotating pattern: /var/log/faced/faced.log" "$WORK/logrotate.txt" || fail "logrotate: $(cat "$WORK/logrotate.txt")"
	say "logrotate accepts /etc/logrotate.d/faced"
fi
for m in faced.8 facedctl.1; do
	zcat "/usr/share/man/man${m##*.}/$m.gz" | grep -qi "^\.TH ${m%.*} ${m##*.} " || fail "man page $m is not installed"
done

cp "$PHOTOS_SRC"/*.jpg "$LIB/2024/"
chmod 0644 "$LIB"/2024/*.jpg
n=$(ls "$LIB"/2024/*.jpg | wc -l)
for i in $(seq 1 180); do
	m=$(ls "$LIB"/2024/*.xmp 2>/dev/null | wc -l)
	[ "$m" -ge "$n" ] && break
	sleep 1
done
say "$m sidecars for $n photos after ${i}s"
[ "$m" -ge "$n" ] || { tail -20 /var/log/faced/faced.log; fail "sidecars missing"; }
grep -l 'mwg-rs:Regions' "$LIB"/2024/*.xmp | head -1 >/dev/null || fail "no face regions in the sidecars"

# An ordinary user in the group faced asks over the socket.
useradd --no-create-home --shell /bin/sh -G faced "$TESTER" || fail "useradd"
out=$(cd / && runuser -u "$TESTER" -- facedctl status 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
[ $rc = 0 ] || fail "facedctl status as $TESTER: exit $rc"
echo "$out" | grep -q -i running || fail "facedctl status does not say running"

# Least privilege: every path faced's user may write, besides the
# world-writable temp folders; then the writes themselves, tried.
runuser -u faced -- find / -xdev \( -path /proc -o -path /sys -o -path /dev \) -prune -o -writable ! -type l -print 2>/dev/null |
	grep -v -e "^$LIB" -e '^/var/lib/faced' -e '^/tmp' -e '^/var/tmp' -e '^/run/lock' -e '^/dev/shm' -e '^/var/lock' > "$WORK/writable.txt"
if [ -s "$WORK/writable.txt" ]; then cat "$WORK/writable.txt"; fail "the faced user can write outside the library and /var/lib/faced"; fi
for p in /etc/faced/config.txt /usr/share/faced/models/pnet.onnx /var/log/faced/faced.log "$LIB/2024/$(ls "$LIB/2024" | grep -m1 '\.jpg$')"; do
	runuser -u faced -- sh -c "printf x >> '$p'" 2>/dev/null && fail "faced's user could append to $p"
done
for d in /etc/faced /usr/bin /var/lib /var/log/faced /root; do
	runuser -u faced -- touch "$d/faced-probe" 2>/dev/null && { rm -f "$d/faced-probe"; fail "faced's user could create a file in $d"; }
done
say "faced's user writes only in the library's folders, /var/lib/faced and the temp folders"

if [ "$INIT" = sysv ]; then service faced stop; else systemctl stop faced; fi
[ "$(/usr/bin/faced status --config /etc/faced/config.txt)" = stopped ] || fail "faced status does not say stopped"
grep -q 'level=ERROR' /var/log/faced/faced.log && { grep 'level=ERROR' /var/log/faced/faced.log; fail "ERROR lines in the log of a normal run"; }

# Purge while it runs: prerm must stop it (even where policy-rc.d denies).
if [ "$INIT" = sysv ]; then service faced start >/dev/null; else systemctl start faced; fi
PID=$(pgrep -u faced -x faced | head -1)
[ -n "$PID" ] || fail "faced did not start again"
rm -rf /etc/systemd/system/faced.service.d
say "purging (faced running)"
dpkg --purge faced > "$WORK/purge.log" 2>&1 || { cat "$WORK/purge.log"; fail "dpkg --purge"; }
# That process, not any "faced" (other users' tests on a shared machine).
kill -0 "$PID" 2>/dev/null && fail "faced (pid $PID) still runs after the purge"
userdel "$TESTER"
snapshot > "$WORK/after.txt"
KEEP=${FACED_DEB_TEST_KEEP:-/tmp}
cp "$WORK/before.txt" "$KEEP/faced-deb-test-before.txt"
cp "$WORK/after.txt" "$KEEP/faced-deb-test-after.txt"
for top in /etc /var/lib /usr; do
	say "$top: $(grep -c "^$top" "$WORK/before.txt") paths before, $(grep -c "^$top" "$WORK/after.txt") after"
done
say "listings kept in $KEEP/faced-deb-test-{before,after}.txt"
if ! diff "$WORK/before.txt" "$WORK/after.txt"; then fail "dpkg --purge left the paths above"; fi
find /var/lib/dpkg -xdev | LC_ALL=C sort > "$WORK/dpkg-after.txt"
diff "$WORK/dpkg-before.txt" "$WORK/dpkg-after.txt" | sed 's/^/    dpkg bookkeeping: /'
getent passwd faced >/dev/null && fail "user faced left"
getent group faced >/dev/null && fail "group faced left"
say "purge left nothing: $(wc -l < "$WORK/before.txt") paths under /etc /var/lib /usr before and after"
say "PASS"
