"""Chat tab: streaming chat with the base model or a fine-tuned run, optionally grounded in the glossary."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from fintune.engine import GenerationSettings
from ui.errors import user_errors

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


def history_to_messages(history: list[dict], system: str) -> list[dict]:
    """Chatbot history -> engine messages (sources appended under answers are not sent back)."""
    messages = [{"role": "system", "content": system}] if system.strip() else []
    for item in history:
        text = message_text(item.get("content"))
        if item.get("role") == "assistant":  # citations are for the reader, not the model
            text = text.split("\n\n**Sources**", 1)[0].split("\n\n*Sources:", 1)[0]
        messages.append({"role": item["role"], "content": text})
    return messages


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

    def wire_page_load(self, demo: gr.Blocks, shared) -> None:
        """On every page load: show the model card and the current list of runs."""
        demo.load(user_errors(lambda: model_info_markdown(shared)), None, self.info)
        demo.load(refreshed_adapters, self.adapter, self.adapter)


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
            use_glossary = gr.Checkbox(label="Use glossary (RAG)", value=False, elem_id="chat-use-glossary",
                                       info="Retrieve definitions and cite them under the answer.")
            with gr.Accordion("Generation settings", open=False):
                system = gr.Textbox(value=DEFAULT_SYSTEM, label="System prompt", lines=2)
                temperature = gr.Slider(0, 1.5, value=GenerationSettings.temperature, step=0.05, label="Temperature", info="0 = deterministic")
                top_p = gr.Slider(0.05, 1, value=GenerationSettings.top_p, step=0.05, label="Top-p")
                max_new_tokens = gr.Slider(16, 1024, value=GenerationSettings.max_new_tokens, step=16, label="Max new tokens")

    @user_errors
    def answer(history, adapter_path, glossary_on, system_prompt, temp, topp, max_new):
        from fintune.engine import GenerationSettings

        settings = GenerationSettings(temperature=temp, top_p=topp, max_new_tokens=int(max_new))
        messages = history_to_messages(history, system_prompt)
        hits = []
        if glossary_on:
            from rag.prompting import build_messages

            question_text = messages[-1]["content"]
            hits = shared.glossary().search(question_text)
            messages = build_messages(question_text, hits, history=messages[:-1])
        history = history + [{"role": "assistant", "content": ""}]
        text = ""
        for delta in shared.engine().stream(messages, settings, adapter=adapter_path or None):
            text += delta
            history[-1] = {"role": "assistant", "content": text}
            yield history
        if glossary_on:
            from rag.prompting import format_sources

            history[-1] = {"role": "assistant", "content": text.strip() + "\n\n" + format_sources(hits)}
            yield history

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

    gen_inputs = [chatbot, adapter, use_glossary, system, temperature, top_p, max_new_tokens]
    # Public API (gradio_client): /chat_add_question then /chat_answer; the other triggers repeat them privately.
    click = send.click(add_question, [question, chatbot], [question, chatbot], queue=False, api_name="chat_add_question").then(
        answer, gen_inputs, chatbot, api_name="chat_answer")
    private = dict(api_visibility="private")
    submit = question.submit(add_question, [question, chatbot], [question, chatbot], queue=False, **private).then(answer, gen_inputs, chatbot, **private)
    again = regenerate.click(drop_last_answer, chatbot, chatbot, queue=False, **private).then(answer, gen_inputs, chatbot, **private)
    stop.click(None, cancels=[submit, click, again], **private)
    clear.click(lambda: [], None, chatbot, queue=False, **private)

    refresh.click(refreshed_adapters, adapter, adapter, **private)
    return ChatTab(chatbot=chatbot, adapter=adapter, info=info)


def refreshed_adapters(current: str | None):
    choices = adapter_choices()
    return gr.Dropdown(choices=choices, value=current if current in {v for _, v in choices} else "")
