#!/usr/bin/env bash
# Create or update the project virtualenv at .venv (idempotent; a no-op when up to date).
# Re-installs only when setup.py or pyproject.toml changed since the last successful install.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo/.venv"
stamp="$venv/.installed-setup-sha256"
python="${PYTHON:-python3}"

want="$(cat "$repo/setup.py" "$repo/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [[ ! -x "$venv/bin/python" || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "bootstrap: installing the project into $venv (first run takes a minute or two)" >&2
  [[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip==24.3.1
  # The checkout runs pure Python: never compiled in place (docs/compiled.md).
  SEGMENT_BRANCH_PURE_PYTHON=1 "$venv/bin/python" -m pip install --quiet -e "$repo[dev]"
  echo "$want" > "$stamp"
fi
