#!/usr/bin/env bash
# update-headers.sh copies the libbpf headers drop.c needs into headers/bpf/
# and records where they came from in headers/bpf/VERSION.
#
#   bpf/update-headers.sh [dir]    (dir defaults to /usr/include/bpf)
#
# dir is an installed libbpf include directory or libbpf's own src/. Run
# `go generate ./bpf` afterwards and commit the headers, VERSION and the
# regenerated object together.
set -euo pipefail

src=${1:-/usr/include/bpf}
dst="$(dirname "$0")/headers/bpf"

# What drop.c includes, and what those include in turn (bpf_helpers.h pulls
# in bpf_helper_defs.h). gen.go compiles with -nostdinc, so a header missing
# here fails `go generate` instead of being read from the system.
headers=(bpf_helpers.h bpf_helper_defs.h bpf_tracing.h bpf_core_read.h bpf_endian.h)

for h in "${headers[@]}"; do
  if [ ! -f "$src/$h" ]; then
    echo "update-headers: $src/$h: no such file" >&2
    exit 1
  fi
done
mkdir -p "$dst"
for h in "${headers[@]}"; do
  cp "$src/$h" "$dst/$h"
done

# The version: the Debian package's when dpkg owns the directory, else the
# major.minor in libbpf_version.h, which libbpf installs beside the headers.
version=
if owner=$(dpkg-query -S "$(realpath "$src/bpf_helpers.h")" 2>/dev/null); then
  pkg=${owner%%:*}
  version=$(dpkg-query -W -f='${Package} ${Version}' "$pkg")
elif [ -f "$src/libbpf_version.h" ]; then
  major=$(sed -n 's/^#define LIBBPF_MAJOR_VERSION \([0-9]*\).*/\1/p' "$src/libbpf_version.h")
  minor=$(sed -n 's/^#define LIBBPF_MINOR_VERSION \([0-9]*\).*/\1/p' "$src/libbpf_version.h")
  version="libbpf $major.$minor"
fi
echo "${version:-libbpf, version unknown} from $src" >"$dst/VERSION"
cat "$dst/VERSION"
