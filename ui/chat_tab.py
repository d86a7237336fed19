"""Chat tab: streaming chat with the base model or a fine-tuned run, grounded in the glossary by default.

With the glossary on, every question goes through ``rag.answer.answer_stream``: definition questions are
answered by quoting the glossary (cited), or by saying it has no entry. What each grounded answer rests on
(its plain text and hits) is kept per turn in a ``gr.State``, so the model is later shown the answer, not the
rendered citations.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import gradio as gr

from fintune.engine import GenerationSettings
from ui.errors import user_errors
from ui.streaming import paced

BASE_CHOICE = "Base model (no adapter)"
DEFAULT_SYSTEM = "You are FinTune, a concise and careful assistant for finance questions."


def message_text(content) -> str:
    """Text of a Chatbot message; Gradio 6 gives ``content`` as a list of parts, older code as a string."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return content.get("text") or content.get("value") or ""
    if isinstance(content, (list, tuple)):
        return "".join(message_text(part) for part in content)
    return str(content or "")


def history_to_messages(history: list[dict], system: str, grounded: dict | None = None) -> list[dict]:
    """Chatbot history -> engine messages. Glossary answers are sent back as their plain text (``grounded``,
    keyed by the message's position), not as the rendered markdown with its sources list."""
    messages = [{"role": "system", "content": system}] if system.strip() else []
    for position, item in enumerate(history):
        turn = (grounded or {}).get(str(position))
        text = turn["text"] if turn and item.get("role") == "assistant" else message_text(item.get("content"))
        messages.append({"role": item["role"], "content": text})
    return messages


def glossary_index_exists() -> bool:
    """Whether a glossary index has been built (then the glossary is on by default)."""
    from fintune.paths import kb_dir
    from rag.store import current_dir

    return current_dir(kb_dir()) is not None


def glossary_status(on: bool) -> str:
    if on:
        return "**Glossary: on.** Definition questions are answered by quoting the glossary, with sources; if it has no entry, the answer says so."
    return "**Glossary: off.** Answers are the model's own, without sources (a 135M model often invents definitions)."


def adapter_choices() -> list[tuple[str, str]]:
    """Dropdown choices: the base model plus every run that has an adapter."""
    choices = [(BASE_CHOICE, "")]
    from trainer.registry import list_runs

    for run in list_runs():
        if run.adapter_dir is not None:
            choices.append((f"{run.name} ({run.id})", str(run.adapter_dir)))
    return choices


def model_info_markdown(shared) -> str:
    info = shared.engine().info()
    return (
        f"**Model** `{info['name']}`  \n**Parameters** {info['parameters'] / 1e6:.1f} M  \n"
        f"**Dtype** {info['dtype']}  \n**Device** {info['device']}"
    )


@dataclass
class ChatTab:
    chatbot: gr.Chatbot
    adapter: gr.Dropdown
    info: gr.Markdown
    use_glossary: gr.Checkbox
    glossary_note: gr.Markdown

    def wire_page_load(self, demo: gr.Blocks, shared) -> None:
        """On every page load: the model card, the current list of runs, and the glossary on once an index exists."""
        demo.load(user_errors(lambda: model_info_markdown(shared)), None, self.info)
        demo.load(refreshed_adapters, self.adapter, self.adapter)
        demo.load(glossary_default, None, [self.use_glossary, self.glossary_note])


