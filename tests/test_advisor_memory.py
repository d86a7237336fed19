"""The memory estimate vs peak RSS of a real short CPU LoRA run of the default model (slow: ~2+ minutes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


def test_estimate_within_30_percent_of_measured_peak_rss(real_model_path, shared_data, tmp_path):
    out = tmp_path / "memory.json"
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "memory_estimate.py"), "--steps", "2", "--out", str(out)],
                          capture_output=True, text=True, timeout=3000, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(out.read_text())
    print(f"estimate {res['estimate_gib']:.2f} GiB vs measured peak RSS {res['measured_peak_rss_gib']:.2f} GiB "
          f"({res['relative_error']:+.0%})")
    assert abs(res["estimate_gib"] - res["measured_peak_rss_gib"]) <= 0.3 * res["measured_peak_rss_gib"], res
