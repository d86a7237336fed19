"""The guidance's criteria, found in goals' own words (advisor.criteria), and how they combine with the goal
model and the data (advisor.verdict). Pure functions: no embeddings, fast."""

from __future__ import annotations

import pytest

from advisor.criteria import detect, negated_sides, stated_sides
from advisor.verdict import PATH_CONFIDENCE, goal_verdict, with_data

SHARES = {"rag": 0.2, "finetune": 0.2, "both": 0.2, "prompt": 0.3, "vague": 0.1}


@pytest.mark.parametrize("goal,key,words", [
    ("I want the model to learn new facts about our catalogue", "learn_facts", "learn new facts"),
    ("Answer questions about the fee schedule, which changes every month", "new_facts", "changes every"),
    ("Answer claims questions and quote the exact clause", "cite_or_quote", "quote"),
    ("Analysts ask what a specific filing says about leases", "document_lookup", "what a specific filing says"),
    ("Route tickets into our 14 support queues", "label_set", "our 14 support queues"),
    ("Turn broker notes into our JSON trade schema", "schema", "our JSON trade schema"),
    ("Make the model fluent in the jargon of reinsurance treaties", "domain", "fluent in the jargon"),
    ("Reply to customers in our brand voice", "style", "our brand voice"),
    ("Translate this letter into German", "generic_task", "Translate"),
    ("CFO here - turn these bullet notes into a board update", "supplied_input", "turn these bullet notes"),
    ("calc IRR from these cashflows: -100k, 30k, 40k", "supplied_input", "calc IRR from these cashflows"),
    ("The bot keeps inventing savings rates we don't offer", "stop_inventing", "inventing"),
    ("For each alert, retrieve the customer's last 90 days of transactions and summarise them", "document_lookup",
     "retrieve the customer's last 90 days of transactions"),
    ("Chatbot that answers about a customer's own portfolio holdings", "document_lookup", "a customer's own portfolio holdings"),
    ("Describe what each of our ETFs invests in, using the prospectuses", "document_lookup", "using the prospectuses"),
    ("IT helpdesk bot answering from our runbooks", "document_lookup", "answering from our runbooks"),
    ("Translate questions into our internal ledger query language", "label_set",
     "Translate questions into our internal ledger query language"),
    ("Ops needs the answers in the dispute format: reason code, time limit", "schema", "in the dispute format"),
    ("Classify these 20 expense lines as travel, meals or office supplies", "supplied_input", "Classify these 20 expense lines"),
    ("Pull the name and claim date out of this pasted email as JSON", "supplied_input",
     "Pull the name and claim date out of this pasted email"),
    ("The model doesn't get the jargon in Lloyd's market slips", "domain", "doesn't get the jargon"),
    ("Port COBOL to Java that follows our team's conventions", "style", "follows our team's conventions"),
    ("Answers worded like our approved marketing copy", "style", "worded like our"),
    ("Suggest five subject lines for our spring sale newsletter", "generic_task", "Suggest five subject lines"),
    ("Summarise notes written in our collectors' own shorthand", "domain", "our collectors' own shorthand"),
    ("Claim notes full of slang and abbreviations that models don't get", "domain", "full of slang"),
    ("Clients ask about fees in their card tariff; we revise the tariff every quarter", "new_facts", "revise the tariff every"),
    ("Mortgage clients chat about their loan account data", "document_lookup", "their loan account data"),
    ("SAR narratives populated from the case's transaction history", "document_lookup", "from the case's transaction history"),
    ("Rate invoices low, medium or high the way our AP investigators have historically rated them", "past_decisions",
     "the way our AP investigators have historically rated"),
    ("Flag broker emails the way our surveillance reviewers label them", "past_decisions",
     "the way our surveillance reviewers label them"),
    ("The model doesn't get maritime charter party terms and mangles them", "domain",
     "doesn't get maritime charter party terms"),
    ("Norwegian discharge summaries full of local abbreviations: general models garble them", "domain", "full of local abbreviations"),
])
def test_each_criterion_quotes_the_goals_words(goal, key, words):
    hit = next(h for h in detect(goal) if h.key == key)
    assert hit.words == words
    assert hit.reason().startswith("You want the model to") and f'("{words}")' in hit.reason() and "→" in hit.reason()


@pytest.mark.parametrize("goal", [
    "Sort customer emails into complaint, question or compliment",  # a generic label set: the goal model decides
    "Given the month's performance figures, write a commentary",  # figures handed in, not facts to know
    "Explain what a for loop does in general terms",
])
def test_goals_that_state_no_criterion(goal):
    assert stated_sides(detect(goal)) <= {"prompt"}


