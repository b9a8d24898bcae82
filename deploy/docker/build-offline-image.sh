#!/usr/bin/env bash
# Pack this machine's build of colonnade and cqlish into a FROM scratch image,
# without pulling anything: the two binaries (debug sections stripped), exactly
# the shared libraries ldd lists for them, the dynamic loader, a one-line
# /etc/passwd and /etc/group, and the data directory owned by uid 999.  The
# runtime settings (ENV, ports, volume, healthcheck, user, entrypoint) are the
# RUNTIME block of deploy/docker/Dockerfile, copied verbatim.
#
#   deploy/docker/build-offline-image.sh [-b BUILD_DIR] [-t TAG]
#       BUILD_DIR  a CMake build with cli/colonnade and cli/cqlish [./build]
#       TAG        image name [colonnade:local]
#
# Uses Debian's client (/usr/bin/docker, or $DOCKER) with the classic builder
# (DOCKER_BUILDKIT=0) against $DOCKER_HOST.  The build host must be Debian 12
# (or the same glibc as the libraries it copies: they are this host's).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$(cd "$here/../.." && pwd)"
build="$src/build"
tag="colonnade:local"
while [ $# -gt 0 ]; do
  case "$1" in
    -b) build="$(cd "$2" && pwd)"; shift 2 ;;
    -t) tag="$2"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "build-offline-image: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
docker_bin="${DOCKER:-/usr/bin/docker}"
bins=("$build/cli/colonnade" "$build/cli/cqlish")
for b in "${bins[@]}"; do
  [ -f "$b" ] && [ -x "$b" ] || { echo "build-offline-image: $b is missing: build first (cmake --build $build)" >&2; exit 1; }
done

ctx="$(mktemp -d /tmp/colonnade-image.XXXXXX)"
trap 'rm -rf "$ctx"' EXIT
root="$ctx/rootfs"
mkdir -p "$root/usr/local/bin" "$root/etc" "$root/tmp" "$ctx/datadir"
for b in "${bins[@]}"; do
  objcopy --strip-debug "$b" "$root/usr/local/bin/$(basename "$b")"
done

# Every library either binary needs, at the path the loader looks for it, plus
# the loader itself (the "not a =>" line of ldd, e.g. /lib64/ld-linux-x86-64.so.2).
libs="$(ldd "${bins[@]}" | awk '
  /not found/ { print "MISSING " $1; next }
  $2 == "=>" && $3 ~ /^\// { print $3 }
  $1 ~ /^\// && $1 !~ /:$/ { print $1 }' | sort -u)"
if grep -q '^MISSING' <<<"$libs"; then
  echo "build-offline-image: ldd cannot find: $(grep '^MISSING' <<<"$libs" | cut -d' ' -f2 | tr '\n' ' ')" >&2
  exit 1
fi
n=0
while read -r lib; do
  [ -n "$lib" ] || continue
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"   # the file itself, under the name ldd resolved
  n=$((n + 1))
done <<<"$libs"

echo "colonnade:x:999:999:Colonnade:/var/lib/colonnade:/sbin/nologin" >"$root/etc/passwd"
echo "colonnade:x:999:" >"$root/etc/group"
chmod 1777 "$root/tmp"

runtime="$(sed -n '/^# ---- RUNTIME/,/^# ---- END RUNTIME/p' "$here/Dockerfile")"
[ -n "$runtime" ] || { echo "build-offline-image: no RUNTIME block in $here/Dockerfile" >&2; exit 1; }
{
  echo "FROM scratch"
  echo "COPY --chown=0:0 rootfs/ /"
  echo "COPY --chown=999:999 datadir/ /var/lib/colonnade/"
  echo "$runtime"
} >"$ctx/Dockerfile"

echo "build-offline-image: $tag from $build ($n files from ldd: libraries and the loader)"
DOCKER_BUILDKIT=0 "$docker_bin" build -q -t "$tag" "$ctx" >/dev/null
size="$("$docker_bin" image inspect -f '{{.Size}}' "$tag")"
echo "build-offline-image: $tag is $((size / 1024 / 1024)) MiB"
