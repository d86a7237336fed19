"""The whole app as a user meets it: `fintune serve`, the Gradio API, and the Chat tab in headless Chromium."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser import CHROMIUM, browser_page, home_sharing_models, live_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app_url(real_model_path, tmp_path_factory):
    home = home_sharing_models(tmp_path_factory.mktemp("app-home"), real_model_path)
    with live_server(home) as url:
        yield url


def test_chat_through_the_gradio_api(app_url):
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    text = client.predict("What is EBITDA?", [], "", False, 0.0, 32, api_name="/chat")
    assert len(text.split()) >= 5
    job = client.submit("What is EBITDA?", api_name="/chat")  # streaming: each update is the answer so far
    job.result()
    updates = job.outputs()
    assert len(updates) > 1 and updates[-1].startswith(updates[0])
    hits = client.predict("letter of credit", 3, api_name="/search")
    assert "letter of credit" in hits[0]["term"].lower()


def test_compare_through_the_gradio_api(app_url):
    from gradio_client import Client

    from ui.compare_tab import NO_RUN

    result = Client(app_url, verbose=False).predict("What is EBITDA?", "", 0.0, 24, api_name="/compare")
    assert len(result["base"].split()) >= 3
    assert result["tuned"] == NO_RUN and result["run"] is None
    assert "EBITDA" in result["rag"] and "EBITDA" in result["sources"]


@pytest.mark.browser
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed (scripts/test.sh installs it)")
def test_browser_chat_streams_an_answer(app_url, tmp_path):
    with browser_page(app_url) as page:
        page.get_by_role("tab", name="Chat").click()
        page.locator("#chat-input textarea").fill("What is EBITDA?")
        page.locator("#chat-send").click()
        page.wait_for_function(
            "() => { const m = document.querySelectorAll('#chat-bot .message');"
            " return m.length >= 2 && m[m.length - 1].innerText.trim().split(/\\s+/).length >= 8; }",
            timeout=120_000,
        )
        answer = page.locator("#chat-bot .message").last.inner_text()
        assert "EBITDA" in answer or "earnings" in answer.lower()
        assert "smollm2" in page.locator("#model-info").inner_text()
        page.screenshot(path=str(tmp_path / "chat.png"))


@pytest.mark.browser
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed (scripts/test.sh installs it)")
def test_browser_glossary_answer_cites_its_definitions(app_url, tmp_path):
    with browser_page(app_url) as page:
        page.get_by_role("tab", name="Chat").click()
        page.locator("#chat-use-glossary input").check()
        page.locator("#chat-input textarea").fill("What is a letter of credit?")
        page.locator("#chat-send").click()
        page.wait_for_function(
            "() => { const m = document.querySelectorAll('#chat-bot .message');"
            " return m.length >= 2 && m[m.length - 1].innerText.includes('Sources'); }",
            timeout=240_000,
        )
        answer = page.locator("#chat-bot .message").last.inner_text()
        assert "letter of credit" in answer.lower().split("sources", 1)[1], "the letter-of-credit definition must be cited"
        assert "score" in answer
        page.screenshot(path=str(tmp_path / "glossary-chat.png"))
