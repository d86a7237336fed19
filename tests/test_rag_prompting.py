"""RAG prompt construction and source formatting (no model needed)."""

from rag.entries import Hit
from rag.prompting import NO_DEFINITIONS, build_messages, explain_messages, format_sources

HITS = [
    Hit("letter of credit", "A bank's promise to pay a seller.", "builtin", 1.25, ("L/C",)),
    Hit("standby letter of credit", "A guarantee-like L/C.", "builtin", 0.61),
    Hit("credit", "Money lent.", "wordnet_finance_glossary", 0.55),
    Hit("bank guarantee", "A bank's promise.", "builtin", 0.50),
]


def test_prompt_carries_top_three_definitions_and_rules():
    messages = build_messages("What is a letter of credit?", HITS)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "only" in messages[0]["content"] and "no definition" in messages[0]["content"]
    user = messages[1]["content"]
    assert "[1] letter of credit (L/C): A bank's promise to pay a seller." in user
    assert "[3] credit" in user and "bank guarantee" not in user
    assert user.endswith("Question: What is a letter of credit?")


def test_prompt_without_hits_says_so_and_keeps_recent_history():
    history = [{"role": "user", "content": f"q{i}"} if i % 2 == 0 else {"role": "assistant", "content": [{"type": "text", "text": f"a{i}"}]} for i in range(8)]
    history.append({"role": "system", "content": "ignored"})
    messages = build_messages("What is a blockchain oracle?", [], history=history)
    assert [m["content"] for m in messages[1:-1]] == ["q4", "a5", "q6", "a7"]
    assert NO_DEFINITIONS in messages[-1]["content"]


def test_sources_markdown_lists_term_source_score_and_escapes():
    md = format_sources([Hit("P/E *ratio*", "x", "my_source", 0.734)] + HITS[:1])
    assert md.splitlines()[0] == "**Sources**"
    assert "1. **P/E \\*ratio\\*** — my\\_source (score 0.73)" in md
    assert "2. **letter of credit** — builtin (score 1.25)" in md
    assert "no glossary definition" in format_sources([])


def test_explain_prompt_carries_only_the_cited_definitions():
    (message,) = explain_messages(HITS[:1])
    assert message["role"] == "user" and HITS[0].definition in message["content"]
    assert message["content"].endswith("say in one simple sentence what letter of credit is.")
    (message,) = explain_messages(HITS[:2])
    assert "letter of credit: A bank's promise" in message["content"] and "standby letter of credit: A guarantee" in message["content"]
    assert "how letter of credit and standby letter of credit differ" in message["content"] and "credit: Money" not in message["content"]
