"""`qcode diff`: what a coding run changed, per code (the same query runs in Datasette)."""

from __future__ import annotations

from pathlib import Path

import sqlite_utils

from .errors import QcodeError
from .store import RUN_DIFF_SQL


def diff_runs(db_path: Path, run_a: int | None = None, run_b: int | None = None) -> dict:
    """Per code the segments gained and lost from run_a to run_b (default: the last two runs), and
    the two runs' codebook, model and corpus, so that the reader sees which of them changed."""
    if not Path(db_path).exists():
        raise QcodeError(f"{db_path}: no such database; run qcode build first")
    db = sqlite_utils.Database(str(db_path))
    recorded = {r["id"]: r for r in db.query("select id, codebook_hash, model_version, corpus_hash from runs order by id")}
    runs = list(recorded)
    if run_a is None:
        if len(runs) < 2:
            raise QcodeError(f"{db_path}: only {len(runs)} run(s); build again after editing the codebook to compare")
        run_a, run_b = runs[-2], runs[-1]
    for run in (run_a, run_b):
        if run not in runs:
            raise QcodeError(f"{db_path}: no run {run}; runs are {', '.join(map(str, runs))}")
    codes: dict[str, dict] = {}
    for row in db.query(RUN_DIFF_SQL, {"run_a": run_a, "run_b": run_b}):
        entry = codes.setdefault(row["code_id"], {"gained": [], "lost": []})
        entry[row["change"]].append({"segment": row["segment_id"],
                                     "text": row["text"] or "(segment no longer in the corpus)"})
    return {"run_a": run_a, "run_b": run_b, "inputs": run_inputs(recorded[run_a], recorded[run_b]), "codes": codes}


RUN_INPUTS = (("codebook", "codebook_hash"), ("model", "model_version"), ("corpus", "corpus_hash"))


def run_inputs(run_a: dict, run_b: dict) -> dict[str, list]:
    """What each of two runs (rows of `runs`) was built from: codebook, model and corpus."""
    return {name: [run_a.get(column), run_b.get(column)] for name, column in RUN_INPUTS}


def format_diff(report: dict, width: int = 100) -> str:
    lines = [f"Run {report['run_a']} -> run {report['run_b']}",
             "  " + ", ".join(f"{name} {a}" + (" (same)" if a == b else f" -> {b}")
                              for name, (a, b) in report["inputs"].items())]
    if not report["codes"]:
        lines.append("  no coding changed")
    for code, entry in sorted(report["codes"].items()):
        lines.append(f"\n{code}: +{len(entry['gained'])} -{len(entry['lost'])}")
        for sign, change in (("+", "gained"), ("-", "lost")):
            for item in entry[change]:
                text = " ".join(item["text"].split())
                lines.append(f"  {sign} {item['segment']}  {text[:width]}{'…' if len(text) > width else ''}")
    return "\n".join(lines)
