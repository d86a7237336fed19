"""Goal → approach, table-driven over goals the team wrote.

``TUNING_GOALS`` (``DEV_GOALS``, ``DEV_GOALS_2``, ``HELDOUT_GOALS``, 100 goals) are kept apart from the example goals
in ``advisor/data/anchors.jsonl`` (the classifier's training data) and guard against regressions: target >= 90 %.
They are *not* an honest estimate for new goals: the method was tuned while looking at them. The honest estimate
comes from goals written blind to the method, scored once (``tests/test_advisor_blind.py``). Earlier evaluation
sets (a 52-goal held-out split and blind sets 1 to 4), each scored once, have since joined the example goals;
docs/advisor.md records their scores.

``"clarify"`` means the advisor must say the goal is too vague and ask for the missing piece.
"""

from __future__ import annotations

import pytest


DEV_GOALS = [
    ("Explain what financial terms like EBITDA mean", "rag"),
    ("Classify financial news headlines as bullish, bearish or neutral", "finetune"),
    ("Answer questions about the current mortgage rates on our website", "rag"),
    ("Sort customer emails into complaint, question or praise", "finetune"),
    ("Translate product descriptions from Spanish to English", "prompt"),
    ("Answer questions on our latest fund factsheets in our compliance template", "both"),
    ("Help me with AI", "clarify"),
    ("Turn loan officer notes into our JSON application record", "finetune"),
    ("Give me a summary of this paragraph", "prompt"),
    ("Tell users what our bank's overdraft fees are now, citing the fee schedule", "rag"),
    ("Write client updates in our advisory firm's voice", "finetune"),
    ("Define terms from the FIBO financial ontology", "rag"),
    ("Explain recent changes to capital gains tax and answer in our standard FAQ format", "both"),
    ("Make the system better at stuff", "clarify"),
    ("Detect fraudulent transaction descriptions, labelled fraud or not fraud", "finetune"),
    ("Write a limerick about interest rates", "prompt"),
    ("Answer questions from engineers about our internal deployment runbooks", "rag"),
    ("Adapt the model to the vocabulary of insurance underwriting reports", "finetune"),
    ("Summarise today's analyst reports into our morning note template", "both"),
    ("Correct the punctuation in a sentence", "prompt"),
]

# First held-out set: scored 35/40 (87.5%) on its one evaluation, so it was moved into the tuning set and
# replaced by HELDOUT_GOALS below (written before any further tuning).
DEV_GOALS_2 = [
    # rag
    ("Answer questions about the current fee structure of our credit cards", "rag"),
    ("Let clients ask what the yield on our latest bond issue is", "rag"),
    ("Answer employee questions about the travel expense policy, pointing to the paragraph", "rag"),
    ("Explain commodities trading terms like contango and backwardation", "rag"),
    ("Provide answers about pharmacy drug interactions from our up-to-date formulary", "rag"),
    ("Answer questions about the products launched in our latest catalogue", "rag"),
    ("Keep the assistant informed about new sanctions lists published every week", "rag"),
    ("Answer questions about the figures in our 10-K filings with page references", "rag"),
    ("Tell students what macroeconomic indicators like GDP and CPI measure", "rag"),
    ("Help sales staff answer questions about our service level agreements from the contract documents", "rag"),
    # finetune
    ("Categorize expense receipts into travel, meals, lodging or other", "finetune"),
    ("Label earnings call sentences as forward-looking or not", "finetune"),
    ("Assign each support ticket a priority of low, medium or high based on our historical tickets", "finetune"),
    ("Convert bank statement lines into CSV rows with date, payee and amount columns in our fixed layout", "finetune"),
    ("Answer customers in the cheerful, emoji-free tone our support team uses", "finetune"),
    ("Get the model comfortable with the terminology of derivatives term sheets", "finetune"),
    ("Classify news articles by industry sector using our 11 GICS sector labels", "finetune"),
    ("Generate standardized incident reports from technician notes", "finetune"),
    ("Detect whether a tweet about a stock is spam or genuine", "finetune"),
    ("Map free-text job titles to our internal job family codes", "finetune"),
    ("Make the assistant always respond with a risk warning and a one-line summary first, like our advisors", "finetune"),
    ("Rate the credit risk of a company description as low, medium or high like our credit committee", "finetune"),
    # both
    ("Answer questions about this month's interest rate changes using our branded reply template", "both"),
    ("Answer questions about current fund performance in the concise tone our advisors use", "both"),
    ("Use our policy library to answer HR questions, always formatted as a short memo with the policy reference", "both"),
    ("Write daily market wrap-ups from today's price data in the voice of our research desk", "both"),
    ("Answer questions about the latest tax rules and classify each question as personal or business", "both"),
    ("Summarise new regulatory updates each week into our fixed compliance bulletin format", "both"),
    ("A chatbot that knows our constantly changing loan products and always responds in our scripted structure", "both"),
    # prompt
    ("Translate a French news article into English", "prompt"),
    ("Write a birthday message for a colleague", "prompt"),
    ("Proofread my essay for typos", "prompt"),
    ("Summarize a long email thread into key points", "prompt"),
    ("Convert a list of numbers into a markdown table", "prompt"),
    ("Tell me a joke about accountants", "prompt"),
    ("Paraphrase a paragraph in simpler words", "prompt"),
    # vague
    ("Make the AI work for us", "clarify"),
    ("We need a finance model", "clarify"),
    ("Improve the answers", "clarify"),
    ("Help our team with LLMs", "clarify"),
]

