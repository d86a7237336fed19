#!/usr/bin/env bash
# Set everything up on a fresh machine (environment, base model, headless Chromium), then run the tests.
# Extra arguments go to pytest, e.g. `-m "not slow"` for the fast tests only.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
# Browser tests drive Debian's Chromium (Playwright cannot download its own browser here).
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "[test] installing chromium for the browser tests" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) >&2
fi
"$root/.venv/bin/fintune" models pull
cd "$root"
exec "$root/.venv/bin/python" -m pytest "$@"
