"""``docs/benchmarks.md`` is rewritten by every bench from the raw results in ``var/bench``,
which a fresh clone does not have: one bench run alone must keep the other sections."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench import report


def test_a_bench_run_alone_keeps_the_other_benches_figures(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# old\n\n<!-- ingest:begin -->\n## Ingest\n\nkfsync 270 req/s, 74% of "
                   "durable bare.\n<!-- ingest:end -->\n\n<!-- suggest:begin -->\n## Suggestions"
                   "\n\nP@1 0.94\n<!-- suggest:end -->\n")
    pipeline = {"name": "pipeline"}

    def load(name: str) -> dict[str, Any] | None:
        return pipeline if name == "pipeline" else None

    monkeypatch.setattr(report, "load_result", load)
    monkeypatch.setattr(report, "_pipeline", lambda r: ["## Pipeline", "", "ratio 38%", ""])
    report.write_report(doc)
    text = doc.read_text()
    assert "kfsync 270 req/s, 74% of durable bare." in text  # kept, not "Not run yet"
    assert "P@1 0.94" in text
    assert "<!-- pipeline:begin -->\n## Pipeline\n\nratio 38%" in text  # this run's figures
    assert "## ratelimit\n\nNot run yet." in text  # never measured: said so
    report.write_report(doc)
    assert doc.read_text() == text  # rewriting changes nothing


def test_a_ratio_just_under_its_threshold_is_never_shown_as_reaching_it() -> None:
    # A median round of 52.7 orders/s against 131.8 chains/s is 39.98%: "40%" beside "missed"
    # read as a contradiction.
    assert report._pct(52.7 / 131.8) == "39.9%"
    assert report._pct(0.4) == "40.0%" and report._pct(0.57) == "57.0%"
    assert report._pct(0.6) == "60.0%" and report._pct(0.82) == "82.0%"