HELDOUT_GOALS = [
    # rag
    ("Answer questions about the dividend dates announced by the companies in our index", "rag"),
    ("Tell branch staff the current requirements for opening a business account", "rag"),
    ("Explain banking abbreviations like APR, APY and LTV to customers", "rag"),
    ("Answer questions about our firm's investment committee minutes with the meeting date as source", "rag"),
    ("Provide the latest shipping schedules and port delays to our logistics team", "rag"),
    ("Answer questions about the warranty terms in our product manuals", "rag"),
    ("Keep answers about mortgage regulations correct as the rules are revised", "rag"),
    ("Describe what each of our 40 ETFs invests in, using the prospectuses", "rag"),
    ("Answer nurses' questions about hospital procedures from the clinical protocol binder", "rag"),
    ("Tell users the current price and availability of items in our online shop", "rag"),
    # finetune
    ("Classify payment disputes into fraud, service not received, duplicate charge or other", "finetune"),
    ("Tag analyst reports with buy, hold or sell recommendations", "finetune"),
    ("Decide if a loan application note should be approved or escalated, as our underwriters did in past cases", "finetune"),
    ("Turn meeting transcripts into our action-item table with owner, task and due date columns", "finetune"),
    ("Reply to policyholders in the calm, reassuring style of our claims handlers", "finetune"),
    ("Make the model fluent in the jargon of reinsurance treaties", "finetune"),
    ("Detect whether a customer message contains a complaint that must be reported to the regulator", "finetune"),
    ("Convert doctors' dictations into our discharge summary template", "finetune"),
    ("Assign merchant names to one of our 30 merchant categories", "finetune"),
    ("Write loan rejection letters exactly the way our legal team phrases them", "finetune"),
    ("Grade the readability of financial disclosures as easy, medium or hard like our editors", "finetune"),
    ("Extract counterparty, notional and maturity from trade confirmations into our XML schema", "finetune"),
    # both
    ("Answer questions about today's FX rates in our bank's standard chat reply format", "both"),
    ("Answer staff questions from our updated security policies, in the short bullet style our IT desk uses", "both"),
    ("Summarise this week's earnings releases into our fixed one-page briefing layout", "both"),
    ("Explain current product fees to customers in the friendly voice of our brand and cite the fee page", "both"),
    ("Use the latest research notes to answer client questions, always in our compliance-approved template", "both"),
    ("Answer questions about the newest tax forms and label each answer as individual or corporate", "both"),
    ("Write morning market summaries from overnight price moves in the style of our trading desk", "both"),
    # prompt
    ("Translate a customer letter from Portuguese into English", "prompt"),
    ("Write a thank-you note to a client", "prompt"),
    ("Check my paragraph for spelling mistakes", "prompt"),
    ("Summarize a blog post in two sentences", "prompt"),
    ("Turn this recipe into a shopping list", "prompt"),
    ("Give me ideas for a team-building event", "prompt"),
    ("Explain what a for loop does in general terms", "prompt"),
    # vague
    ("Make our data smarter", "clarify"),
    ("Help me with my model", "clarify"),
    ("Something for the finance department", "clarify"),
    ("AI for investments", "clarify"),
]


