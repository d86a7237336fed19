"""The knowledge answer path (rag.answer) with a fake engine and glossary: definition first with its citation,
greedy explanation checked against it, abstention with the closest terms, multi-term questions."""

from __future__ import annotations

import pytest

from fintune.engine import GenerationSettings
from rag.answer import DEFINITION, MODEL, NO_ENTRY, GroundedAnswer, answer_question, answer_stream, plan_answer
from rag.config import AnswerConfig
from rag.entries import Hit
from rag.text import norm, strip_question

CONTANGO = Hit("contango", "A market where futures prices are above the expected spot price, so the futures curve slopes upward.",
               "builtin", 1.19, match="term")
EBIT = Hit("EBIT", "Earnings before interest and taxes: operating profit.", "builtin", 1.4, match="term")
EBITDA = Hit("EBITDA", "Earnings before interest, taxes, depreciation and amortisation.", "builtin", 1.4, match="term")
PNL = Hit("profit and loss statement", "The income statement: revenue minus expenses over a period.", "builtin", 1.3, ("P&L",), match="term")
BALANCE = Hit("balance sheet", "A statement of assets, liabilities and equity at a date.", "builtin", 1.3, match="term")
ORACLE_RISK = Hit("oracle risk", "The risk that an external data feed used by a smart contract is wrong.", "fibo", 0.58)
BLOCKCHAIN = Hit("blockchain", "A shared, append-only ledger.", "wordnet", 0.52)


class FakeGlossary:
    """Hits per question subject (what the real glossary matches on)."""

    def __init__(self, table: dict[str, list[Hit]]):
        self.table = {norm(k): v for k, v in table.items()}
        self.queries: list[str] = []

    def search_many(self, queries, k=None):
        self.queries += list(queries)
        return [self.table.get(norm(strip_question(q)), [])[: k or 5] for q in queries]


class FakeEngine:
    """Streams a canned reply word by word; records each call and how many words were consumed."""

    def __init__(self, reply: str):
        self.reply = reply
        self.calls: list[dict] = []
        self.consumed = 0

    def stream(self, messages, settings=None, adapter=None):
        self.calls.append({"messages": messages, "settings": settings, "adapter": adapter})
        for word in self.reply.split(" "):
            self.consumed += 1
            yield word + " "


def overlap_similarity(sentence, sources):
    """Share of the sentence's content words found in the best source: a transparent stand-in for MiniLM."""
    words = {w for w in norm(sentence).split() if len(w) > 3}
    return max(len(words & set(norm(s).split())) / max(len(words), 1) for s in sources)


GLOSSARY = FakeGlossary({
    "contango": [CONTANGO], "EBIT": [EBIT, EBITDA], "EBITDA": [EBITDA, EBIT], "profit and loss statement": [PNL],
    "balance sheet": [BALANCE], "blockchain oracle": [ORACLE_RISK, BLOCKCHAIN],
    "profit": [Hit("profit", "Revenue minus costs.", "wordnet", 0.6)],
    "carbon yield spread": [Hit("yield spread", "The difference between two yields.", "builtin", 0.85, match="phrase")],
})


def ask(question, reply, **kw):
    engine = FakeEngine(reply)
    answer = answer_question(question, GLOSSARY, engine, similarity=overlap_similarity, **kw)
    return answer, engine


def test_definition_is_stated_first_with_its_citation_before_the_model_runs():
    engine = FakeEngine("Contango means futures prices are above the expected spot price.")
    stream = answer_stream("What is contango?", GLOSSARY, engine, similarity=overlap_similarity)
    first = next(stream)
    assert first == f"contango: {CONTANGO.definition} [1]"
    assert engine.calls == [], "the definition must stream before the model is asked anything"
    *deltas, answer = list(stream)
    assert isinstance(answer, GroundedAnswer) and answer.kind == DEFINITION and answer.hits == [CONTANGO]
    assert answer.text == first + "".join(deltas)
    assert answer.explanation == "Contango means futures prices are above the expected spot price."
    assert answer.text.index("[1]") < answer.text.index(answer.explanation)
    assert "1. **contango** — builtin (score 1.19)" in answer.markdown()
    assert answer.first_token_s <= answer.total_s


def test_explanation_is_greedy_short_and_sees_the_definition():
    _, engine = ask("What is contango?", "Contango means futures prices are above spot.",
                    settings=GenerationSettings(temperature=0.9, max_new_tokens=512))
    (call,) = engine.calls
    assert call["settings"].temperature == 0 and call["settings"].max_new_tokens == AnswerConfig().explain_tokens
    assert CONTANGO.definition in call["messages"][-1]["content"] and call["adapter"] is None


@pytest.mark.parametrize("reply, why", [
    ("ContaLoco is an advanced financial technology platform that lets people manage capital accounts.", "ContaLoco"),
    ("The user wants to know what contango refers to in futures markets.", "conversation"),
    ("It is a popular dance performed in pairs at weddings and parties.", "drifts"),
])
def test_a_drifting_explanation_is_dropped_and_generation_stops(reply, why):
    answer, engine = ask("What is contango?", reply + " More words that would follow here and keep going.")
    assert answer.text == f"contango: {CONTANGO.definition} [1]", "a drifting addition must leave the definition alone"
    assert answer.explanation == "" and why in answer.dropped
    assert engine.consumed < len((reply + " More words that would follow here and keep going.").split(" ")), "generation must stop early"


