#!/bin/bash
# Builds the Debian package of faced with dpkg-deb (no packaging tool to
# fetch): packaging/deb/build.sh OUTDIR. Needs `make setup` done (var/lib,
# var/seed). Prints the path of the .deb it wrote.
#
# Contents: /usr/bin/faced and facedctl, ONNX Runtime in /usr/lib/faced,
# the seed's models converted to ONNX in /usr/share/faced/models (copied into
# DataDirectory by faced's first start), /etc/faced/config.txt (conffile,
# absolute paths), the systemd unit, the sysusers entry, the SysV script and
# the logrotate configuration of its log, and the manual pages faced(8) and
# facedctl(1) (docs/man).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:?usage: build.sh OUTDIR}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
say() { echo "deb: $*" >&2; }

ARCH=$(dpkg --print-architecture)
REV=$(git rev-parse --short=10 HEAD 2>/dev/null || echo 0)
# Debian versions must start with a digit; the commit count orders builds.
VERSION="0.1.0+git$(git rev-list --count HEAD 2>/dev/null || echo 0).$REV"
ORT=var/lib/libonnxruntime.so.1.24.1
[ -f "$ORT" ] && [ -f var/seed/mtcnn.pb ] || { echo "deb: run make setup first (var/lib, var/seed)" >&2; exit 1; }

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
R=$STAGE/root
install -d -m 0755 "$R/DEBIAN" "$R/usr/bin" "$R/usr/lib/faced" "$R/usr/share/faced/models" \
  "$R/etc/faced" "$R/etc/init.d" "$R/etc/logrotate.d" "$R/lib/systemd/system" "$R/usr/lib/sysusers.d" \
  "$R/usr/share/doc/faced" "$R/usr/share/man/man1" "$R/usr/share/man/man8"

# Position-independent executables built with Debian's hardening flags
# (dpkg-buildflags: stack protector, _FORTIFY_SOURCE, relro, bindnow) for
# the cgo parts (OpenCV bindings, ONNX Runtime loader): lintian's
# hardening-no-pie. The first build with these flags compiles the OpenCV
# bindings again (a few minutes); later ones come from Go's build cache.
# The reproducible path maps are off: they name the checkout's folder, so
# every clone would miss Go's cache and rebuild the OpenCV bindings; Go's
# -trimpath already keeps the build path out of the binaries.
export DEB_BUILD_MAINT_OPTIONS="hardening=+all reproducible=-fixfilepath,-fixdebugpath"
CGO_CFLAGS="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
CGO_CXXFLAGS="$(dpkg-buildflags --get CXXFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
CGO_LDFLAGS="$(dpkg-buildflags --get LDFLAGS)"
export CGO_CFLAGS CGO_CXXFLAGS CGO_LDFLAGS
say "building faced and facedctl (PIE, hardened, stripped)"
go build -trimpath -buildmode=pie -ldflags "-s -w -X main.version=$VERSION" -o "$R/usr/bin/" ./cmd/faced ./cmd/facedctl
chmod 0755 "$R/usr/bin/"*
install -m 0644 "$ORT" "$R/usr/lib/faced/"

say "converting the seed's models"
"$R/usr/bin/facedctl" models install --seed var/seed --data "$STAGE/data" 2>/dev/null
install -m 0644 "$STAGE/data/models/"* "$R/usr/share/faced/models/"

# The repository's config.txt with the installed paths (comments stay in step).
sed -e 's|^InputDirectory = .*|InputDirectory = /srv/photos|' \
    -e 's|^DataDirectory = .*|DataDirectory = /var/lib/faced|' \
    -e 's|^ORTLibrary =.*|ORTLibrary = /usr/lib/faced/libonnxruntime.so.1.24.1|' \
    -e 's|^SeedDirectory =.*|SeedDirectory = /usr/share/faced/models|' \
    -e 's|^# the sample photos that `make run` prepares.|# /srv/photos: set it to your photo folder (see /usr/share/doc/faced/README.Debian).|' \
    config.txt > "$R/etc/faced/config.txt"