TUNING_GOALS = DEV_GOALS + DEV_GOALS_2 + HELDOUT_GOALS


@pytest.fixture(scope="module")
def advisor():
    from advisor.decide import Advisor
    from fintune.hardware import Machine

    return Advisor(machine=Machine(ram_gib=24, cpu_cores=2), use_tokenizer=False)


def _outcome(rec) -> str:
    return "clarify" if rec.needs_clarification else rec.approach


def _score(advisor, table):
    recs = advisor.advise_many([(g, None) for g, _ in table])
    misses = [(g, want, _outcome(r)) for (g, want), r in zip(table, recs) if _outcome(r) != want]
    return 1 - len(misses) / len(table), misses


def test_tables_are_separate_from_the_anchors():
    from advisor.anchors import anchors

    anchor_goals = {a.goal.lower() for a in anchors()}
    for g, _ in TUNING_GOALS:
        assert g.lower() not in anchor_goals, g
    assert not {g for g, _ in HELDOUT_GOALS} & {g for g, _ in DEV_GOALS + DEV_GOALS_2}
    assert len(TUNING_GOALS) >= 40
    assert {want for _, want in TUNING_GOALS} == {"rag", "finetune", "both", "prompt", "clarify"}


@pytest.mark.parametrize("goal,want", TUNING_GOALS)
def test_tuning_goal(advisor, goal, want):
    rec = advisor.advise(goal)
    assert rec.reasons and all(isinstance(r, str) and r for r in rec.reasons)
    assert 0 <= rec.confidence <= 1
    if _outcome(rec) != want:
        pytest.xfail(f"known tuning-set miss: got {_outcome(rec)} ({rec.reasons[0]})")


def test_tuning_accuracy_at_least_90_percent(advisor):
    acc, misses = _score(advisor, TUNING_GOALS)
    assert acc >= 0.9, misses


def test_shipped_goal_model_matches_the_example_goals():
    """Editing anchors.jsonl / facets.jsonl / signals.json needs `python -m advisor.goal_model` to refit the shipped weights."""
    from advisor.goal_model import MODEL_FILE, GoalModel, fingerprint

    assert GoalModel.load(MODEL_FILE).fingerprint == fingerprint()


@pytest.mark.parametrize("goal,want", [
    ("Summarise a bank's annual report in five bullet points", "prompt"),  # generic task on a finance topic
    ("Explain banking abbreviations such as SEPA and IBAN", "rag"),  # abbreviations are glossary facts
])
def test_known_confusions(advisor, goal, want):
    assert _outcome(advisor.advise(goal)) == want


def test_compound_goal_names_both_needs_in_the_goals_words(advisor):
    rec = advisor.advise("Answer questions about today's FX rates in our bank's standard chat reply format")
    assert rec.approach == "both" and rec.evidence["decided_by"] == "stated_both"
    assert rec.reasons[0].startswith('You want the model to know new or changing facts ("today\'s FX rates")'), rec.reasons
    assert "standard chat reply format" in rec.reasons[1], rec.reasons
    assert rec.evidence["axes"]["compound"] >= 0.5


@pytest.mark.parametrize("goal", ["Help me with AI", "Make it better", "We need a finance model"])
def test_vague_goals_ask_instead_of_guessing(advisor, goal):
    rec = advisor.advise(goal)
    assert rec.needs_clarification and rec.question
    assert rec.confidence <= 0.4
    assert rec.plan is None


