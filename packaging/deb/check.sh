#!/bin/bash
# CI's check of the Debian package, without installing it (part of make
# test): builds it into a temp folder, compares its file list and modes with
# packaging/deb/contents.txt, checks the control fields and conffiles, and
# runs lintian: any error or warning fails (informational tags are
# printed). A warning that has to stay gets a lintian override in the
# package, with the reason beside it.
# FACED_UPDATE_GOLDEN=1 rewrites contents.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
DEB=$(bash packaging/deb/build.sh "$T" | tail -1)
dpkg-deb -c "$DEB" | awk '{print $1, $2, $6}' > "$T/contents.txt"
if [ "${FACED_UPDATE_GOLDEN:-}" = 1 ]; then cp "$T/contents.txt" packaging/deb/contents.txt; fi
diff -u packaging/deb/contents.txt "$T/contents.txt" || { echo "deb-check: package contents changed (FACED_UPDATE_GOLDEN=1 make deb-check to accept)" >&2; exit 1; }
dpkg-deb -f "$DEB" Depends | grep -q 'adduser' || { echo "deb-check: Depends lacks adduser" >&2; exit 1; }
dpkg-deb -f "$DEB" Depends | grep -q 'libopencv-core' || { echo "deb-check: Depends lacks OpenCV (dpkg-shlibdeps)" >&2; exit 1; }
dpkg-deb -f "$DEB" Depends | grep -q 'libraw20' || { echo "deb-check: Depends lacks LibRaw (dpkg-shlibdeps)" >&2; exit 1; }
dpkg-deb --ctrl-tarfile "$DEB" | tar -xO ./conffiles | diff - <(printf '/etc/faced/config.txt\n/etc/init.d/faced\n/etc/logrotate.d/faced\n') ||
  { echo "deb-check: conffiles" >&2; exit 1; }
dpkg-deb --fsys-tarfile "$DEB" | tar -xO ./etc/faced/config.txt > "$T/config.txt"
for k in InputDirectory DataDirectory ORTLibrary SeedDirectory; do
  grep -q "^$k = /" "$T/config.txt" || { echo "deb-check: config.txt: $k is not an absolute path" >&2; exit 1; }
done
if ! command -v lintian >/dev/null; then echo "deb-check: lintian missing (make setup installs it)" >&2; exit 1; fi
lintian -I --tag-display-limit 0 "$DEB" 2>/dev/null | tee "$T/lintian.txt" || true
if grep -q '^[EW]:' "$T/lintian.txt"; then echo "deb-check: lintian errors or warnings (above)" >&2; exit 1; fi
echo "deb-check: ok ($(wc -l < "$T/contents.txt") paths, no lintian errors or warnings, $(grep -c '^I:' "$T/lintian.txt" || true) informational tags)"
