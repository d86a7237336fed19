"""The chat engine: one loaded base model per process, optional PEFT adapters, streaming generation.

Two paths serve ``stream``/``generate``:
- fast (default on CPU when llama-cpp-python is installed): llama.cpp over a GGUF of the base, or of a run's
  merged model (converted once, cached in the run folder), with concurrent requests decoded in one batch
  (``fintune.native_engine``);
- reference: transformers + PEFT, serialised by a lock (a second concurrent ``generate`` only splits the
  same cores, and the lock keeps adapter switching safe). ``generate_batch`` (evaluation) always uses it.
``adapter=None`` always means the pure base model, so comparisons against the base are honest.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

from fintune.errors import ModelError
from fintune.models import requested_name

ROLES = ("system", "user", "assistant")
BACKENDS = ("auto", "llama.cpp", "transformers")


@dataclass
class ServingConfig:
    """Which engine answers chats; from the environment (``FINTUNE_CHAT_ENGINE``, ``FINTUNE_CHAT_GGUF_TYPE``, ``FINTUNE_CHAT_SLOTS``)."""

    backend: str = field(default="auto", metadata={"help": f"One of {BACKENDS}: auto = llama.cpp on CPU when installed, else transformers."})
    gguf_type: str = field(default="q8_0", metadata={"help": "GGUF tensor type served by llama.cpp: q8_0 keeps a fine-tune's small weight changes and is the fastest for one user; bf16 is lossless for a bf16 fine-tune and, on a CPU with AVX512_BF16, batches many users faster but answers one user ~30% slower; q4_1 = the built-in model's own layout."})
    slots: int = field(default=20, metadata={"help": "Answers decoded together in one llama.cpp batch (each reserves a 2,048-token KV cache, ~47 MB for the 135M model); more users wait for a free slot."})
    threads: int = field(default=0, metadata={"help": "llama.cpp threads for a step that decodes one answer; 0 = auto."})
    batch_threads: int = field(default=0, metadata={"help": "llama.cpp threads for a step that decodes several answers or a prompt; 0 = auto."})

    def __post_init__(self) -> None:
        from fintune.gguf_export import TENSOR_TYPES

        if self.backend not in BACKENDS:
            raise ModelError(f"FINTUNE_CHAT_ENGINE={self.backend!r} is not one of {BACKENDS}.")
        if self.gguf_type not in TENSOR_TYPES:
            raise ModelError(f"FINTUNE_CHAT_GGUF_TYPE={self.gguf_type!r} is not one of {TENSOR_TYPES}.")
        if not 1 <= int(self.slots) <= 64:
            raise ModelError(f"FINTUNE_CHAT_SLOTS={self.slots!r}: use 1 to 64.")
        self.slots = int(self.slots)
        for name, var in (("threads", "FINTUNE_CHAT_THREADS"), ("batch_threads", "FINTUNE_CHAT_BATCH_THREADS")):
            if not str(getattr(self, name)).isdigit():
                raise ModelError(f"{var}={getattr(self, name)!r}: use a whole number of threads, or 0 for auto.")
            setattr(self, name, int(getattr(self, name)))

    @classmethod
    def from_env(cls) -> "ServingConfig":
        """The fields whose variable is set; the rest keep the defaults above."""
        names = {"backend": "FINTUNE_CHAT_ENGINE", "gguf_type": "FINTUNE_CHAT_GGUF_TYPE", "slots": "FINTUNE_CHAT_SLOTS",
                 "threads": "FINTUNE_CHAT_THREADS", "batch_threads": "FINTUNE_CHAT_BATCH_THREADS"}
        return cls(**{field_name: os.environ[var] for field_name, var in names.items() if var in os.environ})


@dataclass
class GenerationSettings:
    """Sampling settings shared by chat, compare and evaluation."""

    temperature: float = field(default=0.7, metadata={"help": "0 = greedy (deterministic); higher = more varied."})
    top_p: float = field(default=0.9, metadata={"help": "Nucleus sampling: keep the smallest token set with this much probability."})
    max_new_tokens: int = field(default=256, metadata={"help": "Upper bound on the answer length in tokens."})
    repetition_penalty: float = field(default=1.1, metadata={"help": "Above 1 discourages loops, which small models fall into."})
    max_context_tokens: int = field(default=2048, metadata={"help": "Older turns are dropped to keep the prompt under this length."})

    def __post_init__(self) -> None:
        checks = [
            ("temperature", 0 <= self.temperature <= 2, "use 0 (greedy) to 2"),
            ("top_p", 0 < self.top_p <= 1, "use a value in (0, 1]"),
            ("max_new_tokens", 1 <= int(self.max_new_tokens) <= 4096, "use 1 to 4096"),
            ("repetition_penalty", 1 <= self.repetition_penalty <= 2, "use 1.0 (off) to 2.0"),
            ("max_context_tokens", int(self.max_context_tokens) >= 128, "use at least 128"),
        ]
        for name, ok, fix in checks:
            if not ok:
                raise ModelError(f"Generation setting `{name}`={getattr(self, name)!r} is out of range: {fix}.")
        self.max_new_tokens = int(self.max_new_tokens)

    def to_generate_kwargs(self) -> dict:
        kwargs = dict(max_new_tokens=self.max_new_tokens, repetition_penalty=self.repetition_penalty)
        if self.temperature == 0:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        else:
            kwargs.update(do_sample=True, temperature=self.temperature, top_p=self.top_p, top_k=None)
        return kwargs

    def to_dict(self) -> dict:
        return asdict(self)


def validate_messages(messages: list[dict]) -> list[dict]:
    """Check chat messages are ``{"role", "content": str}`` dicts ending with a user turn."""
    if not messages:
        raise ModelError("No message to answer: type a question first.")
    clean = []
    for i, message in enumerate(messages):
        role, content = message.get("role"), message.get("content")
        if role not in ROLES or not isinstance(content, str):
            raise ModelError(f"Message {i} is malformed (role={role!r}); each message needs a role in {ROLES} and text content.")
        clean.append({"role": role, "content": content})
    if clean[-1]["role"] != "user":
        raise ModelError("The last message must come from the user.")
    return clean


class _Stop:
    """A StoppingCriteria-compatible flag that ends generation at the next token."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


