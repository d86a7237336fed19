#!/usr/bin/env bash
# Create (or reuse) FinTune's Python environment and link it at .venv. Idempotent and safe to re-run.
#
# The heavy environment (torch, transformers, gradio, ...) is cached OUTSIDE the checkout, keyed by the
# hash of requirements.lock and the Python version, so reruns, other clones and CI reuse it:
#   ${FINTUNE_ENV_CACHE:-~/.cache/fintune-envs}/<hash>/
# .venv is a tiny per-checkout venv that sees the cached packages and this checkout's code, and holds
# the `fintune` command (.venv/bin/fintune).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${FINTUNE_PYTHON:-python3}"
cache="${FINTUNE_ENV_CACHE:-$HOME/.cache/fintune-envs}"
pyver="$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
# llama.cpp for the fast chat path is compiled here. -march=native builds crash on these VMs, so the SIMD
# levels are named from /proc/cpuinfo (on an AVX-512 VM the VNNI/VBMI/BF16 levels made the default q8_0 chat
# 8% faster for one user and 14% for 20; docs/serving.md). They are part of the key: a build for one CPU
# must not be reused on another.
simd="-DGGML_NATIVE=OFF"
for flag in avx2:AVX2 avx512f:AVX512 avx512vbmi:AVX512_VBMI avx512_vnni:AVX512_VNNI avx512_bf16:AVX512_BF16; do
  grep -qw "${flag%%:*}" /proc/cpuinfo 2>/dev/null && simd="$simd -DGGML_${flag#*:}=ON"
done
key="$( (cat "$root/requirements.lock" "$root/requirements-native.txt"; echo "py$pyver"; echo "$simd") | sha256sum | cut -c1-16)"
env="$cache/$key"

if [ ! -f "$env/.complete" ]; then
  echo "[setup] creating the environment in $env (first run: several minutes)" >&2
  mkdir -p "$cache"
  partial="$env.partial.$$"
  rm -rf "$partial"
  "$python" -m venv "$partial"
  # Each step keeps pip's output in a log; on failure it names the step and prints that log, so a broken
  # install fails loudly instead of ending the script silently.
  step() {
    local name="$1"; shift
    local log="$partial.log"
    echo "[setup] $name" >&2
    if ! "$partial/bin/python" -m pip install --disable-pip-version-check -q "$@" >"$log" 2>&1; then
      echo "[setup] FAILED: $name (pip install $*). pip said:" >&2
      cat "$log" >&2
      exit 1
    fi
    rm -f "$log"
  }
  step "upgrading pip" --upgrade pip
  # torch first, pinned: on machines without a GPU the CPU build comes from local disk / the CPU index,
  # instead of several GB of CUDA wheels.
  step "installing torch (CPU build)" "$(grep -E '^torch==' "$root/requirements.lock")"
  step "installing the locked requirements" -r "$root/requirements.lock"
  # llama.cpp: ~4 min on a quiet 2-core CPU, far longer on a loaded one. --no-cache-dir: pip's wheel cache
  # is keyed by the sdist alone, so it would hand back a wheel built with other CMAKE_ARGS (and hide a
  # broken compile from CI); this environment, keyed by $simd, is the cache instead.
  # FINTUNE_SKIP_NATIVE=1 skips it: chat then runs on transformers (slower, same answers).
  if [ "${FINTUNE_SKIP_NATIVE:-0}" != "1" ]; then
    CMAKE_ARGS="$simd" step "building llama-cpp-python with $simd (fast chat engine; compiles llama.cpp)" \
      --no-cache-dir -r "$root/requirements-native.txt"
  fi
  # venvs hard-code their own path: build in place under the final name.
  rm -rf "$env"
  mv "$partial" "$env"
  "$python" -m venv --upgrade "$env" >/dev/null
  touch "$env/.complete"
fi

# Per-checkout .venv: the cached site-packages + this checkout on sys.path, and the fintune command.
venv="$root/.venv"
if [ -L "$venv" ] || [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.fintune-env" 2>/dev/null)" != "$env" ]; then
  rm -rf "$venv"
  "$python" -m venv --without-pip "$venv"
  site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  env_site="$("$env/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  printf 'import site; site.addsitedir(%s)\n' "'$env_site'" > "$site/_fintune_env.pth"
  printf '%s\n' "$root" > "$site/_fintune_checkout.pth"
  cat > "$venv/bin/fintune" <<PY
#!$venv/bin/python
import sys
from fintune.cli import main
sys.exit(main())
PY
  chmod +x "$venv/bin/fintune"
  echo "$env" > "$venv/.fintune-env"
fi
echo "[setup] environment ready: $venv -> $env" >&2
