"""Write a (merged) Llama-family Hugging Face model as one GGUF file for llama.cpp / Ollama, plus a Modelfile.

The writer follows llama.cpp's own converter (``convert_hf_to_gguf.py``, class ``LlamaModel``) with the
``gguf`` package it ships: the same tensor names, the same q/k row permutation (llama.cpp's rotary layout),
the same keys. Two pitfalls are handled on purpose:

- tied embeddings: with ``tie_word_embeddings`` and an ``lm_head`` equal to the embedding, no ``output.weight``
  is written (llama.cpp then reuses ``token_embd``), exactly like the converter; if an adapter changed the
  head, it is written so the change is not lost.
- the chat template: the tokenizer's own Jinja template (the one training used, with its default system
  text) goes into ``tokenizer.chat_template``; the Ollama Modelfile restates it in Go-template form.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from fintune.errors import ModelError

# tokenizer.ggml.pre (llama.cpp's pre-tokenizer regex) of the built-in models, as in their original GGUFs.
PRE_TOKENIZERS = {"smollm2-135m-instruct": "smollm"}
TENSOR_TYPES = ("f32", "f16", "bf16", "q8_0", "q4_1")  # q4_1 = the layout of the built-in model's own GGUF


def _permute(weights, n_head: int, n_head_kv: int | None):
    """HF rotary halves -> llama.cpp's interleaved rows (``LlamaModel.permute`` in convert_hf_to_gguf.py)."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def _check_supported(config) -> None:
    problems = []
    if config.model_type != "llama":
        problems.append(f"architecture {config.model_type!r} (only Llama-family models such as SmolLM2)")
    if getattr(config, "attention_bias", False) or getattr(config, "mlp_bias", False):
        problems.append("bias terms in attention/MLP")
    rope = getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None) or {}
    if rope.get("rope_type", "default") != "default":
        problems.append(f"rope type {rope.get('rope_type')!r}")
    if problems:
        raise ModelError("GGUF export does not support " + "; ".join(problems) + ". Export with --merge and convert "
                           "that folder with llama.cpp's convert_hf_to_gguf.py instead.")


def _vocab(tokenizer):
    """(tokens, token types, merges) in the GGUF ``gpt2`` (byte-level BPE) layout."""
    import gguf

    backend = json.loads(tokenizer.backend_tokenizer.to_str())
    if backend["model"]["type"] != "BPE":
        raise ModelError(f"GGUF export needs a byte-level BPE tokenizer, not {backend['model']['type']}.")
    size = len(tokenizer)
    tokens = tokenizer.convert_ids_to_tokens(list(range(size)))
    added = {t["id"]: t for t in backend.get("added_tokens", [])}
    types = []
    for i in range(size):
        if i in added:
            types.append(gguf.TokenType.CONTROL if added[i].get("special") else gguf.TokenType.USER_DEFINED)
        else:
            types.append(gguf.TokenType.NORMAL)
    merges = [m if isinstance(m, str) else " ".join(m) for m in backend["model"].get("merges", [])]
    return tokens, types, merges


