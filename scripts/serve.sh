#!/usr/bin/env bash
# Set everything up on a fresh machine (environment, base model), then serve the app on http://127.0.0.1:7860.
# Extra arguments go to `fintune serve`, e.g. --port 8080, or --host 0.0.0.0 --auth user:secret.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
exec "$root/.venv/bin/fintune" serve "$@"
