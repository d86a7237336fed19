"""The fast serving path: llama.cpp (``llama-cpp-python``) over one GGUF, every concurrent request in one batch.

One scheduler thread owns the llama.cpp context. Each step it builds one ``llama_batch`` holding the next
token of every running answer plus (a chunk of) the prompt of each newly admitted request, calls
``llama_decode`` once, and samples one token per answer from its logits (continuous batching, as
llama.cpp's own server does). So 8 users cost about one batched step each, a new user's prompt joins the
next step instead of waiting for the others to finish, and Stop frees a slot at the next step.

Prompts are tokenised by the caller (the Hugging Face tokenizer and chat template, exactly as the
reference transformers path) and token ids come back; sampling mirrors ``GenerationSettings``.
Only the documented C API of llama.cpp (``llama_cpp.llama_cpp``) is used.
"""

from __future__ import annotations

import ctypes
import os
import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from fintune.errors import ModelError
from fintune.sampling import choose_token

_DONE = object()
BATCH_TOKENS = 512  # tokens per llama_decode call: the context's n_batch, the batch buffer and each step's budget


def available() -> str | None:
    """None when llama-cpp-python imports; else why not (shown once, then the transformers path serves)."""
    try:
        import llama_cpp  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - any import failure means: not available
        return f"llama-cpp-python is not installed ({type(exc).__name__}: {exc}); scripts/setup.sh builds it"
    return None


@dataclass
class _Request:
    prompt: list[int]
    settings: object  # fintune.engine.GenerationSettings
    eos: frozenset[int]
    out: queue.Queue = field(default_factory=queue.Queue)
    stop: threading.Event = field(default_factory=threading.Event)
    generated: list[int] = field(default_factory=list)
    slot: int = -1
    fed: int = 0  # prompt tokens already in the KV cache


