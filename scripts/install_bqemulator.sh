#!/usr/bin/env bash
# Install the BigQuery emulator (bqemulator) into <repo>/.local/bqemulator-venv.
#
# Idempotent: a stamp file holds the hash of scripts/bqemulator-requirements.txt, so a
# re-run with an unchanged file and a loadable spatial extension returns at once.
# Uses $PYTHON (default python3) to create the venv.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
reqs="$repo/scripts/bqemulator-requirements.txt"
venv="$repo/.local/bqemulator-venv"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$reqs" | cut -d' ' -f1)"

# DuckDB installs extensions per user (~/.duckdb/extensions), outside the venv, so the
# stamp alone cannot prove the extension is there: also try to load it.
spatial_loads() {
  "$venv/bin/python" -c "import duckdb; duckdb.connect().execute('LOAD spatial')" 2>/dev/null
}

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && spatial_loads; then
  exit 0
fi

mkdir -p "$repo/.local"
# Serialise concurrent installs (e.g. two test sessions starting at once).
exec 9>"$repo/.local/bqemulator-install.lock"
flock 9

echo "install_bqemulator: installing into $venv" >&2
rm -f "$stamp"
[[ -x "$venv/bin/python" ]] || "${PYTHON:-python3}" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$reqs"

# The emulator cannot download the spatial extension at start-up; install it from the
# file shipped in the duckdb-extension-spatial package.
"$venv/bin/python" - <<'PY'
import glob, os
import duckdb, duckdb_extension_spatial as pkg

path, = glob.glob(os.path.join(os.path.dirname(pkg.__file__), "extensions", "*", "spatial.duckdb_extension"))
con = duckdb.connect()
con.execute(f"FORCE INSTALL '{path}'")
con.execute("LOAD spatial")
PY

echo "$want" > "$stamp"
echo "install_bqemulator: done" >&2