@dataclass
class _ScoreRequest:
    """One conversation waiting to be scored; a batch leader fills ``scores`` or ``error`` and sets ``done``."""

    conversation: list[dict]
    key: tuple  # (labels, adapter): requests score together only when both match
    done: threading.Event = field(default_factory=threading.Event)
    scores: object = None
    error: BaseException | None = None


class ChatEngine:
    """A loaded base model (+ any adapters) shared by every user of this process."""

    _instances: dict[str, "ChatEngine"] = {}
    _instances_lock = threading.Lock()

    @classmethod
    def shared(cls, base_model: str | None = None) -> "ChatEngine":
        key = requested_name(base_model)
        with cls._instances_lock:
            if key not in cls._instances:
                cls._instances[key] = cls(key)
            return cls._instances[key]

    def __init__(self, base_model: str | None = None, dtype: str | None = None, device: str | None = None,
                 serving: ServingConfig | None = None):
        import sys

        import torch

        from fintune.models import default_device, load_model, load_tokenizer

        self.name = requested_name(base_model)
        self.device = device or default_device()
        # bf16 decodes ~1.5x faster than fp32 on recent CPUs and is the native dtype on GPUs.
        self.dtype = dtype or "bfloat16"
        if self.device == "cpu":
            torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))
        started = time.perf_counter()
        self.tokenizer = load_tokenizer(self.name)
        self.model = load_model(self.name, dtype=self.dtype, device=self.device)
        self.model.eval()
        self.load_seconds = time.perf_counter() - started
        self._lock = threading.Lock()
        self._score_leader = threading.Lock()  # one batch of waiting label-scoring requests at a time
        self._score_queue: list[_ScoreRequest] = []
        self._score_queue_lock = threading.Lock()
        self._adapters: dict[str, str] = {}  # resolved adapter path -> adapter name
        self.serving = serving or ServingConfig.from_env()
        self._native: dict[str | None, object] = {}  # adapter path (None = base) -> NativeEngine
        self._native_lock = threading.Lock()
        self._tokenizer_lock = threading.Lock()  # a fast tokenizer must not be used by two threads at once
        self.engine_note = self._choose_backend()
        if self.serving.backend == "auto" and self.engine_note:
            print(f"note: chat runs on transformers: {self.engine_note}", file=sys.stderr)

    def _choose_backend(self) -> str | None:
        """None when the llama.cpp path serves chats; otherwise why transformers does."""
        from fintune import native_engine

        if self.serving.backend == "transformers":
            return "chosen with FINTUNE_CHAT_ENGINE=transformers"
        if self.device != "cpu" and self.serving.backend == "auto":
            return f"device {self.device} (llama.cpp is built for CPU here)"
        reason = native_engine.available()
        if reason and self.serving.backend == "llama.cpp":
            raise ModelError(f"FINTUNE_CHAT_ENGINE=llama.cpp but {reason}. Run scripts/setup.sh, or unset FINTUNE_CHAT_ENGINE.")
        return reason

    # ----------------------------------------------------------------------------------- info
    def info(self) -> dict:
        base = self.model.get_base_model() if self._adapters else self.model
        return {
            "name": self.name,
            "parameters": sum(p.numel() for p in base.parameters()),
            "dtype": self.dtype,
            "device": self.device,
            "engine": f"llama.cpp (GGUF {self.serving.gguf_type}, {self.serving.slots} batched slots)" if self.engine_note is None else "transformers",
            "engine_note": self.engine_note,
            "adapters_loaded": sorted(set(self._adapters) | {key for key in self._native if key}),  # either path
            "load_seconds": round(self.load_seconds, 2),
        }

    # ----------------------------------------------------------------------------------- adapters
    @staticmethod
    def _adapter_path(adapter: str | Path) -> Path:
        path = Path(adapter).expanduser().resolve()
        if not (path / "adapter_config.json").is_file():
            raise ModelError(f"No PEFT adapter at {path} (adapter_config.json missing). Pick a finished run, or train one in the Train tab.")
        return path

    def _activate(self, adapter: str | Path | None):
        """Select the adapter for the next generation; returns a context manager. Call with the lock held."""
        if adapter is None:
            return self.model.disable_adapter() if self._adapters else nullcontext()
        path = self._adapter_path(adapter)
        key = str(path)
        if key not in self._adapters:
            from peft import PeftModel

            name = f"adapter{len(self._adapters)}"
            try:
                if self._adapters:
                    self.model.load_adapter(key, adapter_name=name)
                else:
                    self.model = PeftModel.from_pretrained(self.model, key, adapter_name=name)
            except (ValueError, RuntimeError, OSError) as exc:
                raise ModelError(f"The adapter at {path} does not fit base model '{self.name}': {str(exc).splitlines()[0]}. Chat with the base model it was trained on.") from exc
            self.model.eval()
            self._adapters[key] = name
        self.model.set_adapter(self._adapters[key])
        return nullcontext()

    # ----------------------------------------------------------------------------------- prompts
    def _encode(self, messages: list[dict], settings: GenerationSettings):
        messages = validate_messages(messages)
        budget = settings.max_context_tokens - settings.max_new_tokens
        while True:
            ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
            first_turn = 1 if messages[0]["role"] == "system" else 0
            # Drop the oldest exchange until the prompt fits; never the system prompt or the last question.
            if ids["input_ids"].shape[1] <= max(budget, 64) or len(messages) - first_turn <= 1:
                return {k: v.to(self.model.device) for k, v in ids.items()}
            del messages[first_turn : first_turn + 2]

    # ----------------------------------------------------------------------------------- generation
    def native(self, adapter: str | Path | None = None):
        """The llama.cpp engine for the base (None) or a run's merged adapter, converting its GGUF on first use."""
        from fintune.gguf_export import serving_gguf
        from fintune.native_engine import NativeEngine

        key = None if adapter is None else str(self._adapter_path(adapter))
        with self._native_lock:
            if key not in self._native:
                gguf = serving_gguf(self.name, key, self.serving.gguf_type)
                self._native[key] = NativeEngine(gguf, slots=self.serving.slots, ctx_per_slot=GenerationSettings().max_context_tokens,
                                                threads=self.serving.threads, batch_threads=self.serving.batch_threads)
            return self._native[key]

    def _stream_native(self, messages: list[dict], settings: GenerationSettings, adapter) -> Iterator[str]:
        engine = self.native(adapter)
        with self._tokenizer_lock:
            prompt = self._encode(messages, settings)["input_ids"][0].tolist()
        eos = self.model.generation_config.eos_token_id
        eos = set(eos if isinstance(eos, list) else [eos if eos is not None else self.tokenizer.eos_token_id])
        tokens: list[int] = []
        shown = ""
        for token in engine.stream(prompt, settings, eos):
            tokens.append(token)
            with self._tokenizer_lock:
                text = self.tokenizer.decode(tokens, skip_special_tokens=True)
            if text.endswith("\ufffd"):  # half of a multi-byte character: wait for the rest
                continue
            delta, shown = text[len(shown):], text
            if delta:
                yield delta
        if tokens and text != shown:  # the answer ended inside a character: show what there is, as the reference does
            yield text[len(shown):]

    def stream(self, messages: list[dict], settings: GenerationSettings | None = None, adapter: str | Path | None = None) -> Iterator[str]:
        """Yield the answer as text deltas. Closing the iterator stops generation at the next token."""
        if self.engine_note is None:
            return self._stream_native(messages, settings or GenerationSettings(), adapter)
        return self.stream_reference(messages, settings, adapter)

    def stream_reference(self, messages: list[dict], settings: GenerationSettings | None = None, adapter: str | Path | None = None) -> Iterator[str]:
        """``stream`` through transformers + PEFT whatever the serving path (the reference the fast path is tested against)."""
        import torch
        from transformers import StoppingCriteriaList, TextIteratorStreamer

        settings = settings or GenerationSettings()
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600)
        stop = _Stop()
        failure: list[BaseException] = []

        def run() -> None:
            try:
                with self._lock, torch.inference_mode():
                    inputs = self._encode(messages, settings)
                    with self._activate(adapter):
                        self.model.generate(**inputs, **settings.to_generate_kwargs(), streamer=streamer,
                                            stopping_criteria=StoppingCriteriaList([stop]),
                                            pad_token_id=self.tokenizer.pad_token_id)
            except BaseException as exc:  # surfaced to the consumer below
                failure.append(exc)
                streamer.on_finalized_text("", stream_end=True)

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        try:
            for delta in streamer:
                if delta:
                    yield delta
        finally:
            stop.event.set()
            worker.join()
        if failure:
            raise failure[0]

    def generate(self, messages: list[dict], settings: GenerationSettings | None = None, adapter: str | Path | None = None) -> str:
        return "".join(self.stream(messages, settings, adapter)).strip()

    def generate_batch(self, conversations: list[list[dict]], settings: GenerationSettings | None = None,
                       adapter: str | Path | None = None, batch_size: int = 8, progress=None) -> list[str]:
        """Answer many conversations (left-padded batches); ``progress(done, total)`` after each batch."""
        import torch

        settings = settings or GenerationSettings(temperature=0)
        texts = [self.tokenizer.apply_chat_template(validate_messages(c), add_generation_prompt=True, tokenize=False) for c in conversations]
        answers: list[str] = []
        side = self.tokenizer.padding_side
        with self._lock, torch.inference_mode(), self._activate(adapter):
            self.tokenizer.padding_side = "left"
            try:
                for start in range(0, len(texts), batch_size):
                    batch = self.tokenizer(texts[start : start + batch_size], return_tensors="pt", padding=True, add_special_tokens=False).to(self.model.device)
                    out = self.model.generate(**batch, **settings.to_generate_kwargs(), pad_token_id=self.tokenizer.pad_token_id)
                    new_tokens = out[:, batch["input_ids"].shape[1]:]
                    answers += [t.strip() for t in self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]
                    if progress:
                        progress(len(answers), len(texts))
            finally:
                self.tokenizer.padding_side = side
        return answers

    def score_labels(self, conversations: list[list[dict]], labels: list[str], adapter: str | Path | None = None,
                     batch_size: int = 8, progress=None) -> list:
        """Label-aware answers: ``fintune.label_scoring.LabelScores`` per conversation (best label + probabilities)."""
        import torch

        from fintune.label_scoring import score_label_batch

        texts = [self.tokenizer.apply_chat_template(validate_messages(c), add_generation_prompt=True, tokenize=False) for c in conversations]
        scores: list = []
        with self._lock, torch.inference_mode(), self._activate(adapter):
            for start in range(0, len(texts), batch_size):
                scores += score_label_batch(self.model, self.tokenizer, texts[start : start + batch_size], labels, batch_size)
                if progress:
                    progress(len(scores), len(texts))
        return scores

    def score_label(self, conversation: list[dict], labels: list[str], adapter: str | Path | None = None,
                    max_batch: int = 8):
        """One conversation's ``LabelScores`` (a classifier run's answer in Chat, Compare and ``/chat``). Callers that
        arrive together are scored together: the first to get the model takes every waiting request with the same
        labels and adapter, up to ``max_batch``, into one ``score_labels`` batch (20 users asking a tweet classifier
        at once: see docs/serving.md), and the others find their answer ready."""
        request = _ScoreRequest(validate_messages(conversation), (tuple(labels), str(adapter) if adapter else None))
        with self._score_queue_lock:
            self._score_queue.append(request)
        with self._score_leader:
            if not request.done.is_set():
                with self._score_queue_lock:
                    batch = [request] + [r for r in self._score_queue if r is not request and r.key == request.key][: max_batch - 1]
                    for r in batch:
                        self._score_queue.remove(r)
                try:
                    scores = self.score_labels([r.conversation for r in batch], list(labels), adapter, batch_size=max_batch)
                except BaseException as exc:  # noqa: BLE001 - every request of the batch gets the failure
                    scores = [None] * len(batch)
                    for r in batch:
                        r.error = exc
                for r, score in zip(batch, scores):
                    r.scores = score
                    r.done.set()
        if request.error is not None:
            raise request.error
        return request.scores
