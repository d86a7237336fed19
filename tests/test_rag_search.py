"""Retrieval quality: hybrid ranking, abbreviations, near-identical terms, 'no relevant definition', FIBO scale."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag import Glossary, RagError
from rag.retrieval import Lexicon
from rag.entries import Entry
from rag.text import strip_question

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
FIBO = SHARED / "fibo" / "fibo_glossary_all.jsonl"
WORDNET = SHARED / "wordnet_finance" / "wordnet_finance_glossary.jsonl"


@pytest.mark.parametrize(("question", "subject"), [
    ("What is a letter of credit?", "letter of credit"),
    ("What does L/C stand for?", "L/C"),
    ("define EBITDA", "EBITDA"),
    ("What does contango mean?", "contango"),
    ("Can you explain what a credit default swap is?", "credit default swap"),
    ("How is working capital defined?", "working capital"),
    ("What's the meaning of P/E ratio in finance?", "P/E ratio"),
    ("bond issuer", "bond issuer"),
])
def test_question_scaffolding_is_stripped(question, subject):
    assert strip_question(question) == subject


def test_lexicon_exact_synonym_and_phrase_scores():
    lex = Lexicon([Entry("bond", "d"), Entry("bond issuer", "d"), Entry("letter of credit", "d", ("L/C",)), Entry("SWIFT", "d")])
    assert lex.match("bond") == {0: (1.0, "term")}
    assert lex.match("bond issuer") == {1: (1.0, "term"), 0: (0.4, "phrase")}
    assert lex.match("LC") == {2: (0.9, "synonym")} == lex.match("l/c")
    assert lex.match("Taylor Swift") == {}  # capitalised name is not the acronym
    assert lex.match("SWIFT message")[3] == (0.4, "phrase")
    assert lex.match("how to send a SWIFT message to a bank abroad") == {}  # too small a part of the question


@pytest.fixture(scope="session")
def builtin_glossary(builtin_kb) -> Glossary:
    return Glossary.open(builtin_kb)


@pytest.mark.slow
@pytest.mark.parametrize(("query", "term"), [
    ("What is a letter of credit?", "letter of credit"),
    ("What does L/C stand for?", "letter of credit"),
    ("LC", "letter of credit"),
    ("bond", "bond"),
    ("What is a bond issuer?", "bond issuer"),
    ("What does contango mean?", "contango"),
    ("How is EBITDA calculated?", "EBITDA"),
    ("ebitda", "EBITDA"),
    ("What are bonds?", "bond"),
    ("define VaR", "value at risk"),
    ("What is CET1?", "Common Equity Tier 1"),
    ("the risk that a borrower fails to repay a loan", "credit risk"),
])
def test_right_entry_first(builtin_glossary, query, term):
    hits = builtin_glossary.search(query)
    assert hits and hits[0].term == term, [h.term for h in hits]
    assert hits == sorted(hits, key=lambda h: -h.score)
    assert all(h.score >= builtin_glossary.config.threshold for h in hits)


@pytest.mark.slow
def test_descriptions_find_their_term_among_the_top_hits(builtin_glossary):
    # Ranking of free-text descriptions (dense only, no term to match); threshold off so weak matches still rank.
    assert "contango" in [h.term for h in builtin_glossary.search("futures prices above the spot price", k=3, threshold=0)]
    hits = builtin_glossary.search("a bank promises to pay an exporter once shipping documents are presented", k=3, threshold=0)
    assert "letter of credit" in [h.term for h in hits]


@pytest.mark.slow
@pytest.mark.parametrize("query", ["What's the weather in Paris tomorrow?", "Who is Taylor Swift?", "recipe for banana bread"])
def test_off_topic_questions_get_no_definition(builtin_glossary, query):
    assert builtin_glossary.search(query) == []


@pytest.mark.slow
def test_scores_modes_and_bad_requests(builtin_glossary):
    hybrid = builtin_glossary.search("bond issuer", k=3)
    assert hybrid[0].match == "term" and hybrid[0].lexical == 1.0
    assert hybrid[0].score == pytest.approx(hybrid[0].dense + 0.5 * hybrid[0].lexical)
    dense = builtin_glossary.search("bond issuer", k=3, mode="dense")
    assert all(h.lexical == 0 and h.score == h.dense for h in dense)
    assert len(builtin_glossary.search("bond", k=2, threshold=-1)) == 2
    many = builtin_glossary.search_many(["L/C", "contango"], k=1)
    assert [h[0].term for h in many] == ["letter of credit", "contango"]
    for bad in ({"query": "  "}, {"query": "bond", "k": 0}, {"query": "bond", "mode": "sparse"}):
        with pytest.raises(RagError):
            builtin_glossary.search(**bad)


@pytest.mark.slow
@pytest.mark.skipif(not (FIBO.exists() and WORDNET.exists()), reason=f"shared glossaries not found under {SHARED}")
def test_term_queries_stay_right_after_importing_fibo_and_wordnet(builtin_glossary, tmp_path, monkeypatch):
    home = tmp_path / "home"
    shutil.copytree(builtin_glossary.root, home / "kb")
    monkeypatch.setenv("FINTUNE_HOME", str(home))
    glossary = Glossary.open()
    fibo = glossary.import_file(FIBO)
    wordnet = glossary.import_file(WORDNET)
    assert fibo.added > 5000 and wordnet.added > 1000 and len(glossary) > 6500
    for query, term in [("What is a letter of credit?", "letter of credit"), ("L/C", "letter of credit"), ("bond issuer", "bond issuer"),
                        ("What is contango?", "contango"), ("What is an amortization type?", "amortization type"),
                        ("What does GUS stand for?", "Guaranteed Underwriting System"), ("define acceptance", "acceptance")]:
        hits = glossary.search(query)
        assert hits and hits[0].term.lower() == term.lower(), (query, [(h.term, h.source) for h in hits])
    sources = {h.source for h in glossary.search("letter of credit", k=10)}
    assert {"builtin", "fibo_glossary_all", "wordnet_finance_glossary"} <= sources