def build(shared) -> ChatTab:
    with gr.Row():
        with gr.Column(scale=3):
            chatbot = gr.Chatbot(label="Chat", elem_id="chat-bot", height=460, buttons=["copy"], placeholder="Ask a finance question…")
            with gr.Row():
                question = gr.Textbox(placeholder="e.g. What is EBITDA?", show_label=False, scale=5, elem_id="chat-input", autofocus=True)
                send = gr.Button("Send", variant="primary", scale=1, elem_id="chat-send")
            with gr.Row():
                stop = gr.Button("Stop", elem_id="chat-stop")
                regenerate = gr.Button("Regenerate", elem_id="chat-regenerate")
                clear = gr.Button("Clear", elem_id="chat-clear")
        with gr.Column(scale=1):
            info = gr.Markdown("Loading model…", elem_id="model-info")
            adapter = gr.Dropdown(choices=[(BASE_CHOICE, "")], value="", label="Answer with", elem_id="chat-adapter",
                                  info="A finished training run's adapter, or the base model.")
            refresh = gr.Button("Refresh runs", size="sm")
            glossary_on = glossary_index_exists()
            use_glossary = gr.Checkbox(label="Use glossary (RAG)", value=glossary_on, elem_id="chat-use-glossary",
                                       info="Quote and cite glossary definitions; say so when it has none.")
            glossary_note = gr.Markdown(glossary_status(glossary_on), elem_id="chat-glossary-status")
            with gr.Accordion("Generation settings", open=False):
                system = gr.Textbox(value=DEFAULT_SYSTEM, label="System prompt", lines=2)
                temperature = gr.Slider(0, 1.5, value=GenerationSettings.temperature, step=0.05, label="Temperature", info="0 = deterministic")
                top_p = gr.Slider(0.05, 1, value=GenerationSettings.top_p, step=0.05, label="Top-p")
                max_new_tokens = gr.Slider(16, 1024, value=GenerationSettings.max_new_tokens, step=16, label="Max new tokens")

    grounded = gr.State({})  # per user: message position -> {"text", "kind", "hits"} of each glossary answer
    gen_inputs = [chatbot, adapter, use_glossary, system, temperature, top_p, max_new_tokens, grounded]
    gen_outputs = [chatbot, grounded]
    # Named events, private like every event outside ui/api.py (whose /chat is the public chat endpoint).
    answer_with = partial(answer, shared)
    click = send.click(add_question, [question, chatbot], [question, chatbot], queue=False, api_name="chat_add_question").then(
        answer_with, gen_inputs, gen_outputs, api_name="chat_answer")
    private = dict(api_visibility="private")
    submit = question.submit(add_question, [question, chatbot], [question, chatbot], queue=False, **private).then(answer_with, gen_inputs, gen_outputs, **private)
    again = regenerate.click(drop_last_answer, chatbot, chatbot, queue=False, **private).then(answer_with, gen_inputs, gen_outputs, **private)
    stop.click(None, cancels=[submit, click, again], **private)
    clear.click(lambda: ([], {}), None, [chatbot, grounded], queue=False, **private)
    use_glossary.change(glossary_status, use_glossary, glossary_note, queue=False, **private)

    refresh.click(refreshed_adapters, adapter, adapter, **private)
    return ChatTab(chatbot=chatbot, adapter=adapter, info=info, use_glossary=use_glossary, glossary_note=glossary_note)


@user_errors
@paced
def answer(shared, history, adapter_path, glossary_on, system_prompt, temp, topp, max_new, grounded):
    """Stream the next answer: a classification run's label, a glossary-grounded answer, or the plain model."""
    settings = GenerationSettings(temperature=temp, top_p=topp, max_new_tokens=int(max_new))
    position = len(history)  # where this answer goes; turns from a regenerated answer on are stale
    grounded = {k: v for k, v in (grounded or {}).items() if int(k) < position}
    history = history + [{"role": "assistant", "content": ""}]
    text = ""
    from trainer.predict import classifier_run, classify, label_markdown

    classifier = classifier_run(adapter_path)
    if classifier is not None:  # a classification run answers with a label and its probability
        scores = classify(shared.engine(), classifier, message_text(history[-2]["content"]))
        history[-1] = {"role": "assistant", "content": label_markdown(scores, classifier, f"Run {classifier.name}")}
        yield history, grounded
        return
    if glossary_on:
        from rag.answer import GroundedAnswer, answer_stream

        prior = history_to_messages(history[:-2], "", grounded)
        question_text = message_text(history[-2]["content"])
        for item in answer_stream(question_text, shared.glossary(), shared.engine(), history=prior, settings=settings,
                                  system=system_prompt, adapter=adapter_path or None):
            if isinstance(item, GroundedAnswer):
                grounded[str(position)] = {"text": item.text, "kind": item.kind, "hits": [h.to_dict() for h in item.hits]}
                history[-1] = {"role": "assistant", "content": item.markdown()}
            else:
                text += item
                history[-1] = {"role": "assistant", "content": text}
            yield history, grounded
        return
    messages = history_to_messages(history[:-1], system_prompt, grounded)
    for delta in shared.engine().stream(messages, settings, adapter=adapter_path or None):
        text += delta
        history[-1] = {"role": "assistant", "content": text}
        yield history, grounded


def add_question(text, history):
    if not text.strip():
        raise gr.Error("Type a question first.")
    return "", history + [{"role": "user", "content": text.strip()}]


def drop_last_answer(history):
    while history and history[-1]["role"] == "assistant":
        history = history[:-1]
    if not history:
        raise gr.Error("Nothing to regenerate yet: ask a question first.")
    return history


def glossary_default():
    on = glossary_index_exists()
    return gr.Checkbox(value=on), glossary_status(on)


def refreshed_adapters(current: str | None):
    choices = adapter_choices()
    return gr.Dropdown(choices=choices, value=current if current in {v for _, v in choices} else "")
