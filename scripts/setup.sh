#!/usr/bin/env bash
# setup.sh — prepares a fresh Debian 12 machine (or re-checks a prepared one)
# for faced: Debian packages, the ONNX Runtime shared library, the seed
# models (converted to ONNX), the sample photos of the default config.txt, and
# the two binaries. Idempotent: a second run only verifies and takes seconds.
#
# Environment:
#   FACED_SEED_DIR  local copy of the seed (default: ../shared/seed when present)
#   FACED_ORT_LIB   an ONNX Runtime 1.24.1 library to use instead of fetching one
#   FACED_OFFLINE=1 never touch the network (fail if something is missing)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VAR="$ROOT/var"
mkdir -p "$VAR/lib" "$VAR/seed" "$VAR/data" "$VAR/samples" "$ROOT/bin"

log() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }
sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

# --- 1. Debian packages ------------------------------------------------------
# libheif-dev (HEIC/AVIF decoding, 1.15), libjxl-dev (JPEG XL, 0.7), libraw-dev
# (raw sensor data where a raw has no usable preview, 0.20); the tools
# make the test files: heif-enc/heif-info (libheif-examples), avifenc
# (libavif-bin), cjxl (libjxl-tools).
# lintian and dpkg-dev (dpkg-shlibdeps): the Debian package check of make test.
# strace: the e2e test that checks where the daemon writes; chromium: the
# review page's browser test; logrotate: the test of the package's rotation
# of the SysV log. libavcodec-dev: faced's HEVC/AV1 decoders for libheif.
PKGS="libopencv-dev libjpeg-dev libimage-exiftool-perl ffmpeg exiv2 pkg-config gcc g++ curl ca-certificates libheif-dev libheif-examples libavcodec-dev libavif-bin libjxl-dev libjxl-tools libraw-dev lintian dpkg-dev strace chromium logrotate"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
apt_install() {
  log "installing Debian packages: $*"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# shellcheck disable=SC2086
[ -z "$missing" ] || apt_install $missing
command -v go >/dev/null || die "Go 1.26 is required (https://go.dev/dl/); it was not found on PATH"

# --- 2. ONNX Runtime 1.24.1 ---------------------------------------------------
ORT_VERSION=1.24.1
ORT_LIB="$VAR/lib/libonnxruntime.so.$ORT_VERSION"
# SHA-256 of libonnxruntime.so.1 in onnxruntime-node@1.24.1 (linux x64).
ORT_NPM_SHA=53ef1ac028dd1b05554b8da28d9159eb3876f99868193d2aaa6e67f0243c23d4
# SHA-256 of the official release archive onnxruntime-linux-x64-1.24.1.tgz;
# set it (FACED_ORT_OFFICIAL_SHA256) to allow that path: an unpinned download
# is never used.
ORT_OFFICIAL_SHA=${FACED_ORT_OFFICIAL_SHA256:-}
ort_ok() { [ -f "$ORT_LIB" ] && [ -f "$ORT_LIB.sha256" ] && sha_ok "$ORT_LIB" "$(cat "$ORT_LIB.sha256")"; }
if [ -n "${FACED_ORT_LIB:-}" ]; then
  log "using ONNX Runtime from FACED_ORT_LIB=$FACED_ORT_LIB"
elif ! ort_ok; then
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  got=""
  if [ -n "$ORT_OFFICIAL_SHA" ] && [ "${FACED_OFFLINE:-0}" != 1 ]; then
    url="https://github.com/microsoft/onnxruntime/releases/download/v$ORT_VERSION/onnxruntime-linux-x64-$ORT_VERSION.tgz"
    log "fetching ONNX Runtime $ORT_VERSION from the official release archive"
    if curl -fsSL --connect-timeout 5 --max-time 300 -o "$tmp/ort.tgz" "$url" && sha_ok "$tmp/ort.tgz" "$ORT_OFFICIAL_SHA"; then
      tar -xzf "$tmp/ort.tgz" -C "$tmp" "onnxruntime-linux-x64-$ORT_VERSION/lib/libonnxruntime.so.$ORT_VERSION"
      cp "$tmp/onnxruntime-linux-x64-$ORT_VERSION/lib/libonnxruntime.so.$ORT_VERSION" "$ORT_LIB.part"
      sha256sum "$ORT_LIB.part" | cut -d' ' -f1 > "$ORT_LIB.sha256"
      got=official
    else
      log "official archive not reachable or not matching its pin; falling back to npm"
    fi
  fi
  if [ -z "$got" ]; then
    [ "${FACED_OFFLINE:-0}" != 1 ] || die "ONNX Runtime missing at $ORT_LIB and FACED_OFFLINE=1"
    # npm only when it is needed, and any npm on PATH will do (Node's own
    # packages conflict with Debian's npm package on some machines).
    command -v npm >/dev/null || apt_install npm
    log "fetching ONNX Runtime $ORT_VERSION from the npm package onnxruntime-node@$ORT_VERSION (npm pack: no install scripts run)"
    (cd "$tmp" && npm pack --silent "onnxruntime-node@$ORT_VERSION" >/dev/null)
    tar -xzf "$tmp/onnxruntime-node-$ORT_VERSION.tgz" -C "$tmp" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
    sha_ok "$tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" "$ORT_NPM_SHA" \
      || die "libonnxruntime.so.1 from onnxruntime-node@$ORT_VERSION does not match its pinned SHA-256"
    cp "$tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" "$ORT_LIB.part"
    echo "$ORT_NPM_SHA" > "$ORT_LIB.sha256"
  fi
  mv "$ORT_LIB.part" "$ORT_LIB"
  log "ONNX Runtime installed at $ORT_LIB"
fi

# --- 3. Seed files (models, licence, sample photo) ----------------------------
SEED_SRC=${FACED_SEED_DIR:-}
[ -z "$SEED_SRC" ] && [ -d "$ROOT/../shared/seed" ] && SEED_SRC="$ROOT/../shared/seed"
SEED_URL=https://raw.githubusercontent.com/av-savchenko/HSE_FaceRec_tf/d5f9b85c8b0c5dd3f36b6622b0f9802c79113109/age_gender_identity
# name  sha256  path-in-local-copy
SEED_FILES="
age_gender_tf2_new-01-0.14-0.92_quantized.pb 2a917c62e3a6cdd2d1556a86ae564dacb3704243048659d5d4d217933239dee3 models
mtcnn.pb 4a7a4bdd48937d80d77f98823e0041cd111a7e65edeaae96cf3237010bd52688 models
LICENSE c71d239df91726fc519c6eb72d318ec65820627232b2f796219e87dcf35d0ab4 models
"
echo "$SEED_FILES" | while read -r name sha sub; do
  [ -n "$name" ] || continue
  dst="$VAR/seed/$name"
  sha_ok "$dst" "$sha" && continue
  if [ -n "$SEED_SRC" ] && [ -f "$SEED_SRC/$sub/$name" ]; then
    cp "$SEED_SRC/$sub/$name" "$dst.part"
  else
    [ "${FACED_OFFLINE:-0}" != 1 ] || die "seed file $name missing and FACED_OFFLINE=1"
    upstream=$name; [ "$name" = LICENSE ] && upstream=../LICENSE
    log "downloading seed file $name"
    curl -fsSL --connect-timeout 10 --max-time 300 -o "$dst.part" "$SEED_URL/$upstream" || die "could not download $SEED_URL/$upstream"
  fi
  sha_ok "$dst.part" "$sha" || { rm -f "$dst.part"; die "seed file $name does not match its pinned SHA-256 $sha"; }
  mv "$dst.part" "$dst"
done

# Sample photo of the default run: the seed's demo photo. The local copy is
# pinned byte for byte. The upstream file carries GPS tags the local copy
# lacks (its pixels and every other byte of image data are the same), so a
# download is pinned by the SHA-256 of the photo with all metadata removed
# (`exiftool -all= -o -`: what remains is the JPEG's tables and image data)
# and then loses its GPS tags, as the local copy did.
SAMPLE_SHA=f067c61a155d56d6413c48d718151292abaf82dde79b6064ab8b78f8da756e33
SAMPLE_IMAGE_SHA=bf64b4decae7a80c235b7d58d7feb286fb93e97276cc109ca4378481875c559c
SAMPLE="$VAR/seed/test_image.jpg"
if ! [ -f "$SAMPLE" ]; then
  if [ -n "$SEED_SRC" ] && sha_ok "$SEED_SRC/reference/test_image.jpg" "$SAMPLE_SHA"; then
    cp "$SEED_SRC/reference/test_image.jpg" "$SAMPLE"
  else
    [ "${FACED_OFFLINE:-0}" != 1 ] || die "sample photo missing and FACED_OFFLINE=1"
    log "downloading the seed's demo photo"
    curl -fsSL --connect-timeout 10 --max-time 120 -o "$SAMPLE.part" "$SEED_URL/test_image.jpg" || die "could not download $SEED_URL/test_image.jpg"
    got=$(exiftool -q -all= -o - "$SAMPLE.part" | sha256sum | cut -d' ' -f1)
    [ "$got" = "$SAMPLE_IMAGE_SHA" ] || { rm -f "$SAMPLE.part"; die "downloaded test_image.jpg: image data SHA-256 $got, pinned $SAMPLE_IMAGE_SHA"; }
    exiftool -q -gps:all= -overwrite_original "$SAMPLE.part" || die "could not strip GPS tags from the downloaded test_image.jpg"
    mv "$SAMPLE.part" "$SAMPLE"
  fi
fi

# --- 4. Build -----------------------------------------------------------------
log "building bin/faced, bin/facedctl (the daily client: no OpenCV, starts at once) and bin/faced-lab (analysis and research tools)"
# The daemon reports the commit it was built from (status, sidecars).
VERSION=$(git describe --always --dirty 2>/dev/null || echo dev)
# The first build compiles OpenCV's Go bindings (about 5 minutes on 2 cores,
# seconds afterwards): say so, and show that it is still going.
log "(the first build compiles the OpenCV bindings: about 5 minutes; later ones take seconds)"
( t=0; while sleep 30; do t=$((t+30)); log "still building (${t} s)"; done ) &
HEARTBEAT=$!
built=1
go build -ldflags "-X main.version=$VERSION" -o bin/ ./cmd/faced && go build -o bin/ ./cmd/facedctl ./cmd/faced-lab || built=0
kill "$HEARTBEAT" 2>/dev/null; wait "$HEARTBEAT" 2>/dev/null || true
[ "$built" = 1 ] || die "go build failed"
rm -f bin/facedctl-full # the former name of faced-lab

# --- 5. Models: convert the seed GraphDefs to ONNX (once; verified after) ------
export FACED_ORT_LIB=${FACED_ORT_LIB:-$ORT_LIB}
bin/facedctl models install --seed "$VAR/seed" --data "$VAR/data"

# --- 6. Sample photos for the default config.txt --------------------------------
# The demo photo, plus mirrored and EXIF-rotated copies made from it, so the
# default run shows several photos of the same people (persons need
# MinNoPhotos photos) and exercises EXIF orientation. The source is never
# modified; copies are written once.
if ! [ -f "$VAR/samples/.prepared" ]; then
  cp "$SAMPLE" "$VAR/samples/family.jpg"
  bin/faced-lab samples make --from "$SAMPLE" --into "$VAR/samples"
  touch "$VAR/samples/.prepared"
fi
# --- 7. Immich's reader for the conformance suite (exporters/conformance) ------
# exiftool-vendored, pinned in package-lock.json, as Immich runs it (it brings
# its own Perl exiftool); installed into the ignored node_modules/ beside it.
IMMICH_DIR="$ROOT/exporters/conformance/immich"
if ! [ -f "$IMMICH_DIR/node_modules/exiftool-vendored/package.json" ]; then
  command -v npm >/dev/null || apt_install nodejs npm
  [ "${FACED_OFFLINE:-0}" = 1 ] && die "exiftool-vendored for the conformance suite is missing and FACED_OFFLINE=1"
  log "installing exiftool-vendored (pinned) for the Immich conformance reader"
  (cd "$IMMICH_DIR" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci in $IMMICH_DIR failed"
fi
log "ready"
