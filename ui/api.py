"""The app's public HTTP API (``gradio_client``): six named endpoints with plain typed arguments.

``PUBLIC_ENDPOINTS`` is the contract: ``register(shared)`` (inside ``gr.Blocks``) adds one endpoint per name
and ``hide_internal(demo)`` makes every other event (the tabs' buttons, page loads, timers) private, so the
API stays these names whatever the tabs wire. Each handler is a thin wrapper over a package call and returns
JSON-able values; FinTune errors reach the client as ``gr.Error`` messages.
"""

from __future__ import annotations

from collections.abc import Iterator

import gradio as gr

from ui.errors import user_errors
from ui.streaming import paced

PUBLIC_ENDPOINTS = {
    "advise": "A goal in plain words -> the recommended approach (rag, finetune, both, prompt), its reasons and a training plan.",
    "chat": "Answer a question with the base model or a fine-tuned run (streams the growing answer).",
    "search": "Search the finance glossary: the k best definitions with their scores.",
    "compare": "One question answered by the base model, a fine-tuned run and the base model with the glossary.",
    "train": "Upload a training file and queue a fine-tuning run (plan = a TrainPlan dict, or the defaults).",
    "runs": "Every training run: id, name, status, base model, whether it has an adapter.",
}


def _adapter_for(run: str) -> tuple[str | None, str | None]:
    """(adapter path, run name) for a run id/name; ``""`` means the pure base model."""
    if not (run or "").strip():
        return None, None
    from trainer.errors import TrainerError
    from trainer.registry import find_run

    info = find_run(run)
    if info.adapter_dir is None:
        raise TrainerError(f"Run {info.name} has no adapter yet (status {info.status}). Wait until it finishes, or pick another run.")
    return str(info.adapter_dir), info.name


def _settings(temperature: float, max_new_tokens: int):
    from fintune.engine import GenerationSettings

    return GenerationSettings(temperature=float(temperature), max_new_tokens=int(max_new_tokens))


def register(shared) -> None:
    """Add the public endpoints to the enclosing ``gr.Blocks``."""

    @user_errors
    def advise(goal: str) -> dict:
        from advisor.decide import default_advisor

        return default_advisor().advise(goal).to_dict()

    @user_errors
    @paced
    def chat(message: str, history: list[dict] | None = None, run: str = "", use_glossary: bool = False,
             temperature: float = 0.0, max_new_tokens: int = 256) -> Iterator[str]:
        adapter, _ = _adapter_for(run)
        from trainer.predict import classifier_run, classify, label_markdown

        classifier = classifier_run(adapter)
        if classifier is not None:  # a classification run answers with a label and its probability, as in Chat
            yield label_markdown(classify(shared.engine(), classifier, message), classifier, f"Run {classifier.name}")
            return
        messages = [{"role": m["role"], "content": m["content"]} for m in (history or [])]
        settings = _settings(temperature, max_new_tokens)
        if use_glossary:  # the app's one knowledge answer path, as Chat and Compare use it
            from rag.answer import GroundedAnswer, answer_stream

            text = ""
            for item in answer_stream(message, shared.glossary(), shared.engine(), history=messages, settings=settings,
                                      adapter=adapter):
                text = item.markdown() if isinstance(item, GroundedAnswer) else text + item
                yield text
            return
        messages.append({"role": "user", "content": message})
        text = ""
        for delta in shared.engine().stream(messages, settings, adapter=adapter):
            text += delta
            yield text

    @user_errors
    def search(query: str, k: int = 5) -> list[dict]:
        return [{"term": h.term, "definition": h.definition, "source": h.source, "score": round(h.score, 4)}
                for h in shared.glossary().search(query, int(k))]

    @user_errors
    def compare(question: str, run: str = "", temperature: float = 0.0, max_new_tokens: int = 256) -> dict:
        from ui.compare_tab import KINDS, compare_stream

        adapter, name = _adapter_for(run)
        texts, sources = [], ""
        for texts, sources in compare_stream(shared, question, adapter, _settings(temperature, max_new_tokens)):
            pass
        return {**dict(zip(KINDS, texts)), "run": name, "sources": sources}

    def runs() -> list[dict]:
        from trainer.registry import list_runs

        return [{"id": r.id, "name": r.name, "status": str(r.status), "base_model": r.base_model,
                 "created_at": r.created_at, "has_adapter": r.adapter_dir is not None} for r in list_runs()]

    @user_errors
    def train(data: str, name: str = "", plan: dict | None = None) -> dict:
        from trainer.plan import TrainPlan

        if not data:
            raise gr.Error("Send a training file (gradio_client.handle_file(path)).")
        run = shared.jobs().start(data, TrainPlan.from_dict(plan) if plan else TrainPlan(), None, name=(name or "").strip() or None)
        return {"id": run.id, "name": run.name, "status": str(run.status)}

    # Chat answers wait in the engine's own batch queue, so Gradio need not hold them back.
    for fn, limit in ((advise, "default"), (chat, 64), (search, "default"), (compare, 16), (runs, "default")):
        gr.api(fn, api_name=fn.__name__, api_description=PUBLIC_ENDPOINTS[fn.__name__], concurrency_limit=limit)
    # A file argument needs a real File component: it checks the upload and hands the handler a local path.
    with gr.Group(visible=False):
        data, name, plan = gr.File(type="filepath", label="data"), gr.Textbox(label="name"), gr.JSON(label="plan")
        result, trigger = gr.JSON(label="run"), gr.Button()
    trigger.click(train, [data, name, plan], result, api_name="train", api_description=PUBLIC_ENDPOINTS["train"])


def hide_internal(demo: gr.Blocks) -> None:
    """Make every event that is not a public endpoint private: the browser still calls it, API clients can't."""
    for fn in demo.fns.values():
        if fn.api_name not in PUBLIC_ENDPOINTS:
            fn.api_visibility = "private"