class NativeEngine:
    """A GGUF loaded in llama.cpp with ``slots`` sequences decoded together."""

    def __init__(self, gguf_path: str | Path, slots: int = 8, ctx_per_slot: int = 2048, threads: int | None = None,
                 batch_threads: int | None = None, seed: int = 0, per_slot_kv: bool = True):
        import llama_cpp.llama_cpp as ll
        import numpy as np

        self._ll, self._np = ll, np
        self.path = Path(gguf_path)
        self.slots, self.ctx_per_slot = slots, ctx_per_slot
        ll.llama_backend_init()
        self._log = ll.llama_log_callback(_silent_log)  # llama.cpp logs every load to stderr; keep the server log readable
        ll.llama_log_set(self._log, ctypes.c_void_p())
        mparams = ll.llama_model_default_params()
        self._model = ll.llama_model_load_from_file(str(self.path).encode(), mparams)
        if not self._model:
            raise ModelError(f"llama.cpp could not load {self.path}. Delete it so FinTune converts it again.")
        cparams = ll.llama_context_default_params()
        threads = threads or physical_cores()
        batch_threads = batch_threads or threads
        cparams.n_ctx = slots * ctx_per_slot
        cparams.n_batch = cparams.n_ubatch = BATCH_TOKENS
        cparams.n_seq_max = slots
        cparams.n_threads, cparams.n_threads_batch = threads, batch_threads
        # One KV stream per slot (default): a token attends over its own chat only, not over every user's cells
        # masked out as in one shared pool (benchmarks/chat_batch.py compares both). Busy slots are kept
        # contiguous (_compact), as llama.cpp decodes per-slot streams in one pass per run of consecutive slots.
        self.per_slot_kv = per_slot_kv
        cparams.kv_unified = not per_slot_kv
        self._ctx = ll.llama_init_from_model(self._model, cparams)
        if not self._ctx:
            raise ModelError("llama.cpp could not create a context (out of memory?). Lower the number of chat slots.")
        self._memory = ll.llama_get_memory(self._ctx)
        self.n_vocab = ll.llama_vocab_n_tokens(ll.llama_model_get_vocab(self._model))
        self._batch = ll.llama_batch_init(BATCH_TOKENS, 0, 1)
        self._rng = np.random.default_rng(seed)
        self._pending: queue.Queue[_Request] = queue.Queue()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"llama.cpp:{self.path.name}", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------------------------------ public
    def stream(self, prompt: list[int], settings, eos: set[int]) -> Iterator[int]:
        """Yield generated token ids; closing the iterator stops the answer at the next step."""
        if len(prompt) + settings.max_new_tokens > self.ctx_per_slot:
            raise ModelError(f"The prompt ({len(prompt)} tokens) plus the answer ({settings.max_new_tokens}) exceed "
                             f"{self.ctx_per_slot} tokens. Clear the chat or lower max new tokens.")
        request = _Request(list(prompt), settings, frozenset(eos))
        self._pending.put(request)
        self._wake.set()
        try:
            while True:
                item = request.out.get()
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            request.stop.set()
            self._wake.set()

    # ------------------------------------------------------------------------------------------ scheduler
    def _loop(self) -> None:
        active: list[_Request] = []
        free = list(range(self.slots))
        while True:
            for request in [r for r in active if r.stop.is_set()]:
                self._finish(request, active, free)
            while free and not self._pending.empty():  # a newcomer takes the lowest free slot: no hole to close
                request = self._pending.get()
                request.slot = free.pop(0)
                active.append(request)
            if self.per_slot_kv:
                self._compact(active, free)
            if not active:
                self._wake.wait()
                self._wake.clear()
                continue
            try:
                self._step(active)
            except Exception as exc:  # noqa: BLE001 - hand the failure to every waiting user, keep serving
                for request in list(active):
                    request.out.put(ModelError(f"llama.cpp failed: {exc}"))
                    self._finish(request, active, free)
                continue
            for request in [r for r in active if r.stop.is_set()]:
                self._finish(request, active, free)

    def _finish(self, request: _Request, active: list, free: list) -> None:
        self._ll.llama_memory_seq_rm(self._memory, request.slot, -1, -1)
        active.remove(request)
        free.append(request.slot)
        free.sort()
        request.out.put(_DONE)

    def _compact(self, active: list[_Request], free: list[int]) -> None:
        """Keep the busy slots at 0..n-1. llama.cpp decodes per-slot streams in one pass per run of consecutive
        slots, so a hole left by a finished answer costs a pass per step (20 answers in every other slot: 207 ms a
        step against 71 ms contiguous); the highest answer's cache moves into the hole instead (one buffer copy)."""
        ll = self._ll
        while free and active:
            top = max(active, key=lambda r: r.slot)
            hole = free[0]
            if hole > top.slot:
                return
            ll.llama_memory_seq_cp(self._memory, top.slot, hole, -1, -1)  # copied at the next llama_decode
            ll.llama_memory_seq_rm(self._memory, top.slot, -1, -1)
            free[0] = top.slot
            free.sort()
            top.slot = hole

    def _step(self, active: list[_Request]) -> None:
        """One llama_decode over every answer's next token and as much new prompt as fits in the batch."""
        ll, batch = self._ll, self._batch
        decoding = sum(1 for r in active if r.fed == len(r.prompt) and r.generated)
        room = BATCH_TOKENS - decoding  # answers first
        plan: dict[int, tuple[_Request, int, int]] = {}  # slot -> (request, first position, tokens)
        for request in active:
            if request.fed == len(request.prompt):
                if request.generated:
                    plan[request.slot] = (request, len(request.prompt) + len(request.generated) - 1, 1)
            elif room > 0:  # a long prompt never stalls the answers: it gets what is left, in chunks
                take = min(len(request.prompt) - request.fed, room)
                plan[request.slot] = (request, request.fed, take)
                request.fed += take
                room -= take
        rows: list[tuple[int, _Request]] = []
        batch.n_tokens = 0
        for slot in sorted(plan):
            request, start, count = plan[slot]
            for pos in range(start, start + count):
                i = batch.n_tokens
                last = pos == len(request.prompt) + len(request.generated) - 1
                token = request.prompt[pos] if pos < len(request.prompt) else request.generated[-1]
                batch.token[i], batch.pos[i], batch.n_seq_id[i], batch.logits[i] = token, pos, 1, last
                batch.seq_id[i][0] = slot
                batch.n_tokens += 1
                if last:
                    rows.append((i, request))
        if not batch.n_tokens:
            return
        code = ll.llama_decode(self._ctx, batch)
        if code != 0:
            raise RuntimeError(f"llama_decode returned {code} (KV cache full?)")
        for index, request in rows:
            logits = self._np.ctypeslib.as_array(ll.llama_get_logits_ith(self._ctx, index), shape=(self.n_vocab,))
            settings = request.settings
            token = choose_token(logits.copy(), request.prompt + request.generated, settings.temperature, settings.top_p,
                                 settings.repetition_penalty, self._rng)
            if token in request.eos:
                request.stop.set()
                continue
            request.generated.append(token)
            request.out.put(token)
            if len(request.generated) >= settings.max_new_tokens:
                request.stop.set()


def physical_cores() -> int:
    """The cores this process may use, one thread per physical core (as llama.cpp's own default): on a quiet
    2-core VM 2 threads decoded 75.6 tok/s for one user and 225 for 20 against 46.4 and 131 with 1 (docs/serving.md)."""
    import psutil

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    logical, physical = psutil.cpu_count(logical=True) or usable, psutil.cpu_count(logical=False) or usable
    return max(1, min(usable, round(usable * physical / logical)))


def _silent_log(level, text, user_data) -> None:
    return None
