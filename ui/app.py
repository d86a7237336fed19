"""The FinTune web app: lays out the tabs and wires the events that cross them."""

from __future__ import annotations

import sys
import threading

import gradio as gr

from ui import chat_tab
from ui.config import ServeConfig
from ui.shared import AppShared

TITLE = "FinTune — RAG or fine-tune? For finance LLMs"
INTRO = (
    "Describe your goal in the **Advisor** tab: FinTune tells you whether retrieval (RAG), fine-tuning, both, "
    "or plain prompting fits, and why. Then chat, search the glossary, train, and compare — all on this machine."
)


def build_app(shared: AppShared) -> gr.Blocks:
    from ui import advisor_tab, api, compare_tab, knowledge_tab, train_tab

    with gr.Blocks(title="FinTune") as demo:
        gr.Markdown(f"## {TITLE}\n{INTRO}")
        plan_state = gr.State(None)  # TrainPlan.to_dict() handed from the Advisor to the Train tab
        handover = gr.State(None)  # path of the Advisor's upload, handed to the Train tab with the plan
        with gr.Tabs(elem_id="tabs") as tabs:
            with gr.Tab("Advisor", id="advisor", elem_id="tab-advisor"):
                advisor = advisor_tab.build(shared, plan_state, handover)
            with gr.Tab("Chat", id="chat", elem_id="tab-chat") as chat_page:
                chat = chat_tab.build(shared)
            with gr.Tab("Knowledge", id="knowledge", elem_id="tab-knowledge"):
                knowledge = knowledge_tab.build(shared)
            with gr.Tab("Train", id="train", elem_id="tab-train"):
                train_tab.build(shared, plan_state, handover)
            with gr.Tab("Compare", id="compare", elem_id="tab-compare"):
                compare = compare_tab.build(shared)
        advisor.to_train.click(lambda: gr.Tabs(selected="train"), None, tabs)
        advisor.to_knowledge.click(lambda: gr.Tabs(selected="knowledge"), None, tabs)
        chat.wire_page_load(demo, shared)
        compare.wire_page_load(demo)
        knowledge.wire_page_load(demo, shared)
        chat_page.select(chat_tab.refreshed_adapters, chat.adapter, chat.adapter)  # runs finished meanwhile
        api.register(shared)
    api.hide_internal(demo)  # the API is exactly api.PUBLIC_ENDPOINTS
    return demo


def _warm_up(shared: AppShared) -> None:
    """Load the model in the background so the first chat message doesn't wait for it."""
    try:
        engine = shared.engine()
        if engine.engine_note is None:  # the fast path: convert (once) and load the base GGUF now, not on the first chat
            engine.native(None)
    except Exception as exc:  # shown again, with its fix, when a user chats
        print(f"warning: could not preload the model: {exc}", file=sys.stderr)


def serve(config: ServeConfig, block: bool = True):
    """Provision the base model (with progress in the terminal), then serve the app."""
    from fintune.models import resolve_base_model

    print(f"Preparing base model '{config.base_model or 'default'}'…", file=sys.stderr)
    resolve_base_model(config.base_model)
    shared = AppShared(config=config)
    threading.Thread(target=_warm_up, args=(shared,), daemon=True).start()
    demo = build_app(shared)
    demo.queue(default_concurrency_limit=16)  # chat answers batch inside the engine; more waiting costs no CPU
    print(f"FinTune is serving on http://{config.host}:{config.port}", file=sys.stderr)
    return demo.launch(
        server_name=config.host,
        server_port=config.port,
        auth=config.credentials,
        max_file_size=f"{config.max_upload_mb:g}mb",
        prevent_thread_lock=not block,
        show_error=False,
        footer_links=["api"],
        theme=gr.themes.Soft(),
    )