def test_reasons_lead_with_the_stated_criterion_and_keep_numbers_in_evidence(advisor):
    rec = advisor.advise("Answer questions about this week's central bank decisions, citing the statement")
    assert rec.approach == "rag" and rec.confidence >= 0.8
    assert rec.reasons[0].startswith("You want the model to know new or changing facts") and "→" in rec.reasons[0]
    assert not any("axis" in r or "shares" in r for r in rec.reasons)
    assert any(d.startswith(("changing facts", "citations", "knowledge axis")) for d in rec.evidence["details"])


def test_learning_new_facts_is_retrieval_not_both(advisor):
    rec = advisor.advise("I want the model to learn the new facts in our product catalogue as it changes")
    assert rec.approach == "rag", rec.evidence
    assert "fine-tuning learns facts only after many epochs" in rec.reasons[0]


def test_what_one_document_says_is_retrieval(advisor):
    rec = advisor.advise("Staff query a corpus of 3,000 supplier contracts to find what one specific contract says about termination")
    assert rec.approach == "rag", rec.evidence


@pytest.mark.parametrize("goal", ["", "   "])
def test_empty_goal_is_an_advisor_error(advisor, goal):
    from advisor.errors import AdvisorError

    with pytest.raises(AdvisorError, match="goal is empty"):
        advisor.advise(goal)


def test_a_weak_axis_reason_does_not_claim_the_clause_asks_for_it():
    from types import SimpleNamespace

    from advisor.explain import axis_reasons
    from advisor.goal_model import AxisReading

    axes = AxisReading(knowledge=0.1, behaviour=0.6, knowledge_part=("write client updates", 0.15),
                       behaviour_part=("in our firm's voice", 0.9), compound=0.15, compound_parts=None)
    reasons = axis_reasons(SimpleNamespace(axes=axes), "both")
    weak = "knowledge axis 0.15 (weak): no single part clearly asks for specific, current or documented facts"
    assert reasons[0].startswith(weak), reasons
    assert reasons[1].startswith('behaviour axis 0.90: "in our firm\'s voice" asks for a learned output'), reasons
    assert all("→" in r for r in reasons)


def test_the_lexical_readout_in_numpy_equals_scikit_learns_tfidf():
    """The shipped model reads the goal's words in plain numpy; it must match TfidfVectorizer + LogisticRegression."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from advisor.goal_model import LEXICAL_C, TFIDF, Lexical

    texts = ["Sort our card transactions into our 40 spend categories", "Explain what EBITDA means",
             "Answer from the current rate sheet", "Answer from the current manual, citing the clause",
             "Sort these pasted transactions", "Explain what a bond's duration means", "Don't, don't stop: it's ok"]
    labels = ["finetune", "prompt", "rag", "rag", "prompt", "prompt", "vague"]
    lexical = Lexical.fit(texts, labels)
    unseen = texts + ["our current categories, explain the clause", "nothing known here"]
    vectorizer = TfidfVectorizer(**TFIDF).fit(texts)
    reference = vectorizer.transform(unseen).toarray()
    np.testing.assert_allclose(lexical.vectors(unseen), reference, atol=1e-12)
    classifier = LogisticRegression(C=LEXICAL_C, max_iter=3000).fit(vectorizer.transform(texts), labels)
    np.testing.assert_allclose(lexical.proba(unseen), classifier.predict_proba(reference), atol=1e-9)


def test_a_prompt_answer_on_a_named_label_list_warns_with_the_measured_base_model_fact(advisor):
    rec = advisor.advise("Classify financial news headlines as bullish, bearish or neutral")
    assert rec.approach == "prompt"  # a generic label set, as the guidance and the blind writers read it
    assert any(w.startswith("Measured:") and "9.5%" in w and "labelled rows" in w for w in rec.warnings), rec.warnings
    assert not advisor.advise("Summarise a news article in three sentences").warnings