def write_gguf(model, tokenizer, out_file: str | Path, name: str, base_alias: str | None = None, tensor_type: str = "f16") -> Path:
    """Write ``model`` (a plain, merged ``LlamaForCausalLM``) and its tokenizer to ``out_file``."""
    import gguf
    import numpy as np
    import torch

    if tensor_type not in TENSOR_TYPES:
        raise ModelError(f"GGUF tensor type {tensor_type!r} is not one of {TENSOR_TYPES}.")
    config = model.config
    _check_supported(config)
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    quant = getattr(gguf.GGMLQuantizationType, tensor_type.upper())
    file_type = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16, "bf16": gguf.LlamaFileType.MOSTLY_BF16,
                 "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0, "q4_1": gguf.LlamaFileType.MOSTLY_Q4_1}[tensor_type]
    rope_theta = (getattr(config, "rope_parameters", None) or {}).get("rope_theta", getattr(config, "rope_theta", 10000.0))

    out_file = Path(out_file)
    writer = gguf.GGUFWriter(str(out_file), "llama")
    writer.add_name(name)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_rope_freq_base(float(rope_theta))
    writer.add_layer_norm_rms_eps(float(config.rms_norm_eps))
    writer.add_rope_dimension_count(head_dim)
    writer.add_vocab_size(len(tokenizer))
    writer.add_file_type(file_type)

    tokens, types, merges = _vocab(tokenizer)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(PRE_TOKENIZERS.get(base_alias or "", "default"))
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    for add, token_id in ((writer.add_bos_token_id, tokenizer.bos_token_id), (writer.add_eos_token_id, tokenizer.eos_token_id),
                          (writer.add_unk_token_id, tokenizer.unk_token_id), (writer.add_pad_token_id, tokenizer.pad_token_id)):
        if token_id is not None:
            add(token_id)
    probe = tokenizer("a")["input_ids"]
    writer.add_add_bos_token(bool(probe) and probe[0] == tokenizer.bos_token_id)
    if tokenizer.chat_template:
        writer.add_chat_template(tokenizer.chat_template)

    state = {k: v.detach().to(torch.float32).cpu().numpy() for k, v in model.state_dict().items()}
    embed = state["model.embed_tokens.weight"]
    head = state.get("lm_head.weight")
    tensors = {"token_embd.weight": embed, "output_norm.weight": state["model.norm.weight"]}
    if head is not None and not (config.tie_word_embeddings and np.array_equal(head, embed)):
        tensors["output.weight"] = head
    names = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
             "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output", "post_attention_layernorm": "ffn_norm",
             "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}
    for key, array in state.items():
        match = re.fullmatch(r"model\.layers\.(\d+)\.(.+)\.weight", key)
        if not match:
            continue
        layer, part = match.groups()
        if part == "self_attn.q_proj":
            array = _permute(array, config.num_attention_heads, config.num_attention_heads)
        elif part == "self_attn.k_proj":
            array = _permute(array, config.num_attention_heads, config.num_key_value_heads)
        tensors[f"blk.{layer}.{names[part]}.weight"] = array
    block_quants = (gguf.GGMLQuantizationType.Q8_0, gguf.GGMLQuantizationType.Q4_1)
    for tensor_name, array in tensors.items():
        # Like llama.cpp's quantizer: norms stay float32; the embedding (also the tied head) keeps 8 bits.
        kind = gguf.GGMLQuantizationType.Q8_0 if tensor_name == "token_embd.weight" and quant in block_quants else quant
        if array.ndim == 1:
            writer.add_tensor(tensor_name, array.astype(np.float32))
        elif (kind in block_quants and array.shape[-1] % 32 == 0) or kind == gguf.GGMLQuantizationType.BF16:
            writer.add_tensor(tensor_name, gguf.quants.quantize(array, kind), raw_dtype=kind)
        else:
            writer.add_tensor(tensor_name, array.astype(np.float32 if kind == gguf.GGMLQuantizationType.F32 else np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out_file


def default_system_prompt(tokenizer) -> str | None:
    """The system text the chat template inserts when a conversation has none (what training saw), if any."""
    marker = "\x00USER\x00"
    rendered = tokenizer.apply_chat_template([{"role": "user", "content": marker}], tokenize=False)
    match = re.search(r"<\|im_start\|>system\n(.*?)<\|im_end\|>", rendered.split(marker, 1)[0], re.S)
    return match.group(1) if match else None


def ollama_modelfile(gguf_name: str, tokenizer, temperature: float = 0.0, system: str | None = None) -> str:
    """An Ollama Modelfile for a ChatML model: the same turns as the Jinja template, and the system text training
    saw: ``system`` (a run's own, e.g. a classifier's label instruction), else the template's default."""
    if "<|im_start|>" not in (tokenizer.chat_template or ""):
        raise ModelError("The Ollama Modelfile is written for ChatML chat templates (<|im_start|>…). "
                           "Use the GGUF with llama.cpp, which reads the template stored inside it.")
    system = system if system is not None else default_system_prompt(tokenizer)
    template = (
        "{{- if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}"
        "{{- range .Messages }}{{ if ne .Role \"system\" }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}{{ end }}"
        "<|im_start|>assistant\n"
    )
    lines = [f"FROM ./{gguf_name}", f'TEMPLATE """{template}"""']
    if system:
        lines.append(f'SYSTEM """{system}"""')
    lines += ['PARAMETER stop "<|im_end|>"', f"PARAMETER temperature {temperature:g}"]
    return "\n".join(lines) + "\n"


def merged_from_adapter(base_model: str | None, adapter_dir: str | Path | None, dtype: str = "float32"):
    """(the base model with the PEFT adapter merged into plain weights, or the pure base when None; its tokenizer)."""
    from fintune.models import load_model, load_tokenizer

    model = load_model(base_model, dtype=dtype, device="cpu")
    if adapter_dir is None:
        return model.eval(), load_tokenizer(base_model)
    from peft import PeftModel
    from transformers import AutoTokenizer

    merged = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    # Training saves its tokenizer beside the adapter; an adapter made elsewhere may have none.
    has_tokenizer = any((Path(adapter_dir) / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json"))
    return merged.eval(), AutoTokenizer.from_pretrained(str(adapter_dir)) if has_tokenizer else load_tokenizer(base_model)


def serving_gguf(base_model: str | None, adapter_dir: str | Path | None, tensor_type: str) -> Path:
    """The GGUF the fast chat path serves, converted once and cached.

    Base: ``$FINTUNE_HOME/models/serve/<base>.<type>.gguf``. A run: ``<run>/serve/merged.<type>.gguf`` beside its
    ``adapter/``, rebuilt when the adapter file is newer (a resumed run saves a new adapter).
    """
    import hashlib

    from filelock import FileLock

    from fintune import paths
    from fintune.models import requested_name

    name = requested_name(base_model)
    if adapter_dir is None:
        stem = re.sub(r"[^A-Za-z0-9._-]", "_", name)[:60] + "-" + hashlib.sha256(name.encode()).hexdigest()[:8]
        target, source = paths.models_dir() / "serve" / f"{stem}.{tensor_type}.gguf", None
    else:
        adapter = Path(adapter_dir)
        target = adapter.parent / "serve" / f"merged.{tensor_type}.gguf"
        source = max((p.stat().st_mtime for p in adapter.glob("adapter_model.*")), default=0)
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if target.is_file() and (source is None or target.stat().st_mtime >= source):
            return target
        model, tokenizer = merged_from_adapter(base_model, adapter_dir)
        partial = target.with_suffix(".partial")
        write_gguf(model, tokenizer, partial, name=name if adapter_dir is None else Path(adapter_dir).parent.name,
                   base_alias=name, tensor_type=tensor_type)
        partial.replace(target)  # atomic: a half-written file is never served
    return target
