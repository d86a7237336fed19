"""Scoring a run's answers: classification, free-form, the majority-class baseline and the regression check."""

from __future__ import annotations

from collections import Counter
from typing import Any

from trainer import metrics

COLLAPSE_SHARE = 0.9  # one label answered for >= 90% of rows while the truth is spread out = a collapsed model


def majority_baseline(train_labels: list[str], truth: list[str], labels: list[str]) -> dict[str, Any]:
    """Always answer the training split's most frequent label: the floor a classifier must clear."""
    majority = Counter(train_labels).most_common(1)[0][0] if train_labels else labels[0]
    pred = [majority] * len(truth)
    return {"label": majority, "accuracy": metrics.accuracy(truth, pred), "macro_f1": metrics.macro_f1(truth, pred, labels),
            "invalid_rate": 0.0}


def collapse_warning(pred: list[str], truth: list[str]) -> str | None:
    """A plain warning when a model answers (nearly) one label for everything."""
    if not pred:
        return None
    label, count = Counter(pred).most_common(1)[0]
    share, truth_share = count / len(pred), Counter(truth)[label] / max(1, len(truth))
    if share >= COLLAPSE_SHARE and truth_share < COLLAPSE_SHARE - 0.1:
        return (f"answers '{label}' for {share:.0%} of the rows (true share {truth_share:.0%}): it mostly predicts one "
                "class, so its accuracy is close to the majority-class rate")
    return None


def score_classification(rows, conversations, answers: dict[str, list[str]], labels, config,
                         probs: dict[str, list[dict[str, float]]] | None = None, train_labels: list[str] | None = None) -> dict:
    """``answers[side]`` are label names (label scoring) or free text (mapped to a label, else ``invalid``)."""
    truth = [r["completion"] for r in rows]
    # References are mapped too, so 'Bullish' in the data counts as the label 'bullish'.
    truth = [metrics.map_to_label(t, labels) if t not in labels else t for t in truth]
    preds = {side: [a if a in labels else metrics.map_to_label(a, labels) for a in side_answers]
             for side, side_answers in answers.items()}
    columns = [*labels, metrics.INVALID]
    result: dict[str, Any] = {"metrics": {}, "per_class": {}, "confusion": {"labels": labels, "columns": columns}, "warnings": {}}
    for side, pred in preds.items():
        result["metrics"][side] = {
            "accuracy": metrics.accuracy(truth, pred),
            "macro_f1": metrics.macro_f1(truth, pred, labels),
            "invalid_rate": metrics.mean([p == metrics.INVALID for p in pred]),
        }
        result["per_class"][side] = metrics.per_class_f1(truth, pred, labels)
        result["confusion"][side] = metrics.confusion_matrix(truth, pred, labels, columns=columns)
        warning = collapse_warning(pred, truth)
        if warning:
            result["warnings"][side] = warning
        result.setdefault("answer_counts", {})[side] = dict(Counter(pred))
    if train_labels is not None:
        result["baselines"] = {"majority": majority_baseline(train_labels, truth, labels)}
    result["delta"] = delta(result["metrics"])
    items = []
    for i, (c, t, b, u) in enumerate(zip(conversations, truth, answers["base"], answers["tuned"])):
        pb, pu = preds["base"][i], preds["tuned"][i]
        item = {"prompt": c[-1]["content"], "reference": t, "base": b, "tuned": u, "base_label": pb, "tuned_label": pu,
                "base_score": float(pb == t), "tuned_score": float(pu == t)}
        if probs:
            item["base_prob"], item["tuned_prob"] = probs["base"][i].get(pb, 0.0), probs["tuned"][i].get(pu, 0.0)
        items.append(item)
    result["example_score"] = "correct (1) / wrong (0)"
    result["examples"] = best_worst(items, config.show_examples)
    return result


