#!/usr/bin/env bash
# Build Beam's Prism runner (Go) into <repo>/.local/bin/prism from the Go module proxy, at
# the Beam version setup.py pins, so Python pipelines can run on a second local runner:
#   --runner=PrismRunner --prism_location=.local/bin/prism
#
# One addition to Prism's engine (scripts/prism/): PRISM_MAX_KEYS_PER_BUNDLE=N caps the keys
# in a bundle of a stateful stage, as Prism's own TODO in buildEventTimeBundle proposes. Unset,
# Prism runs as released (every key with pending elements in one bundle); bench/scale.py's E
# sets it to bound what the SDK worker holds per bundle, as Dataflow's per-key work items do.
# The module is vendored into .local/prism-build, the file added and the patch applied there.
#
# Idempotent: a stamp records the version and the additions built; a re-run with the same
# returns at once. A cold build downloads ~60 modules and compiles for 1-2 minutes; needs
# Go >= 1.24.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$repo/.local/bin"
src="$repo/.local/prism-build"
stamp="$bin/prism.version"
additions="$repo/scripts/prism"
version="v$(sed -n 's/^BEAM_VERSION = "\(.*\)"$/\1/p' "$repo/setup.py")"
built="$version $(cat "$additions"/* | sha256sum | cut -c1-16)"

if [[ -x "$bin/prism" && -f "$stamp" && "$(cat "$stamp")" == "$built" ]]; then
  exit 0
fi

mkdir -p "$bin"
# Serialise concurrent builds (e.g. two test sessions starting at once).
exec 9>"$bin/prism-build.lock"
flock 9
if [[ -x "$bin/prism" && -f "$stamp" && "$(cat "$stamp")" == "$built" ]]; then
  exit 0
fi

echo "build_prism: building prism $built into $bin" >&2
rm -f "$stamp"
rm -rf "$src"
mkdir -p "$src"
printf 'module prismbuild\n\ngo 1.24\n' > "$src/go.mod"
internal="$src/vendor/github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism/internal"
# (errexit does not apply inside an if's condition: each step is chained with &&.)
if ! (
  cd "$src" &&
    GOFLAGS=-mod=mod go get -tool "github.com/apache/beam/sdks/v2/go/cmd/prism@$version" &&
    go mod vendor &&
    cp "$additions/max_keys_per_bundle.go" "$internal/engine/" &&
    patch --quiet -d "$internal" -p1 < "$additions/keys_per_bundle.patch" &&
    go build -mod=vendor -o "$bin/prism" github.com/apache/beam/sdks/v2/go/cmd/prism
) > "$src/build.log" 2>&1; then
  cat "$src/build.log" >&2
  exit 1
fi
echo "$built" > "$stamp"
