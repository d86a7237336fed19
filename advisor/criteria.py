"""The guidance's criteria, found in the goal's own words — named evidence the advisor can quote back.

The guidance FinTune implements says: to impart new, changing or citable facts, use retrieval; fine-tune for
an input→output mapping with a fixed label set or schema, a new textual domain, or a consistent behaviour,
format or style; prompt for a generic task an instruct model already does; do both when a goal needs each
side. Each ``Criterion`` below is one of those statements with the phrasings that state it outright. When
a goal states one, it decides (``advisor.decide``) unless the attached data contradicts it; when it states
none, the learned goal classifier decides. A leaf module: pure regular expressions, no embeddings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SIDES = ("rag", "finetune", "prompt")

_W = r"[\w'’-]+"  # one word
_GAP = rf"(?:\s+{_W}){{0,4}}\s+"  # up to four words in between
# whose it is: "our", "the firm's"… A bare "own" ("their own grades", "their own account record") is one person's
# record, not a house label set or format, so only the voice/style criterion also takes it (_OWN).
_OURS = r"(?:our|my|internal|in-house|house|company'?s|firm'?s|bank'?s|team'?s|desk'?s|brand|proprietary)"
_OWN = rf"(?:{_OURS}|own)"
_FRESH = (r"(?:new|newly|updated|latest|newest|current|changing|recent|up[- ]to[- ]date|live|today'?s|tonight'?s|"
          r"this (?:week|month|quarter|year)'?s?|this morning'?s)")
_FACT_NOUN = (r"(?:facts?|information|info|knowledge|figures|numbers|rates?|prices?|pricing|fees?|rules?|regulations?|"
              r"polic(?:y|ies)|products?|offers?|catalogue|catalog|inventory|stock levels|availability|schedules?|terms|"
              r"guidance|guidelines|instructions|announcements|news|releases?|filings|reports?|research|notes|changes|"
              r"updates|developments|data|tariffs?|limits|requirements|procedures|documentation|docs|versions?|lists?|"
              r"decisions|rulings|results|listings|statements|thresholds|brackets|holdings|positions|balances|"
              r"exposures?|inventory|bulletins|circulars|notices|order status|status|statuses|factsheets?|fact sheets?|"
              r"rate sheets?|tariff sheets?|price lists?|manuals?|rulebooks?|handbooks?|control library|kris?|"
              r"financials)")


_DOC_NOUN = (r"(?:documents?|docs|memos?|wordings?|manuals?|catalogues?|catalogs?|handbooks?|filings?|reports?|contracts?|"
             r"notes|minutes|knowledge base|wiki|faqs?|polic(?:y|ies)|procedures|guidelines|rulebooks?|circulars?|"
             r"prospectus(?:es)?|factsheets?|brochures?|pdfs?|sharepoint|intranet|product sheets?|rate sheets?|rules|rulebooks?|"
             r"criteria sheets?|t&cs|terms and conditions|runbooks?|playbooks?|help (?:centre|center) articles|kb articles|slides|lecture notes|syllab(?:us|i)|release notes)")


_PERSON = (r"(?:customer|client|borrower|account[- ]holder|policyholder|policy[- ]holder|member|applicant|merchant|"
           r"counterparty|company|employee|patient|student|supplier|vendor|user|caller|investor|household|cardholder|"
           r"taxpayer|tenant|shopper|buyer|case|account)")
_RECORD = (r"(?:records?|profiles?|files?|history|data|holdings|accounts?|statements?|crm|portfolio|positions|kyc|"
           r"transactions|payments|balances?|case notes|notes|claims?|chargebacks?|invoices|orders|tickets|contracts?|"
           r"policy|policies|documents?|filings|loans?|limits|charts?|chart entries|returns|correspondence|"
           r"order status|status)")
# the user hands the model the material it works on, in the message itself
_SUPPLIED_NOUN = (r"(?:bullet notes|notes|bullet(?:s| points)?|numbers|figures|text|transcript|email|emails|message|letter|list|rows|"
                  r"paragraphs?|draft|sentences?|expenses|amounts|rates|table|paste|excerpt|passage|"
                  r"memo|minutes|comments|feedback|review|reviews|article|post|cash ?flows|values|lines|items|entries|receipts|"
                  r"invoices?)")


# deciding verbs: a present form needs its object ("the way our reviewers label them"), else "as our decision code"
_DECIDE = (r"(?:rate|classify|code|label|tag|grade|score|categori[sz]e|decide|route|triage|prioriti[sz]e|flag|assess|"
           r"bucket|sort|map|assign|annotate|mark|disposition)")
_PAST_DECIDED = (r"(?:rated|classified|coded|labell?ed|tagged|graded|scored|categori[sz]ed|decided|routed|triaged|"
                 r"prioriti[sz]ed|flagged|assessed|bucketed|sorted|mapped|assigned|annotated|marked|dispositioned|"
                 r"judged|ruled on)")


@dataclass(frozen=True)
class Criterion:
    key: str
    side: str  # rag | finetune | prompt
    name: str  # plain words, for the reason
    because: str  # "→ ..." half of the reason: why this side fits
    patterns: tuple[str, ...]


CRITERIA: tuple[Criterion, ...] = (
    Criterion("learn_facts", "rag", "learn new facts",
              "retrieval hands the model those facts at question time, current and citable; fine-tuning learns facts "
              "only after many epochs and goes stale when they change",
              (rf"\b(?:know|learn|teach|memori[sz]e|absorb|retain|be aware of|keep up with|stay (?:current|up to date) with)"
               rf"(?:\s+{_W}){{0,5}}\s+(?:new|updated|latest|fresh|the latest)\s+{_FACT_NOUN}\b",
               rf"\b(?:new|updated|fresh|latest)\s+(?:facts|knowledge|information)\b",
               rf"\bmemori[sz]e(?:\s+{_W}){{0,4}}\s+{_DOC_NOUN}\b",
               rf"\bteach(?:\s+{_W}){{0,3}}\s+(?:our|my|the|all (?:of )?our)\s+(?:{_W}\s+){{0,2}}{_DOC_NOUN}\b"
               r"(?!\s+(?:format|style|template|layout|structure|tone|voice|wording style))",
               rf"\b(?:teach|train|tune|fine[- ]?tune|feed)\b(?:\s+{_W}){{0,8}}\s+{_DOC_NOUN}\b[^.?!;]{{0,60}}?\s+"
               r"(?:so (?:that )?|and then |then |and )(?:\w+\s+){0,2}(?:(?:can|could|will|would)\s+(?:\w+\s+){0,2}"
               r"(?:ask|answer|tell|look up|find|query|recall|know|say)|knows|remembers)\b")),
    Criterion("new_facts", "rag", "know new or changing facts",
              "retrieval keeps them current and citable; fine-tuning learns facts only after many epochs and "
              "goes stale when they change",
              # "writes new notes" is the model's output, not new facts it must know
              (rf"(?<!write )(?<!writes )(?<!writing )(?<!draft )(?<!drafts )(?<!drafting )(?<!generate )(?<!generates )"
               rf"(?<!create )(?<!creates )(?<!produce )(?<!produces )\b{_FRESH}(?:\s+{_W}){{0,3}}\s+{_FACT_NOUN}\b",
               r"\b(?:chang(?:e|es|ed|ing)|updat(?:e|es|ed|ing)|revis(?:e|es|ed|ing)|refresh(?:es|ed)?|republish(?:es|ed)?|"
               r"publish(?:es|ed)?|amend(?:s|ed)?)\s+(?:it\s+|them\s+|this\s+|(?:the|our)\s+[\w-]+\s+)?(?:every|each|"
               r"weekly|daily|monthly|quarterly|yearly|annually|often|regularly|frequently|constantly|all the time|"
               r"several times|a few times|many times|multiple times|twice|a couple of times)\b",
               r"\b(?:constantly|frequently|regularly|often|keeps?|keep on)\s+(?:chang|updat|revis)\w*",
               r"\b(?:kept|keep|stay|stays|remain)\s+(?:current|up[- ]to[- ]date)\b",
               r"\bas (?:(?:the|our) (?:[\w-]+\s+)?[\w-]+|they|it|things|rules|prices|rates|products) (?:change|changes|"
               r"are revised|is revised|are updated|is updated|get updated|evolve)\b")),
    Criterion("cite_or_quote", "rag", "cite or quote the source",
              "retrieval returns the exact passage to quote and point to; a fine-tuned model cannot show where an "
              "answer came from",
              (r"\b(?:cite|cites|citing|citation|citations|verbatim|word[- ]for[- ]word|exact wording)\b",
               # a price, bond or insurance quote is an offer, not a citation
               r"(?<!price )(?<!structured )(?<!bond )(?<!rate )(?<!fx )(?<!insurance )(?<!premium )(?<!dealer )"
               r"(?<!firm )(?<!a )(?<!two-way )\b(?:quote|quotes|quoting)\b(?!\s+(?:requests?|prices?|levels?|sheets?))",
               r"\b(?:with|give|giving|show|showing|name|naming|include|including|add|adding|plus|and)\s+(?:the\s+|a\s+|its\s+)?"
               r"(?:sources?|references?|page (?:numbers?|references?)|section numbers?|clause numbers?)\b",
               r"\bpoint(?:s|ed|ing)? (?:\w+\s+)?(?:to|at) (?:the |a )?(?:right |relevant |correct |exact |specific |matching )?"
               r"(?:paragraph|section|clause|page|document|doc|rule|source|passage|runbook|policy|file|pdf|article|manual|"
               r"procedure)s?\b",
               r"\bwhere (?:the|each|an?) (?:answer|figure|fact|rule)s? (?:came|comes) from\b",
               r"\bwhich (?:[\w-]+\s+){1,2}(?:it|the answer|each answer|that) (?:came|comes) from\b",
               r"\b(?:page|paragraph|section|clause) references?\b",
               r"\bas (?:the )?source\b")),
    Criterion("document_lookup", "rag", "look up what your documents say",
              "retrieval searches the documents and answers from the passage it found; fine-tuning would have to "
              "memorise every document",
              (r"\bwhat (?:a|the|one|each|any|a specific|a particular|a given|that|this|their|our)(?:\s+[\w'-]+){0,3}\s+"
               r"(?:document|contract|policy|filing|report|manual|agreement|paper|memo|file|page|clause|wording|"
               r"prospectus|handbook|guideline|procedure|statement|standard|circular|letter|minutes)s?\s+(?:says?|said|states?|contains?|covers?)\b",
               r"\b(?:answer|answers|answering|respond to)\s+(?:\w+\s+){0,3}(?:questions?|queries|enquiries|inquiries)"
               r"(?:\s+[\w'-]+){0,4}\s+(?:about|from|on|using|based on|against|over)\s+(?:the\s+|our\s+|its\s+|their\s+|my\s+)?"
               r"(?:[\w'-]+\s+){0,3}(?:documents?|docs|manuals?|handbooks?|wiki|contracts?|filings?|reports?|binders?|"
               r"runbooks?|prospectus(?:es)?|wordings?|faqs?|knowledge base|policy library|library|intranet|minutes|"
               r"factsheets?|brochures?|archive of (?:documents|reports|filings|contracts)|corpus|protocols?)\b",
               r"\b(?:look(?:s|ing)? up|search(?:es|ing)? (?:through|across|in|our|the))\b",
               r"\b(?:from|in|across|over) (?:our|the|a|my) (?:\w+\s+){0,2}(?:knowledge base|document (?:store|library|"
               r"collection|archive)|corpus|wiki|intranet)\b",
               r"\bwhich (?:document|section|clause|page|paragraph|filing|policy|contract)\b",
               rf"\bwhich of (?:our|the|my|their) (?:[\w'-]+\s+){{0,3}}{_DOC_NOUN}\b",
               r"\b(?:pull|pulls|pulling|fetch|fetches|fetching|retrieve|retrieves|retrieving|look up|looks up|using|uses|"
               r"from|reads?|reading|check|checks|checking)\s+(?:in\s+)?(?:the|each|their|his|her|that|a)\s+(?:customer|client|"
               r"borrower|account[- ]holder|policyholder|member|applicant|merchant|counterparty|company)'?s?\s+"
               r"(?:[\w-]+\s+){0,2}(?:records?|profiles?|files?|history|data|holdings|accounts?|statements?|crm|portfolio|"
               r"positions|kyc)\b",
               r"\bpull(?:s|ing)?\s+(?:the\s+)?(?:facts|data|figures|details|information|numbers)\s+(?:from|out of)\b",
               rf"\b(?:answer|answers|answering|reply|replies|replying|respond|responds|responding)\s+(?:only\s+)?(?:from|using)\s+"
               rf"(?:the|our|their|its)\s+(?:[\w'-]+\s+){{0,2}}{_DOC_NOUN}\b",
               # "the customer's last 90 days of transactions pulled from core banking"
               rf"\b{_PERSON}'?s?\s+(?:[\w-]+\s+){{0,5}}{_RECORD}\s+(?:pulled|fetched|retrieved|looked up|read|taken)\s+from\b",
               # the documents named as the source of the answer
               rf"\b(?:using|according to|grounded in|sourced from)\s+(?:the|our|their|its)\s+(?:[\w'-]+\s+){{0,2}}"
               rf"{_DOC_NOUN}\b(?!\s+(?:format|style|template|layout|structure|tone|voice))",
               # a retrieval verb on one customer's / client's / merchant's records: facts read at answer time
               rf"\b(?:retrieve|retrieves|retrieving|pull|pulls|pulling|fetch|fetches|fetching|look up|looks up|"
               rf"looking up|check|checks|checking|read|reads|reading|answer from|answers from|based on|using|uses|from|"
               rf"filled from|drawn from)\s+"
               rf"(?:the|each|their|his|her|a|this|that)\s+{_PERSON}'?s?\s+(?:{_W}\s+){{0,6}}?{_RECORD}\b",
               # one customer's own records, read at answer time
               rf"\b(?:their|his|her|(?:the|a|each|one) {_PERSON}'?s?)\s+own\s+"
               rf"(?:[\w-]+\s+){{0,3}}(?:{_RECORD}|logs?|chart of accounts)\b",
               r"\b(?:their|his|her|my)\s+(?:[\w-]+\s+)?(?:account|loan|policy|card|pension|portfolio)\s+(?:data|records?|details|"
               r"history|balances?|statements?|holdings)\b",
               r"\b(?:borrowers?|customers?|clients?|members?|applicants?)'?s?\s+(?:existing\s+|current\s+)?(?:account|transaction|"
               r"payment|kyc|credit)\s+(?:data|records?|history|details)\b")),
    Criterion("stop_inventing", "rag", "stop making up facts",
              "retrieval grounds each answer in your real documents and figures; fine-tuning does not stop a model "
              "inventing facts it was never given",
              (r"\b(?:invent|invents|inventing|invented|making up|makes up|made up|make up|hallucinat\w*|fabricat\w*)\b"
               r"(?!\s+(?:names|stories|a story|examples|ideas|scenarios|test data))",)),
    Criterion("glossary", "rag", "explain the terms of a glossary",
              "definitions are facts to look up; retrieval answers each term from its glossary entry",
              (r"\b(?:glossary|ontology|terminology database|term base)\b",
               r"\b(?:explain|explaining|define|defining|definitions? of|meaning of|expand|what)(?:\s+[\w'-]+){0,4}\s+"
               r"(?:acronyms|abbreviations)\b",
               # a set of a field's terms ("explain what bond terms like duration, convexity and coupon mean"): a
               # glossary to answer from; the 135M base model invents definitions (docs/knowledge.md)
               r"\b(?:explain|explains|explaining|define|defines|defining|definitions? of|meaning of|what)\b[^.?!]{0,40}?"
               r"\b(?:terms|terminology|jargon|vocabulary|acronyms)\s+(?:like|such as|e\.g\.|including)\b")),
    Criterion("label_set", "finetune", "map inputs to your own fixed set of labels",
              "a fine-tuned adapter learns the mapping from labelled examples and answers with one of your labels "
              "every time",
              (rf"\b{_OURS}(?:\s+{_W}){{0,3}}\s+(?:categories|labels|codes|classes|taxonomy|typolog(?:y|ies)|tags|"
               r"buckets|queues|segments|grades|gradings|ratings|rating scale|classification|classifications|"
               r"risk levels|priority levels|reason codes|reasons|strategies|statuses|outcomes|intents|topics|sectors|"
               r"types|tiers)\b",
               rf"(?<!which )(?<!top )(?<!biggest )(?<!largest )\b\d[\d,.]*k?(?:\s+{_W}){{0,3}}\s+(?:categories|labels|codes|classes|typologies|buckets|queues|"
               r"sectors|tags|intents|reason codes|reasons|strategies|statuses|topics|segments|tiers)\b",
               rf"\b(?:labelled|labeled|annotated|tagged|graded|classified|hand-labelled|hand-labeled|historical|past)"
               rf"(?:\s+{_W}){{0,3}}\s+(?:examples?|history|cases|tickets|alerts|rows|decisions|records|transactions|"
               r"claims|emails|messages|data|dataset|samples|calls|reviews|applications|items|sets?|corpus)\b",
               r"\b(?:code|coding|map|mapping|assign|assigning|route|routing|sort|sorting|bucket|bucketing)\s+(?:\w+\s+){0,3}"
               r"(?:to|into)\s+(?:the\s+|our\s+|a\s+|one of (?:the|our)\s+)?(?:right\s+|correct\s+)?(?:[\w-]+\s+){0,2}"
               r"(?:accounts|account codes|gl codes|cost centres|cost centers|categories|queues|buckets|classes|labels)\b",
               r"\b(?:input[- ]?(?:→|->|to|-to-)[- ]?output|input/output)\b",
               r"\blearn(?:s|ed|ing)? (?:the |a |our )?mapping\b",
               rf"\b(?:translate|translates|translating|convert|converts|converting|turn|turns|turning)\b[^.?!]{{0,60}}?\binto\s+"
               rf"(?:{_OURS}|an in-house|an internal|the firm'?s)\s+(?:[\w-]+\s+){{0,3}}?(?:query language|language|dialect|"
               rf"dsl|syntax|sql|codes?)\b")),
    Criterion("past_decisions", "finetune", "decide the way your people decided before",
              "those past decisions are labelled examples of a mapping, not facts to look up; a fine-tuned adapter "
              "learns to decide as they did",
              # "the way our investigators have historically rated them", "consistent with how the board classified"
              (rf"\b(?:the (?:same )?way|how|as|like)\s+(?:our|the|my)\s+(?:[\w'&-]+\s+){{0,3}}?"
               rf"(?:(?:have|has|had)\s+)?(?:historically\s+|previously\s+|always\s+|traditionally\s+|already\s+)?"
               rf"(?:{_PAST_DECIDED}\b|{_DECIDE}\s+(?:them|it|these|those|each one)\b)",
               rf"\b(?:historically|previously|in the past)\s+(?:been\s+)?{_PAST_DECIDED}\b")),
    Criterion("schema", "finetune", "produce your fixed format or schema",
              "fine-tuning makes the model produce that exact shape every time; a prompt drifts from it",
              (rf"\b(?:{_OURS}|fixed|exact|strict|mandated|prescribed|standardi[sz]ed|required|approved|"
               rf"compliance-approved|branded|scripted|set)(?:\s+{_W}){{0,3}}\s+(?:json\s+|xml\s+|csv\s+)?(?:schema|"
               r"templates?|layout|format|structure|record|form|fields|columns|report structure|memo format|entries)\b",
               r"\b(?:schema|template|layout|structure|format)\s+(?:(?:that|which)\s+)?(?:(?:the|our|their)\s+(?:[\w'-]+\s+){0,2}|"
               r"[\w'-]+\s+)(?:expects?|requires?|mandates?|uses?|use|prescribes?|follows?|follow)\b",
               r"\b[\w-]+-(?:section|part|field|column|step) (?:template|format|structure|layout)\b",
               r"\b(?:schema|format|template|structure|layout) is (?:fixed|set|mandated|prescribed|strict|standard)\b",
               r"\bin (?:the|our) (?!(?:same|right|correct|usual|plain|simple|normal|standard|best|easiest|following)\b)"
               r"[\w/&-]+(?:\s+[\w/&-]+)? (?:format|template|layout)\b")),
    Criterion("examples", "finetune", "learn from your examples of the output",
              "a fine-tuned adapter learns what those examples share; a prompt holds only a few of them",
              (rf"(?:\b(?:we have|we've got|we got|there are|with|have|got)|\()\s*(?:about\s+|around\s+|roughly\s+|over\s+|~\s*|some\s+|"
               rf"nearly\s+|almost\s+)?\d[\d,.]*\s*k?\+?\s+(?:past|previous|finished|completed|example|historical|approved|"
               rf"existing|real|sample|best-rated|top-rated|written|graded|reviewed)\s+(?:(?!{_DOC_NOUN}\b)[\w-]+\s+){{0,2}}?"
               r"(?:examples?|ones|notes|replies|emails|chats|narratives|summaries|sars|letters|write-?ups|responses|"
               r"answers|messages|drafts|tickets|cases|decisions|reviews|assessments|commentar(?:y|ies)|descriptions|"
               r"transcripts|conversations|referrals)\b",
               r"\b(?:examples?|notes|data|history|records|ones|replies|emails) to learn from\b",
               r"\byears of (?:past |our |old )?(?:notes|replies|emails|write-?ups|letters|chats|narratives|summaries)\b")),
    Criterion("domain", "finetune", "be fluent in a specialised domain's language",
              "fine-tuning on that domain's texts adapts the model to its jargon and phrasing",
              (r"\b(?:fluent|comfortable|familiar|at home|conversant|versed|proficient|natural)\b(?:\s+[\w'-]+){0,4}\s+"
               r"(?:jargon|terminology|vocabulary|language|lingo|phrasing|idioms|shorthand|domain|register)\b",
               r"\b(?:adapt|specialise|specialize|tailor|tune)(?:\s+[\w'-]+){0,4}\s+(?:to|for|in|on)\s+(?:\w+\s+){0,4}"
               r"(?:jargon|terminology|vocabulary|language|lingo|domain|texts|writing)\b",
               r"\b(?:new|specialised|specialized|niche|technical|unfamiliar) (?:textual |text |language )?domain\b",
               r"\b(?:speak|speaks|write|writes|understand|understands|read|reads) (?:in )?(?:the|our|their) (?:\w+\s+){0,3}(?:jargon|lingo|shorthand|"
               r"language of)\b",
               r"\b(?:shorthand|slang|lingo|argot)\s+(?:of|used by|that)\b",
               r"\b(?:our|their|its)\s+(?:[\w'-]+\s+){0,2}?(?:own\s+)?(?:shorthand|jargon|slang|lingo|argot)\b",
               r"\b(?:full of|packed with|heavy with|riddled with|thick with)\s+(?:[\w-]+\s+)?(?:slang|jargon|shorthand|"
               r"abbreviations|acronyms|lingo)\b",
               r"\b(?:adapt|specialise|specialize|tailor|tune)(?:\s+[\w'-]+){0,4}\s+(?:to|for|on)\s+(?:\w+\s+){0,4}"
               r"(?:shorthand|slang|abbreviations)\b",
               # "the model doesn't get the jargon", "… doesn't get maritime charter party terms", "models garble them"
               r"\b(?:doesn'?t|does not|don'?t|do not|can'?t|cannot|never)\s+(?:\w+\s+){0,2}?(?:get|gets|understand|"
               r"understands|read|follow|handle|grasp|parse|know(?!\s+what))\s+(?:[\w'-]+\s+){0,4}?(?:jargon|lingo|"
               r"shorthand|terminology|terms|language|abbreviations|acronyms|slang|vocabulary)\b",
               r"\b(?:garbles?|garbling|mangles?|mangling|misreads?|misreading)\s+(?:it|them|the|our|these|its|those)\b")),
    Criterion("style", "finetune", "behave consistently in your style or voice",
              "fine-tuning on your examples instils the behaviour so every answer keeps it",
              (rf"\b{_OWN}(?:\s+{_W}){{0,4}}\s+(?:voice|tone|style|persona|register|manner|house style|way of writing|"
               r"writing style)\b",
               rf"\b(?:voice|tone|style|persona|register|manner|phrasing|wording)\s+(?:of|that|used by|our)(?:\s+{_W}){{0,4}}"
               rf"\s+(?:our|we|us|the team|the desk)\b",
               r"\b(?:sound|sounds|sounding|reads?|read|worded|written|phrased) like (?:our|the|one of our|a member of our)\b",
               rf"\b(?:follow|follows|following|keep to|sticks? to)\s+(?:{_OURS}\s+)?(?:[\w'-]+\s+){{0,2}}(?:conventions|"
               r"house rules|style guide|coding standards|writing standards)\b",
               r"\b(?:style|voice|tone|way) (?:that )?(?:our|the) (?:[\w'-]+\s+){0,2}(?:write|writes|use|uses|speak|speaks|talk|talks)\b",
               r"\b(?:the (?:same )?way|like|as) (?:our|the) (?:[\w'-]+\s+){0,3}(?:team|desk|staff|analysts?|editors?|underwriters?|"
               r"committee|handlers|advis[eo]rs?|agents?|writers?|lawyers|legal|managers?|reviewers?|officers?|"
               r"experts?|engineers|clinicians|adjusters|traders|coaches|planners|accountants|auditors|bankers)\b"
               r"(?:\s+[\w'-]+){0,2}\s*(?:do|does|did|write|writes|wrote|phrase|phrases|"
               r"would|handle|handles|answer|answers|respond|responds|reply|replies|have|has)?\b",
               r"\b(?:always|consistently|every time|each time|never)\s+(?:\w+\s+){0,2}(?:respond|responds|reply|replies|"
               r"start|starts|begin|begins|end|ends|include|includes|add|adds|open|opens|close|closes|sign|signs|"
               r"follow|follows|mention|mentions|refuse|refuses)\b",
               r"\bconsistent(?:ly)?(?:\s+[\w'-]+){0,3}\s+(?:behaviou?r|format|formatting|style|tone|structure|output|"
               r"persona|voice|way)\b",
               r"\b(?:behaviou?r|behave|behaves)\s+(?:\w+\s+){0,3}(?:consistent|the same|like)\b")),
    Criterion("generic_task", "prompt", "do a generic task an instruct model already does",
              "the base instruct model does it from a clear prompt with two or three examples; no index or training "
              "needed",
              (r"^(?:please\s+|can (?:it|you|the model)\s+|help me\s+|i (?:want|need) (?:it|the model|a model) to\s+)?"
               r"(?:translate|proofread|paraphrase|rephrase|shorten|simplify|brainstorm|spell-?check|"
               r"summari[sz]e|fix (?:the )?(?:grammar|spelling|typos|punctuation)|correct (?:the )?(?:grammar|spelling|"
               r"typos|punctuation)|check (?:\w+\s+){0,3}for (?:typos|spelling|grammar)|give me ideas|suggest ideas|"
               r"write an? (?:poem|limerick|joke|haiku|birthday|thank-you|thank you|short story|riddle|toast|"
               r"birthday message|cover letter))\b",
               r"\b(?:generic|general[- ]purpose|everyday|common|standard|simple|basic|ordinary|routine)\s+(?:writing\s+|"
               r"language\s+|text\s+)?(?:tasks?|requests?|jobs?|chores?)\b",
               r"\b(?:any|an?|the)\s+(?:off[- ]the[- ]shelf\s+|general[- ]purpose\s+|ordinary\s+|standard\s+|"
               r"instruct(?:ion)?[- ]tuned\s+|pre-?trained\s+|base\s+)?(?:chat ?bot|chat model|assistant|llm|model|ai)"
               r"\s+(?:can|could|would|already|should be able to)\s+(?:already\s+)?(?:do|does|handle|manage)\b",
               r"\bout of the box\b",
               r"\b(?:suggest|propose|come up with|give me|list)\s+(?:\d+|a few|some|several|two|three|four|five|six|seven|eight|"
               r"ten|a dozen)\s+(?:[\w-]+\s+){0,3}?(?:ideas|names|subject lines|titles|headlines|taglines|slogans|questions|"
               r"options|captions|hashtags)\b",
               r"\bgeneric\s+(?:\w+\s+){0,2}(?:summar(?:y|ies)|emails?|letters?|answers?|explanations?|copy|descriptions?|"
               r"posts?|replies|responses|text)\b",
               r"\bhelp (?:me|us)\s+(?:make|write|draft|come up with|put together|brainstorm|think of|prepare)\s+"
               r"(?:a |an |some )?(?:short |quick |simple )?(?:list|checklist|ideas|questions|outline)\b",
               # explaining standard concepts, or a calculation on numbers the user gives
               r"\bexplain(?:s|ing)?\s+(?:to \w+\s+)?(?:what\s+)?(?:basic|common|general|standard|simple|core|key|fundamental|"
               r"everyday|popular|classic)\s+(?:[\w-]+\s+){0,3}(?:concepts?|terms|strategies|ideas|principles|topics|"
               r"products|jargon|ratios|metrics)\b",
               r"\bexplain(?:s|ing)?\s+what\s+(?:(?!our\b|my\b|their\b|this\b|the\b|that\b|terms\b|acronyms\b|abbreviations\b|jargon\b)[\w-]+\s+){1,4}(?:means?|is|are)\b",
               r"\b(?:in (?:simple|plain|easy|layman'?s?) (?:terms|words|english|language)|step[- ]by[- ]step|for (?:a )?beginners?|like i'?m (?:five|\d+|a (?:kid|child|beginner)))\b",
               r"\bexplain(?:s|ing)?\s+(?:to \w+\s+)?the difference between\b(?!(?:\s+\S+){0,4}\s+(?:our|my|their)\b)",
               r"\b(?:given in the (?:question|prompt|chat)|(?:numbers?|figures|text) (?:i|we|they|users?) (?:give|paste|provide|type)|"
               r"i'?ll paste|we'?ll paste|pasted (?:numbers|figures|text))\b",
               r"\b(?:calculate|calculating|compute|computing|work out|working out)\s+(?:the\s+)?(?:[\w-]+\s+){0,3}"
               r"(?:from|of|for|on)\s+(?:these|this|the following|my|those)\b")),
    Criterion("supplied_input", "prompt", "work on text or numbers you give it in the message",
              "everything the model needs is in your message, and an instruct model does such a task from a clear "
              "prompt; no index or training needed",
              (rf"\b(?:calc|calculate|compute|work out|figure out|turn|rewrite|reword|summari[sz]e|shorten|tidy|clean up|polish|"
               rf"translate|format|reformat|convert|total|add up|sum|sort|group|split|categori[sz]e|classify|label|tag|extract|"
               rf"pull|parse|analy[sz]e|explain|check|review|proofread|edit|fix|improve|condense|make)\s+"
               rf"(?:[\w,'-]+\s+){{0,8}}?(?:(?:from|of|for|on|in|out of|into)\s+)?(?:these|this|the following|my|the attached|"
               rf"the pasted|pasted|attached|the below)\s+(?:[\w-]+\s+){{0,2}}?{_SUPPLIED_NOUN}\b",
               r"\b(?:pasted (?:below|above|in|here)|paste[sd]? (?:in|it in|them in|below|here)|i'?ll paste|we'?ll paste|"
               r"i paste|users? pastes?|here (?:is|are) (?:the|my|our|some)\b|here'?s (?:the|my|our)\b|the following "
               r"(?:text|notes|numbers|figures|email|list|data|table)|(?:i|we|the user|users) (?:type|types|enter|enters|"
               r"give|gives|provide|provides|supply|supplies) (?:in |it |the )?(?:\w+\s+){0,2}?(?:numbers?|figures|"
               r"amounts?|principal|rates?|values|inputs|text|details))\b",
               # a calculation on the numbers stated in the goal itself ("spot 1.0850, EUR rate 3.25%")
               r"\b(?:calculate|compute|work out|what(?:'s| is) the)\b[^.?!]{0,80}?\d+(?:[.,]\d+)?\s?%?[^.?!]{0,60}?"
               r"\d+(?:[.,]\d+)?\s?%")),
)
_COMPILED = tuple((c, tuple(re.compile(p, re.IGNORECASE) for p in c.patterns)) for c in CRITERIA)
BY_KEY = {c.key: c for c in CRITERIA}


# A goal can rule a side out ("plain answers are fine, nothing fancy format-wise"); then neither a criterion nor
# the goal model's "both" should put that side back.
_NEGATED = {
    "finetune": re.compile(
        r"\b(?:no|nothing|without|not|don'?t|doesn'?t|do not|does not|never mind)\s+(?:\w+\s+){0,3}?(?:special|fancy|"
        r"particular|specific|fixed|set|strict|custom|house)?\s*(?:format|formatting|template|style|tone|layout|structure)"
        r"(?:[- ]wise)?\b|\b(?:any|plain|normal|free) (?:format|text) (?:is|are) (?:fine|ok|okay)\b|\bformat[- ]wise\b",
        re.IGNORECASE),
    "rag": re.compile(
        r"\b(?:no|nothing|without|doesn'?t|does not|don'?t|do not)\s+(?:need\s+(?:to\s+)?)?(?:\w+\s+){0,2}?(?:new|special|"
        r"extra|outside|external|private|internal|current|live|up-to-date)\s+(?:\w+\s+){0,2}?(?:facts|knowledge|information|data|"
        r"documents|figures|numbers|rates|limits|prices)\b|"
        r"\bnothing (?:else )?to look up\b|\b(?:doesn'?t|does not|don'?t|do not|no) need (?:to )?know anything (?:new|else)\b|\bno (?:need|requirement) to (?:cite|quote|look (?:anything )?up)\b",
        re.IGNORECASE),
}


def _normalised(goal: str) -> str:
    return " ".join(goal.replace("’", "'").split())


def negated_sides(goal: str) -> set[str]:
    """The sides the goal rules out in so many words."""
    text = _normalised(goal)
    return {side for side, pat in _NEGATED.items() if pat.search(text)}


@dataclass(frozen=True)
class CriterionHit:
    """One criterion the goal states outright, with the words that state it."""

    key: str
    side: str
    name: str
    words: str  # the matched phrase, as the user wrote it

    def reason(self) -> str:
        return f'You want the model to {self.name} ("{self.words}") → {BY_KEY[self.key].because}.'


def detect(goal: str) -> list[CriterionHit]:
    """The criteria the goal states, in CRITERIA order; each with its first matching phrase (none on a side the
    goal rules out)."""
    text = _normalised(goal)
    ruled_out = negated_sides(text)
    hits = []
    for crit, patterns in _COMPILED:
        if crit.side in ruled_out:
            continue
        for pat in patterns:
            m = pat.search(text)
            if m:
                hits.append(CriterionHit(crit.key, crit.side, crit.name, m.group(0).strip()))
                break
    return hits


# "classify headlines as bullish, bearish or neutral": a closed list of labels named in the goal
_LABEL_LIST = re.compile(
    r"\b(?:classify|classifies|classifying|categori[sz]e|label|labels|labelling|labeling|tag|tags|tagging|sort|sorts|"
    r"sorting|mark|marks|flag|flags|rate|rates)\b[^.?!;]{0,80}?\b(?:as|into)\s+(?:[\w/-]+,?\s+){1,6}?(?:or|and|vs\.?)\s+"
    r"[\w/-]+", re.IGNORECASE)


def names_label_list(goal: str) -> bool:
    """Whether the goal asks to put inputs into a closed list of labels it names."""
    return bool(_LABEL_LIST.search(_normalised(goal)))


def stated_sides(hits: list[CriterionHit]) -> set[str]:
    """The sides the stated criteria ask for; a specific need (rag / finetune) outranks a generic-task cue."""
    sides = {h.side for h in hits}
    if sides & {"rag", "finetune"}:
        sides.discard("prompt")
    return sides