for k in InputDirectory DataDirectory ORTLibrary SeedDirectory; do
  grep -q "^$k = /" "$R/etc/faced/config.txt" || { echo "deb: config.txt: $k not set to an absolute path" >&2; exit 1; }
done
chmod 0644 "$R/etc/faced/config.txt"
install -m 0755 packaging/deb/faced.init "$R/etc/init.d/faced"
install -m 0644 packaging/deb/faced.logrotate "$R/etc/logrotate.d/faced"
gzip -9n < docs/man/faced.8 > "$R/usr/share/man/man8/faced.8.gz"
gzip -9n < docs/man/facedctl.1 > "$R/usr/share/man/man1/facedctl.1.gz"
chmod 0644 "$R/usr/share/man/man8/faced.8.gz" "$R/usr/share/man/man1/facedctl.1.gz"
grep -v '^#' packaging/systemd/faced.service > "$R/lib/systemd/system/faced.service"
chmod 0644 "$R/lib/systemd/system/faced.service"
install -m 0644 packaging/systemd/faced.sysusers "$R/usr/lib/sysusers.d/faced.conf"
install -m 0644 packaging/deb/copyright "$R/usr/share/doc/faced/copyright"
install -m 0644 packaging/deb/README.Debian "$R/usr/share/doc/faced/README.Debian"
printf 'faced (%s) unstable; urgency=medium\n\n  * Built from commit %s.\n\n -- faced maintainers <faced@example.org>  %s\n' \
  "$VERSION" "$REV" "$(git log -1 --format=%aD 2>/dev/null || date -R)" | gzip -9n > "$R/usr/share/doc/faced/changelog.gz"
chmod 0644 "$R/usr/share/doc/faced/changelog.gz"

for s in postinst prerm postrm; do install -m 0755 "packaging/deb/$s" "$R/DEBIAN/$s"; done
printf '/etc/faced/config.txt\n/etc/init.d/faced\n/etc/logrotate.d/faced\n' > "$R/DEBIAN/conffiles"

# Shared-library dependencies, as dpkg-shlibdeps finds them.
mkdir -p "$STAGE/src/debian"
printf 'Source: faced\n\nPackage: faced\nArchitecture: any\n' > "$STAGE/src/debian/control"
SHLIBS=$(cd "$STAGE/src" && dpkg-shlibdeps -O -e"$R/usr/bin/faced" -e"$R/usr/bin/facedctl" -e"$R/usr/lib/faced/libonnxruntime.so.1.24.1" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$SHLIBS" ] || { echo "deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
SIZE=$(du -sk --exclude=DEBIAN "$R" | cut -f1)
cat > "$R/DEBIAN/control" <<CTL
Package: faced
Version: $VERSION
Architecture: $ARCH
Maintainer: faced maintainers <faced@example.org>
Installed-Size: $SIZE
Pre-Depends: init-system-helpers (>= 1.54~)
Depends: $SHLIBS, adduser
Recommends: libimage-exiftool-perl
Section: graphics
Priority: optional
Homepage: https://github.com/faced/faced
Description: face-analysis daemon for personal photo libraries
 faced watches a photo folder, finds faces in new photos and videos,
 estimates age and gender, groups the faces into persons and writes XMP
 sidecars (MWG and Microsoft face regions, person keywords) next to the
 photos for digiKam, Lightroom, Immich and PhotoPrism. Photos are never
 modified.
 .
 The service runs as the unprivileged user faced and is not enabled on
 installation: set InputDirectory in /etc/faced/config.txt, then enable it.
CTL
DEB="$OUT/faced_${VERSION}_${ARCH}.deb"
dpkg-deb --root-owner-group -Zgzip --build "$R" "$DEB" >/dev/null
say "wrote $DEB ($(du -h "$DEB" | cut -f1))"
echo "$DEB"
