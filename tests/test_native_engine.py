"""The fast chat path (llama.cpp over a GGUF, batched) against the transformers + PEFT reference."""

from __future__ import annotations

import threading

import pytest

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (scripts/setup.sh builds it)")

QUESTIONS = ["What is a bond?", "Is the stock bullish?", "Shares fell as the bank cut its price target.", "What is equity?"]


@pytest.fixture
def engines(tmp_home, tmp_path):
    """(fast engine, reference engine) on the tiny model; the fast one serves an exact float32 GGUF."""
    from fintune.engine import ChatEngine, ServingConfig
    from tests.test_export import _run_with_adapter
    from trainer.registry import find_run
    from trainer.testing import tiny_model_dir

    base = str(tiny_model_dir(tmp_path))
    fast = ChatEngine(base, dtype="float32", serving=ServingConfig(backend="llama.cpp", gguf_type="f32", slots=4))
    adapter = find_run(_run_with_adapter(base, tmp_home)).adapter_dir
    return fast, adapter


def _ask(engine, question, adapter=None, reference=False, n=16):
    from fintune.engine import GenerationSettings

    settings = GenerationSettings(temperature=0, max_new_tokens=n)
    stream = engine.stream_reference if reference else engine.stream
    return "".join(stream([{"role": "user", "content": question}], settings, adapter=adapter))


def test_fast_path_gives_the_reference_greedy_answers_for_base_and_tuned(engines):
    fast, adapter = engines
    assert fast.info()["engine"].startswith("llama.cpp")
    for question in QUESTIONS[:2]:
        assert _ask(fast, question) == _ask(fast, question, reference=True)
        tuned = _ask(fast, question, adapter)
        assert tuned == _ask(fast, question, adapter, reference=True)
        assert tuned != _ask(fast, question)  # the merged adapter really answers
    assert (adapter.parent / "serve" / "merged.f32.gguf").is_file()  # converted once, cached in the run folder


def test_concurrent_users_each_get_their_own_answer(engines):
    fast, adapter = engines  # the tuned model: its greedy answers differ by question (the random base repeats one token)
    expected = {q: _ask(fast, q, adapter) for q in QUESTIONS}
    assert len(set(expected.values())) == len(QUESTIONS)
    got: dict[str, str] = {}
    threads = [threading.Thread(target=lambda q=q: got.__setitem__(q, _ask(fast, q, adapter))) for q in QUESTIONS * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert got == expected  # 8 requests through 4 batched slots: nobody gets another user's tokens


def test_closing_a_stream_frees_its_slot(engines):
    from fintune.engine import GenerationSettings

    fast, _ = engines
    settings = GenerationSettings(temperature=0, max_new_tokens=200, repetition_penalty=1.0)
    for _ in range(6):  # more stopped answers than slots: each Stop must hand its slot back
        stream = fast.stream([{"role": "user", "content": "Tell me about bonds."}], settings)
        next(stream)
        stream.close()
    assert _ask(fast, QUESTIONS[0]) == _ask(fast, QUESTIONS[0], reference=True)


def test_a_finished_answer_leaves_no_hole_and_the_moved_answer_is_unchanged(engines):
    """Slots 0-2 answer; slot 1 ends first. The answer in slot 2 moves down into slot 1 (llama.cpp decodes
    per-slot caches in one pass per run of consecutive slots), and both remaining answers stay the reference's."""
    from fintune.engine import GenerationSettings
    from fintune.native_engine import _Request

    fast, adapter = engines
    native = fast.native(adapter)  # its scheduler thread idles (nothing is submitted), so the steps are driven here
    eos = frozenset([fast.tokenizer.eos_token_id])
    requests = []
    for slot, (question, n) in enumerate(zip(QUESTIONS[:3], (12, 2, 12))):
        settings = GenerationSettings(temperature=0, max_new_tokens=n)  # as _ask: the reference's settings
        requests.append(_Request(fast._encode([{"role": "user", "content": question}], settings)["input_ids"][0].tolist(), settings, eos))
        requests[-1].slot = slot
    active, free = list(requests), [3]
    while active:
        native._step(active)
        for request in [r for r in active if r.stop.is_set()]:
            native._finish(request, active, free)
        native._compact(active, free)
        assert sorted(r.slot for r in active) == list(range(len(active)))  # no hole
    assert requests[2].slot == 1
    for question, request, n in zip(QUESTIONS[:3], requests, (12, 2, 12)):
        assert fast.tokenizer.decode(request.generated, skip_special_tokens=True) == _ask(fast, question, adapter, reference=True, n=n)
    assert native._ll.llama_memory_seq_pos_max(native._memory, 2) == -1