@pytest.mark.parametrize("goal,not_key", [
    ("The model has to answer from their own account record", "schema"),  # a record to read, not a format to produce
    ("Tell students their own grades from the LMS", "label_set"),
    ("I paste my expenses - which 3 categories do I spend most on?", "label_set"),  # a ranking, not a label set
    ("Invent names for our new savings products", "stop_inventing"),  # inventing is the task here
    ("Give the coverage decision as our standard decision code in JSON", "past_decisions"),  # a code to produce
    ("Staff don't know what our internal terms mean; give definitions", "domain"),  # definitions: knowledge
])
def test_phrases_that_only_look_like_a_criterion(goal, not_key):
    assert not_key not in {h.key for h in detect(goal)}


@pytest.mark.parametrize("goal,side", [
    ("Staff ask how reimbursement works. Plain answers are fine, nothing fancy format-wise.", "finetune"),
    ("Explain our fee rules, no special format needed", "finetune"),
    ("It does not need to know anything new, just reply in our brand voice", "rag"),
])
def test_a_side_the_goal_rules_out(goal, side):
    assert side in negated_sides(goal)
    assert side not in stated_sides(detect(goal))


def test_a_ruled_out_side_overrides_the_goal_models_both():
    v = goal_verdict("Answer questions about our expense policy; plain answers, nothing fancy format-wise", SHARES, "both")
    assert v.approach == "rag"


def test_supplied_input_is_prompt_unless_a_specific_need_is_stated():
    assert stated_sides(detect("Summarise the transcript pasted below into five bullets")) == {"prompt"}
    assert stated_sides(detect("Turn these notes into our fixed 5-section memo format")) == {"finetune"}


def test_a_specific_need_outranks_a_generic_task_cue():
    assert stated_sides(detect("Summarise new regulatory updates each week into our fixed compliance bulletin format")) == {"rag", "finetune"}


@pytest.mark.parametrize("goal,model,approach,path", [
    ("Answer about today's FX rates in our standard reply format", "rag", "both", "stated_both"),
    ("Answer claims questions and quote the exact clause", "rag", "rag", "stated_agrees"),
    ("Answer claims questions and quote the exact clause", "finetune", "both", "stated_model_other"),
    ("Answer claims questions and quote the exact clause", "prompt", "rag", "stated_overrides"),
    ("Rate alerts high or low the way our investigators have historically rated them", "both", "finetune",
     "stated_overrides"),  # past decisions are a mapping, not knowledge
    ("Answer claims questions and quote the exact clause", "both", "both", "stated_model_both"),
    ("I want the model to learn new facts about our catalogue", "both", "rag", "stated_overrides"),  # learning facts is RAG
    ("I paste my monthly expenses; sort them into the categories I list", "prompt", "prompt", "stated_split"),
    ("I paste my monthly expenses; sort them into the categories I list", "finetune", "finetune", "stated_agrees"),
    ("Help me with AI", "clarify", "clarify", "clarify"),
])
def test_stated_criteria_decide_and_the_path_sets_confidence(goal, model, approach, path):
    v = goal_verdict(goal, SHARES, model)
    assert (v.approach, v.decided_by) == (approach, path)
    if path in PATH_CONFIDENCE:
        assert v.confidence == PATH_CONFIDENCE[path]


def test_many_labelled_rows_turn_a_prompt_goal_into_a_confident_finetune():
    v, note = with_data(goal_verdict("Sort emails into spam or not spam", SHARES, "prompt"), "label_set", 9543, None)
    assert (v.approach, v.decided_by, note) == ("finetune", "data", None) and v.confidence >= 0.9


def test_mapping_data_turns_a_knowledge_goal_into_both():
    v, note = with_data(goal_verdict("Answer claims questions and quote the exact clause", SHARES, "rag"), "label_set", 500, None)
    assert v.approach == "both" and "mapping" in note


def test_the_goal_model_reads_the_task_not_the_technique_named():
    from advisor.clauses import without_technique

    assert without_technique("We need a RAG pipeline so the app can explain amortization") == "We need a model so the app can explain amortization"
    assert without_technique("Fine-tune a model so it can explain duration") == "use a model so it can explain duration"
    assert without_technique("I was going to RAG our 5,000 notes; fine tuning on them next") == "I was going to use our 5,000 notes; using them next"
    assert without_technique("storage bragging rights for a fine tunnel") == "storage bragging rights for a fine tunnel"


def test_one_stated_side_plus_the_other_side_heard_by_the_goal_model_is_both():
    goal = "Answer advisers from this month's factsheets"  # new_facts only; the model hears a house style too
    assert goal_verdict(goal, SHARES, "finetune").approach == "both"
    assert goal_verdict(goal, SHARES, "both").approach == "both"
    assert goal_verdict(goal, SHARES, "rag").approach == "rag"
    ruled_out = "Answer advisers from this month's factsheets, nothing fancy format-wise"
    assert goal_verdict(ruled_out, SHARES, "finetune").approach == "rag"