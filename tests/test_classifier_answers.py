"""A classification run answers as a classifier in Chat, Compare and `fintune chat`: a label and its probability."""

from __future__ import annotations

import pytest

from fintune.label_scoring import LabelScores
from trainer import registry
from trainer.predict import classifier_run, classify, label_markdown

LABELS = ["bearish", "bullish", "neutral"]


class ScoringEngine:
    """Records what it was asked; the tuned side is sure of 'bearish', the base side undecided."""

    def __init__(self):
        self.calls = []

    def score_labels(self, conversations, labels, adapter=None, batch_size=8, progress=None):
        self.calls.append({"conversations": conversations, "labels": labels, "adapter": adapter})
        logp = [-0.1, -3.0, -3.0] if adapter else [-1.0, -1.0, -1.0]
        return [LabelScores(list(labels), logp) for _ in conversations]

    def score_label(self, conversation, labels, adapter=None):
        return self.score_labels([conversation], labels, adapter)[0]

    def stream(self, *args, **kwargs):  # free text must not be used for a classification run's panes
        raise AssertionError("a classification run is answered by label scoring")


@pytest.fixture
def cls_run(tmp_home):
    folder = registry.create_run({"name": "tweets", "task": "classification", "labels": LABELS, "status": "completed",
                                  "system_prompt": "Answer with one of: bearish, bullish, neutral."})
    (folder / "adapter").mkdir()
    (folder / "adapter" / "adapter_config.json").write_text("{}")
    return registry.get_run(folder.name)


def test_a_classification_run_is_recognised_from_its_adapter(cls_run, tmp_home):
    assert classifier_run(cls_run.adapter_dir).id == cls_run.id
    free = registry.create_run({"name": "qa", "task": "freeform"})
    assert classifier_run(free / "adapter") is None and classifier_run(None) is None


def test_classify_uses_the_training_prompt_and_shows_the_probability(cls_run):
    engine = ScoringEngine()
    scores = classify(engine, cls_run, "  $XYZ plunges after guidance cut ")
    assert scores.best == "bearish"
    call = engine.calls[0]
    assert call["labels"] == LABELS and call["adapter"] == str(cls_run.adapter_dir)
    assert call["conversations"][0] == [{"role": "system", "content": "Answer with one of: bearish, bullish, neutral."},
                                        {"role": "user", "content": "$XYZ plunges after guidance cut"}]
    text = label_markdown(scores, cls_run, "Run tweets")
    assert text.startswith("**bearish** (90%)") and "classifier over bearish, bullish, neutral" in text


def test_compare_scores_base_and_tuned_alike_for_a_classification_run(cls_run):
    from ui.compare_tab import compare_stream

    engine = ScoringEngine()

    class Shared:
        def engine(self):
            return engine

        def glossary(self):
            raise registry.TrainerError("no glossary in this test")

    *_, (texts, _) = list(compare_stream(Shared(), "Shares tumble", str(cls_run.adapter_dir), None, order=["base", "tuned", "rag"]))
    assert texts[0].startswith("**bearish** (33%)") and texts[1].startswith("**bearish** (90%)")
    assert [c["adapter"] for c in engine.calls] == [None, str(cls_run.adapter_dir)]


def test_users_asking_a_classifier_at_once_are_scored_in_shared_batches(tmp_path):
    """ChatEngine.score_label: concurrent requests with the same labels and adapter are scored together (never more
    than max_batch, never mixing label sets), and each user gets the scores of their own text."""
    import threading
    import time

    from fintune.engine import ChatEngine
    from trainer.testing import tiny_model_dir

    engine = ChatEngine(str(tiny_model_dir(tmp_path)), dtype="float32")
    texts = [f"Shares of company {i} {'fell' if i % 2 else 'rose'} {i}% today" for i in range(12)]
    convs = [[{"role": "user", "content": t}] for t in texts]
    alone = [engine.score_labels([c], LABELS)[0].logprobs for c in convs]
    other = engine.score_labels([convs[0]], ["up", "down"])[0].logprobs
    batches, real = [], engine.score_labels

    def recording(conversations, labels, adapter=None, batch_size=8, progress=None):
        batches.append((len(conversations), tuple(labels)))
        time.sleep(0.05)  # let the other users arrive while the model is busy
        return real(conversations, labels, adapter, batch_size)

    engine.score_labels = recording
    results: dict = {}

    def ask(i):
        results[i] = engine.score_label(convs[i], LABELS)
    threads = [threading.Thread(target=ask, args=(i,)) for i in range(12)]
    threads.append(threading.Thread(target=lambda: results.__setitem__("other", engine.score_label(convs[0], ["up", "down"]))))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(12):
        assert results[i].logprobs == pytest.approx(alone[i], abs=1e-4)
    assert results["other"].logprobs == pytest.approx(other, abs=1e-4) and results["other"].labels == ["up", "down"]
    assert max(n for n, _ in batches) > 1 and all(n <= 8 for n, _ in batches)
    assert sum(n for n, labels in batches if labels == tuple(LABELS)) == 12
