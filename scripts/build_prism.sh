#!/usr/bin/env bash
# Build Beam's Prism runner (Go) into <repo>/.local/bin/prism from the Go module proxy, at
# the Beam version setup.py pins, so Python pipelines can run on a second local runner:
#   --runner=PrismRunner --prism_location=.local/bin/prism
#
# Idempotent: a stamp records the version built; a re-run with the same version returns at
# once. A cold build downloads ~60 modules and compiles for 1-2 minutes; needs Go >= 1.24.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$repo/.local/bin"
stamp="$bin/prism.version"
version="v$(sed -n 's/^BEAM_VERSION = "\(.*\)"$/\1/p' "$repo/setup.py")"

if [[ -x "$bin/prism" && -f "$stamp" && "$(cat "$stamp")" == "$version" ]]; then
  exit 0
fi

mkdir -p "$bin"
# Serialise concurrent builds (e.g. two test sessions starting at once).
exec 9>"$bin/prism-build.lock"
flock 9
if [[ -x "$bin/prism" && -f "$stamp" && "$(cat "$stamp")" == "$version" ]]; then
  exit 0
fi

echo "build_prism: building prism $version into $bin" >&2
rm -f "$stamp"
GOBIN="$bin" GOFLAGS=-mod=mod go install "github.com/apache/beam/sdks/v2/go/cmd/prism@$version"
echo "$version" > "$stamp"