def test_a_cut_off_sentence_is_not_shown_but_earlier_good_ones_are():
    # 4 of the 6 content words overlap (0.67): kept at a 0.6 bar; the cut-off sentence never is
    answer, _ = ask("What is contango?", "Futures prices trade higher than the expected spot price. And the futures curve slopes",
                    config=AnswerConfig(min_support=0.6))
    assert answer.explanation == "Futures prices trade higher than the expected spot price."
    assert "cut off" in answer.dropped


def test_out_of_glossary_says_no_entry_and_offers_the_closest_terms():
    answer, engine = ask("What is a blockchain oracle?", "A blockchain oracle is Oracle Corporation's ledger.")
    assert answer.kind == NO_ENTRY and answer.hits == [] and engine.calls == []
    assert answer.text == 'The glossary has no entry for "blockchain oracle". Closest terms: oracle risk, blockchain.'
    assert [h.term for h in answer.closest] == ["oracle risk", "blockchain"]
    assert "no entry" in answer.sources_markdown()


def test_nothing_close_is_said_plainly():
    answer, engine = ask("What is a banana split?", "A dessert.")
    assert answer.kind == NO_ENTRY and engine.calls == []
    assert answer.text.startswith('The glossary has no entry for "banana split". Nothing in it comes close')


def test_multi_term_question_states_both_definitions():
    answer, engine = ask("What is the difference between EBIT and EBITDA?", "EBITDA also adds back depreciation and amortisation.")
    assert answer.kind == DEFINITION and [h.term for h in answer.hits] == ["EBIT", "EBITDA"]
    assert answer.text.startswith(f"EBIT: {EBIT.definition} [1]\n\nEBITDA: {EBITDA.definition} [2]")
    prompt = engine.calls[0]["messages"][-1]["content"]
    assert EBIT.definition in prompt and EBITDA.definition in prompt and "differ" in prompt
    assert "2. **EBITDA**" in answer.sources_markdown()


def test_multi_term_split_prefers_the_reading_where_both_terms_exist():
    plan = plan_answer("Difference between profit and loss statement and balance sheet?", GLOSSARY)
    assert [h.term for h in plan.cited] == ["profit and loss statement", "balance sheet"]
    plan = plan_answer("EBITDA vs blockchain oracle", GLOSSARY)
    assert [h.term for h in plan.cited] == ["EBITDA"] and plan.missing == ["blockchain oracle"]
    assert 'no entry for "blockchain oracle"' in plan.head() and "[1]" in plan.head()


def test_a_weak_match_is_not_stated_as_the_answer():
    plan = plan_answer("What is profit?", GLOSSARY, AnswerConfig(answer_score=0.75))
    assert plan.kind == NO_ENTRY and [h.term for h in plan.closest] == ["profit"]
    assert plan_answer("What is profit?", GLOSSARY, AnswerConfig(answer_score=0.5)).kind == DEFINITION


def test_a_partial_phrase_match_is_offered_not_stated():
    answer, engine = ask("Define carbon yield spread.", "x")
    assert answer.kind == NO_ENTRY and engine.calls == []
    assert answer.text == 'The glossary has no entry for "carbon yield spread". Closest terms: yield spread.'


def test_reverse_questions_count_as_asking_for_a_term():
    from rag.answer import asks_definition

    assert asks_definition("Which term means money a bank owes back on demand?")
    assert asks_definition("What do you call a promise by a bank to pay a seller?")
    assert not asks_definition("Is this tweet bullish? 'Apple beats estimates and raises guidance'")


def test_other_questions_get_the_models_own_answer_marked_as_such():
    history = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello."}]
    answer, engine = ask("Is this tweet bullish? 'Apple beats estimates and raises guidance'", "Bullish.", history=history,
                         system="Be brief.")
    assert answer.kind == MODEL and answer.text == "Bullish." and answer.hits == []
    assert [m["role"] for m in engine.calls[0]["messages"]] == ["system", "user", "assistant", "user"]
    assert "model's own answer" in answer.sources_markdown()


def test_explanations_can_be_turned_off():
    answer, engine = ask("What is contango?", "anything", config=AnswerConfig(explain=False))
    assert engine.calls == [] and answer.text.endswith("[1]")


@pytest.fixture(scope="session")
def builtin_glossary(tmp_path_factory):
    from rag import Glossary

    root = tmp_path_factory.getbasetemp() / "rag-builtin-kb"  # same folder as tests/test_rag_search.py: built once
    if not (root / "CURRENT").exists():
        Glossary.open(root)
    return Glossary.open(root)


@pytest.mark.slow
def test_real_model_answer_quotes_the_glossary_and_abstains(builtin_glossary, real_model_path):
    from fintune.engine import ChatEngine
    from rag.answer import check_sentence, minilm_similarity

    engine = ChatEngine.shared(real_model_path)
    answer = answer_question("What is contango?", builtin_glossary, engine)
    (hit,) = answer.hits
    assert answer.kind == DEFINITION and hit.term == "contango"
    assert answer.text.startswith(f"contango: {' '.join(hit.definition.split())} [1]")
    similarity = minilm_similarity()
    for sentence in filter(None, answer.explanation.split(". ")):
        assert check_sentence(sentence, answer.hits, answer.question, similarity, AnswerConfig()) in ("", "echo")
    missing = answer_question("What is a blockchain oracle?", builtin_glossary, engine)
    assert missing.kind == NO_ENTRY and missing.text.startswith('The glossary has no entry for "blockchain oracle"')