def score_freeform(rows, conversations, base_answers, tuned_answers, references, config, similarity) -> dict:
    result: dict[str, Any] = {"metrics": {}}
    per_example: dict[str, dict[str, list[float]]] = {}
    for side, answers in (("base", base_answers), ("tuned", tuned_answers)):
        scores = {
            "exact_match": [metrics.exact_match(a, r) for a, r in zip(answers, references)],
            "token_f1": [metrics.token_f1(a, r) for a, r in zip(answers, references)],
            "rouge_l": [metrics.rouge_l(a, r) for a, r in zip(answers, references)],
        }
        if similarity is not None:
            scores["embedding_similarity"] = list(similarity(list(answers), list(references)))
        per_example[side] = scores
        result["metrics"][side] = {name: metrics.mean(values) for name, values in scores.items()}
    result["delta"] = delta(result["metrics"])
    key = "embedding_similarity" if similarity is not None else "token_f1"
    items = [
        {"prompt": c[-1]["content"], "reference": r, "base": b, "tuned": u,
         "base_score": per_example["base"][key][i], "tuned_score": per_example["tuned"][key][i]}
        for i, (c, r, b, u) in enumerate(zip(conversations, references, base_answers, tuned_answers))
    ]
    result["example_score"] = key.replace("_", " ")
    result["examples"] = best_worst(items, config.show_examples)
    return result


def regression_verdict(questions, base, tuned, base_scores, tuned_scores, config, score_name: str,
                       task: str, labels: list[str] | None) -> dict:
    """Tell a task adapter's expected narrowing apart from real damage, and advise accordingly.

    A classification adapter answers general questions with one of its labels: that is what it was trained to do,
    and the app never uses it for general chat (Chat answers with a label and its probability for such runs).
    Real damage is a drop in the answers that are *not* a bare label."""
    base_mean, tuned_mean = metrics.mean(base_scores), metrics.mean(tuned_scores)
    change = tuned_mean - base_mean
    label_set = {metrics.normalize_text(label) for label in labels or []}
    as_label = [metrics.normalize_text(t) in label_set for t in tuned] if label_set else [False] * len(tuned)
    narrowed_share = metrics.mean([float(x) for x in as_label]) if tuned else 0.0
    other = [i for i, x in enumerate(as_label) if not x]
    other_change = metrics.mean([tuned_scores[i] - base_scores[i] for i in other]) if other else 0.0
    threshold = config.regression_drop_threshold
    if task == "classification" and narrowed_share >= 0.5 and other_change >= -threshold:
        kind, flagged = "narrowed", False
        verdict = (f"Expected narrowing, not damage: the adapter answers {narrowed_share:.0%} of general questions with a "
                   f"label ({', '.join(labels or [])}), as a classifier should; its other answers changed by "
                   f"{other_change:+.3f}. Use the base model for general questions (Chat does this for classification runs).")
    elif change < -threshold:
        kind, flagged = "damaged", True
        verdict = (f"General ability dropped ({change:+.3f} {score_name.replace('_', ' ')}): the adapter may have over-fitted. "
                   "Try fewer epochs, a lower learning rate or a smaller LoRA rank.")
    else:
        kind, flagged = "unchanged", False
        verdict = f"No general-ability drop beyond {threshold:.2f} ({change:+.3f})."
    refs = [q["reference"] for q in questions]
    return {
        "score": score_name, "n_questions": len(questions), "base": base_mean, "tuned": tuned_mean, "delta": change,
        "threshold": threshold, "flagged": flagged, "kind": kind, "label_answer_share": narrowed_share,
        "non_label_delta": other_change, "verdict": verdict,
        "items": [{"id": q.get("id", ""), "question": q["question"], "reference": r, "base": b, "tuned": t,
                   "base_score": float(bs), "tuned_score": float(ts)}
                  for q, r, b, t, bs, ts in zip(questions, refs, base, tuned, base_scores, tuned_scores)],
    }


def delta(side_metrics: dict[str, dict[str, float]]) -> dict[str, float]:
    return {name: side_metrics["tuned"][name] - side_metrics["base"][name] for name in side_metrics["base"]}


def best_worst(items: list[dict], k: int) -> dict[str, list[dict]]:
    """Best = tuned gained most over base (then highest tuned score); worst = lost most (then lowest
    tuned score). The two lists never share an example."""
    gain = [(it["tuned_score"] - it["base_score"], it["tuned_score"]) for it in items]
    k = min(k, (len(items) + 1) // 2)
    best = sorted(range(len(items)), key=lambda i: (-gain[i][0], -gain[i][1], i))[:k]
    rest = [i for i in range(len(items)) if i not in set(best)]
    worst = sorted(rest, key=lambda i: (gain[i][0], gain[i][1], i))[:k]
    return {"best": [items[i] for i in best], "worst": [items[i] for i in worst]}
