"""Fixed splits of the shared tweet-sentiment file, so tuning and reporting never share a row.

``report`` (1,000 rows) is touched only by the final quality benchmark; ``dev`` (400 rows) is what the recipe
sweep scores on; ``pool`` (the other 8,143 rows) is what runs train on. Written as CSV files in the original
``text,label`` shape, into a folder outside the project (the data stays in ../shared/data).
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "twitter_fin_sentiment" / "sent_train.csv"
SEED = 20261202
SIZES = {"report": 1000, "dev": 400}
LABEL_NAMES = {"0": "bearish", "1": "bullish", "2": "neutral"}  # the file's label codes


def read_rows(path: Path = SOURCE) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def split_rows(rows: list[dict[str, str]]) -> dict[str, list[dict[str, str]]]:
    order = list(range(len(rows)))
    random.Random(SEED).shuffle(order)
    report, dev = order[: SIZES["report"]], order[SIZES["report"] : SIZES["report"] + SIZES["dev"]]
    pool = order[SIZES["report"] + SIZES["dev"] :]
    return {"report": [rows[i] for i in report], "dev": [rows[i] for i in dev], "pool": [rows[i] for i in pool]}


def write_csv(rows: list[dict[str, str]], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "label"])
        writer.writeheader()
        writer.writerows({"text": r["text"], "label": r["label"]} for r in rows)
    return path


def write_splits(folder: Path, pool_rows: int | None = None) -> dict[str, Path]:
    """Write report.csv, dev.csv, pool.csv (optionally its first ``pool_rows``) and train.csv (pool + dev, i.e. all
    rows but the report split) into ``folder``."""
    parts = split_rows(read_rows())
    parts["train"] = parts["pool"] + parts["dev"]  # everything but the report split
    if pool_rows:
        parts["pool"] = parts["pool"][:pool_rows]
    return {name: write_csv(rows, Path(folder) / f"{name}.csv") for name, rows in parts.items()}
