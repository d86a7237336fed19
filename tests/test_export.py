"""Exports for other engines: a merged GGUF (+ Ollama Modelfile) that transformers reads back with the same
greedy answers, and the vLLM command/config for the base model plus the adapter."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

PROMPTS = ["What is a bond?", "Is the stock bullish?", "Shares fell as the bank cut its price target."]


def _run_with_adapter(base_dir: str, home: Path, name: str = "tiny-run", rank: int = 8) -> str:
    """A finished-looking run whose adapter is random but non-zero (so merging really changes the weights)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from trainer import registry

    torch.manual_seed(1)
    model = AutoModelForCausalLM.from_pretrained(base_dir)
    peft_model = get_peft_model(model, LoraConfig(r=rank, lora_alpha=2 * rank, target_modules="all-linear", init_lora_weights=False))
    folder = registry.create_run({"name": name, "base_model": base_dir, "status": "completed"})
    peft_model.save_pretrained(folder / "adapter")
    AutoTokenizer.from_pretrained(base_dir).save_pretrained(folder / "adapter")
    return folder.name


def _greedy(model, tokenizer, prompt: str, n: int = 12) -> list[int]:
    import torch

    ids = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.inference_mode():
        out = model.generate(**ids, max_new_tokens=n, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    return out[0, ids["input_ids"].shape[1]:].tolist()


@pytest.fixture
def tiny_run(tmp_home, tmp_path):
    from trainer.testing import tiny_model_dir

    base = str(tiny_model_dir(tmp_path))
    return _run_with_adapter(base, tmp_home), base


def test_gguf_export_reads_back_with_the_same_greedy_answers(tiny_run, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from trainer import registry
    from trainer.export import export_gguf, merged_model

    run_id, _ = tiny_run
    gguf = export_gguf(run_id, tmp_path / "out", tensor_type="f32")
    merged, tokenizer = merged_model(registry.find_run(run_id))
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded_tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    assert loaded_tok.chat_template == tokenizer.chat_template  # the training template travels with the weights
    for prompt in PROMPTS:
        assert loaded_tok(prompt)["input_ids"] == tokenizer(prompt)["input_ids"]
        assert _greedy(loaded, tokenizer, prompt) == _greedy(merged, tokenizer, prompt)
    ids = tokenizer(PROMPTS[0], return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        torch.testing.assert_close(loaded(ids).logits, merged(ids).logits, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("tensor_type, min_correlation", [("bf16", 0.9999), ("q8_0", 0.99), ("q4_1", 0.95)])
def test_quantized_gguf_reads_back_close_to_the_merged_model(tiny_run, tmp_path, tensor_type, min_correlation):
    import torch
    from gguf import GGUFReader
    from transformers import AutoModelForCausalLM

    from trainer import registry
    from trainer.export import export_gguf, merged_model

    gguf = export_gguf(tiny_run[0], tmp_path / "out", tensor_type=tensor_type)
    weight_types = {t.tensor_type.name for t in GGUFReader(gguf).tensors if len(t.shape) == 2 and t.name != "token_embd.weight"}
    assert weight_types == {tensor_type.upper()}  # the matrices are stored in the requested type, not silently f16
    merged, tokenizer = merged_model(registry.find_run(tiny_run[0]))
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    ids = tokenizer(PROMPTS[0], return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        a, b = loaded(ids).logits.flatten(), merged(ids).logits.flatten()
    # quantization noise on a 32-wide random model (unpermuted q/k rows would fall far below)
    assert torch.corrcoef(torch.stack([a, b]))[0, 1] > min_correlation


def test_tied_embeddings_are_not_duplicated(tiny_run, tmp_path):
    from gguf import GGUFReader

    from trainer.export import export_gguf

    gguf = export_gguf(tiny_run[0], tmp_path / "out")
    names = {t.name for t in GGUFReader(gguf).tensors}
    assert "token_embd.weight" in names and "output.weight" not in names  # llama.cpp reuses token_embd, like its converter


def test_modelfile_carries_the_chat_template(tiny_run, tmp_path):
    from trainer.export import export_gguf

    gguf = export_gguf(tiny_run[0], tmp_path / "out")
    modelfile = (gguf.parent / "Modelfile").read_text()
    assert modelfile.startswith(f"FROM ./{gguf.name}\n")
    assert "<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>" in modelfile and modelfile.rstrip().endswith("PARAMETER temperature 0")
    assert 'PARAMETER stop "<|im_end|>"' in modelfile


def test_modelfile_keeps_the_default_system_text_used_in_training():
    from transformers import AutoTokenizer

    from fintune.gguf_export import default_system_prompt, ollama_modelfile
    from trainer.testing import tiny_model_dir

    import tempfile

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir(tempfile.mkdtemp()))
    tokenizer.chat_template = ("{% if messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nBe brief.<|im_end|>\n' }}{% endif %}"
                               + tokenizer.chat_template)
    assert default_system_prompt(tokenizer) == "Be brief."
    assert 'SYSTEM """Be brief."""' in ollama_modelfile("m.gguf", tokenizer)


def test_vllm_export_writes_a_runnable_command(tiny_run, tmp_path):
    from trainer.export import export_vllm

    run_id, base = tiny_run
    script = export_vllm(run_id, tmp_path / "vllm")
    argv = shlex.split(script.read_text().splitlines()[-1])
    assert argv[:4] == ["exec", "vllm", "serve", base] and argv[-1] == "$@"
    assert "--enable-lora" in argv
    assert argv[argv.index("--served-model-name") + 1] == Path(base).name  # not this machine's folder path
    name, adapter = argv[argv.index("--lora-modules") + 1].split("=", 1)
    assert name == "tiny-run"
    assert json.loads((Path(adapter) / "adapter_config.json").read_text())["r"] <= int(argv[argv.index("--max-lora-rank") + 1])
    assert (Path(adapter) / "adapter_model.safetensors").is_file() and (Path(base) / "config.json").is_file()
    config = (script.parent / "vllm_config.yaml").read_text()
    assert f'"tiny-run={adapter}"' in config and "enable-lora: true" in config
    assert f'served-model-name: "{Path(base).name}"' in config
    request = (script.parent / "request_example.sh").read_text()
    assert '"model": "tiny-run"' in request and "/v1/chat/completions" in request


def _request_body(script: Path) -> dict:
    curl = shlex.split((script.parent / "request_example.sh").read_text())
    return json.loads(curl[curl.index("-d") + 1])


def test_vllm_request_example_asks_what_the_run_was_trained_for(tiny_run, tmp_path):
    """The example sends the run's own first validation prompt in FinTune's chat settings; a classifier's answer is
    held to its labels, as FinTune's chat answers a classifier run with a label."""
    from fintune.engine import GenerationSettings
    from trainer import registry
    from trainer.export import export_vllm

    run_id, _ = tiny_run
    run_dir = registry.find_run(run_id).run_dir
    (run_dir / "data" / "val.jsonl").write_text(json.dumps({"prompt": "Shares fell 5% on 'weak' guidance", "completion": "bearish"}) + "\n")
    body = _request_body(export_vllm(run_id, tmp_path / "free"))
    assert body["messages"] == [{"role": "user", "content": "Shares fell 5% on 'weak' guidance"}]
    assert body["temperature"] == 0 and body["repetition_penalty"] == GenerationSettings().repetition_penalty
    assert "structured_outputs" not in body

    labels = ["bearish", "bullish", "neutral"]
    registry.update_record(run_dir, task="classification", labels=labels, system_prompt="Answer with one of: bearish, bullish, neutral.")
    body = _request_body(export_vllm(run_id, tmp_path / "labels"))
    # the system text the classifier was trained with, not the template's default
    assert body["messages"] == [{"role": "system", "content": "Answer with one of: bearish, bullish, neutral."},
                                {"role": "user", "content": "Shares fell 5% on 'weak' guidance"}]
    assert body["structured_outputs"] == {"choice": labels} and "repetition_penalty" not in body


def test_classifier_modelfile_carries_the_training_system_prompt(tiny_run, tmp_path):
    from trainer import registry
    from trainer.export import export_gguf

    run_id, _ = tiny_run
    registry.update_record(registry.find_run(run_id).run_dir, task="classification", labels=["bearish", "bullish"],
                           system_prompt="Answer with one of: bearish, bullish.")
    modelfile = (export_gguf(run_id, tmp_path / "out").parent / "Modelfile").read_text()
    assert 'SYSTEM """Answer with one of: bearish, bullish."""' in modelfile


def test_cli_export_gguf(tiny_run, tmp_path, capsys):
    from fintune.cli import main

    assert main(["export", tiny_run[0], "--out", str(tmp_path / "cli"), "--gguf"]) == 0
    assert "ollama create" in capsys.readouterr().out
    assert (tmp_path / "cli" / "tiny-run.gguf").is_file() and (tmp_path / "cli" / "Modelfile").is_file()


@pytest.mark.slow
def test_real_model_gguf_matches_the_merged_model_and_the_original_vocab(real_model_path, tmp_home, tmp_path):
    """The default model: same greedy answers as the merged model, and the vocabulary of the wheel's own GGUF."""
    from gguf import GGUFReader
    from transformers import AutoModelForCausalLM

    from tests.browser import home_sharing_models
    from trainer import registry
    from trainer.export import export_gguf, merged_model

    home_sharing_models(tmp_home, real_model_path)  # the built-in alias resolves without a new pull
    run_id = _run_with_adapter(real_model_path, tmp_home, name="real-run", rank=4)
    registry.update_record(registry.run_dir(run_id), base_model="smollm2-135m-instruct")
    gguf = export_gguf(run_id, tmp_path / "out", tensor_type="f32")
    merged, tokenizer = merged_model(registry.find_run(run_id))
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    for prompt in PROMPTS[:2]:
        assert _greedy(loaded, tokenizer, prompt, 24) == _greedy(merged, tokenizer, prompt, 24)
    fields = GGUFReader(gguf).fields
    assert fields["tokenizer.ggml.pre"].contents() == "smollm"
    assert len(fields["tokenizer.ggml.tokens"].data) == 49152 and len(fields["tokenizer.ggml.merges"].data) == 48900
