"""Human-readable renderings of a Recommendation: plain text (CLI) and Markdown (UI card)."""

from __future__ import annotations

from advisor.decide import Recommendation

TITLES = {"rag": "RAG — retrieval over a knowledge base", "finetune": "Fine-tune — a LoRA adapter",
          "both": "Both — retrieval for the facts, fine-tuning for the behaviour", "prompt": "Prompt — the base model with a few examples"}
PLAN_FIELDS = ("optimizer", "learning_rate", "lr_scheduler", "warmup_ratio", "num_epochs", "per_device_batch_size",
               "gradient_accumulation_steps", "gradient_checkpointing", "quantization", "compute_dtype", "label_smoothing",
               "neftune_noise_alpha", "lora_r", "lora_alpha", "lora_dropout", "lora_target_modules", "max_seq_length", "val_fraction", "train_rows", "eval_steps")


def _plan_rows(rec: Recommendation) -> list[tuple[str, str, str]]:
    plan = rec.plan
    return [(name, str(getattr(plan, name)), plan.reasons.get(name, "")) for name in PLAN_FIELDS]


def to_text(rec: Recommendation) -> str:
    lines = [f"Goal: {rec.goal}"]
    head = "UNCLEAR — " if rec.needs_clarification else ""
    lines.append(f"Advice: {head}{TITLES[rec.approach]}  (confidence {rec.confidence:.0%})")
    if rec.question:
        lines.append(f"Question: {rec.question}")
    lines.append("Why:")
    lines += [f"  - {r}" for r in rec.reasons]
    for w in rec.warnings:
        lines.append(f"Warning: {w}")
    lines.append(f"Next: {rec.next_step}")
    lines.append("Details: run with --json for the evidence (decided by, criteria found, goal shares, axes, nearest examples).")
    if rec.plan is not None:
        lines.append("Plan:")
        for name, value, reason in _plan_rows(rec):
            lines.append(f"  {name:28s} {value:14s} {reason}")
        mem = rec.plan.memory_estimate or {}
        lines.append(f"Memory: {mem.get('summary', '')}")
        lines.append(f"Time: {rec.plan.reasons.get('time_estimate', 'not estimated')}")
        for change in mem.get("changes", []):
            lines.append(f"  changed: {change}")
    return "\n".join(lines)


def to_markdown(rec: Recommendation) -> str:
    badge = "❓ Needs clarification" if rec.needs_clarification else f"**{rec.confidence:.0%}** confidence"
    md = [f"### {TITLES[rec.approach]}", badge, ""]
    if rec.question:
        md += [f"> **{rec.question}**", ""]
    md += ["**Why**"] + [f"- {r}" for r in rec.reasons]
    if rec.warnings:
        md += ["", "**Warnings**"] + [f"- ⚠️ {w}" for w in rec.warnings]
    md += ["", f"**Next:** {rec.next_step}"]
    if rec.plan is not None:
        md += ["", "**Training plan**", "", "| setting | value | why |", "|---|---|---|"]
        md += [f"| {n} | `{v}` | {r.replace('|', '/')} |" for n, v, r in _plan_rows(rec)]
        mem = rec.plan.memory_estimate or {}
        md += ["", f"**Expected training time:** {rec.plan.reasons.get('time_estimate', 'not estimated')}",
               "", f"**Memory:** {mem.get('summary', '')}"] + [f"- changed: {c}" for c in mem.get("changes", [])]
    return "\n".join(md)


def details_markdown(rec: Recommendation) -> str:
    """The numeric evidence behind the answer, for the UI's "details" toggle (``evidence`` in the JSON)."""
    ev = rec.evidence or {}
    crit = ev.get("criteria") or []
    md = [f"**Decided by:** `{ev.get('decided_by', '')}` · goal model alone: `{ev.get('model_answer', '')}`", ""]
    md += ["**Criteria stated in the goal**"] + ([f"- {c['criterion']} ({c['side']}): \"{c['words']}\"" for c in crit] or ["- none"])
    shares = ev.get("goal_shares") or {}
    md += ["", "**Goal shares (goal model):** " + ", ".join(f"{k} {v:.0%}" for k, v in sorted(shares.items(), key=lambda kv: -kv[1]))]
    if ev.get("details"):
        md += ["", "**Classifier readings**"] + [f"- {d}" for d in ev["details"]]
    if ev.get("nearest_examples"):
        md += ["", "**Nearest example goals**"] + [f"- \"{n['goal']}\" ({n['approach']}, similarity {n['similarity']:.2f})"
                                                    for n in ev["nearest_examples"]]
    return "\n".join(md)
