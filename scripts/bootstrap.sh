#!/usr/bin/env bash
# Create or update the project virtualenv at .venv (idempotent; a no-op when up to date).
# Re-installs only when setup.py changed since the last successful install.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo/.venv"
stamp="$venv/.installed-setup-sha256"
python="${PYTHON:-python3}"

want="$(sha256sum "$repo/setup.py" | cut -d' ' -f1)"
if [[ ! -x "$venv/bin/python" || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "bootstrap: installing the project into $venv (first run takes a minute or two)" >&2
  [[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip==24.3.1
  # Cython: scripts/build_compiled.py compiles the domain modules with it (pinned in setup.py).
  cython_version="$(sed -n 's/^CYTHON_VERSION = "\([^"]*\)".*/\1/p' "$repo/setup.py")"
  "$venv/bin/python" -m pip install --quiet "Cython==$cython_version"
  # The checkout runs pure Python: never compiled in place (docs/compiled.md).
  SEGMENT_BRANCH_PURE_PYTHON=1 "$venv/bin/python" -m pip install --quiet -e "$repo[dev]"
  echo "$want" > "$stamp"
fi
