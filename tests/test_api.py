"""The public HTTP API: exactly the named endpoints of ui.api, and they answer through gradio_client."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    import os

    from gradio_client import Client

    from ui.app import build_app
    from ui.shared import AppShared

    before = os.environ.get("FINTUNE_HOME")
    os.environ["FINTUNE_HOME"] = str(tmp_path_factory.mktemp("api-home"))
    demo = build_app(AppShared())
    demo.queue()
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True)
    try:
        yield Client(url, verbose=False)
    finally:
        demo.close()
        os.environ.pop("FINTUNE_HOME")
        if before is not None:
            os.environ["FINTUNE_HOME"] = before


def test_the_api_lists_exactly_the_public_endpoints(client):
    from ui.api import PUBLIC_ENDPOINTS

    named = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert sorted(named) == sorted(f"/{name}" for name in PUBLIC_ENDPOINTS)
    assert not client.view_api(return_format="dict", print_info=False)["unnamed_endpoints"]
    chat_params = [p["parameter_name"] for p in named["/chat"]["parameters"]]
    assert chat_params == ["message", "history", "run", "use_glossary", "temperature", "max_new_tokens"]


def test_advise_and_runs_answer(client):
    rec = client.predict("Sort card transactions into our 40 internal spend categories", api_name="/advise")
    assert rec["approach"] == "finetune"
    assert rec["plan"]["base_model"]
    assert client.predict(api_name="/runs") == []


def test_a_private_event_is_refused(client):
    with pytest.raises(Exception, match="(?i)not|private|cannot"):
        client.predict("x", [], api_name="/chat_add_question")
