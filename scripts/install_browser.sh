#!/usr/bin/env bash
# Install Debian's headless Chromium + ChromeDriver for the browser tests (idempotent).
# Playwright's own browser download cannot work on our machines (no network but the
# package registries), so the tests drive this Chromium via executable_path instead;
# the Python driver package comes with the project's dev extras (setup.py).
set -euo pipefail
if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
  exit 0
fi
sudo=""
[[ "$(id -u)" == 0 ]] || sudo="sudo"
echo "install_browser: installing chromium and chromium-driver from Debian" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
/usr/bin/chromium --version >&2
