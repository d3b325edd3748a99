"""`qcode diff`: what a coding run changed, per code (the same query runs in Datasette)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils

from .errors import QcodeError
from .store import RUN_DIFF_SQL


def diff_runs(db_path: Path, run_a: int | None = None, run_b: int | None = None) -> dict:
    """Per code the segments gained and lost from run_a to run_b (default: the last two runs), and
    the two runs' codebook, model and corpus, so that the reader sees which of them changed."""
    if not Path(db_path).exists():
        raise QcodeError(f"{db_path}: no such database; run qcode build first")
    conn = sqlite_utils.Database(str(db_path)).conn
    recorded = {r["id"]: r for r in recorded_runs(conn)}
    runs = list(recorded)
    if run_a is None:
        if len(runs) < 2:
            raise QcodeError(f"{db_path}: only {len(runs)} run(s); build again after editing the codebook to compare")
        run_a, run_b = runs[-2], runs[-1]
    for run in (run_a, run_b):
        if run not in runs:
            raise QcodeError(f"{db_path}: no run {run}; runs are {', '.join(map(str, runs))}")
    codes = {code: {change: [{"segment": row["segment_id"], "text": row["text"] or "(segment no longer in the corpus)"}
                             for row in rows] for change, rows in entry.items()}
             for code, entry in changes_by_code(conn, run_a, run_b).items()}
    return {"run_a": run_a, "run_b": run_b, "inputs": run_inputs(recorded[run_a], recorded[run_b]), "codes": codes}


def recorded_runs(conn: sqlite3.Connection) -> list[dict]:
    """Every recorded run, oldest first, with what it was built from (for `qcode diff` and the
    workbench's diff page)."""
    return _dicts(conn.execute("select id, finished, codebook_hash, model_version, corpus_hash from runs order by id"))


def changes_by_code(conn: sqlite3.Connection, run_a: int, run_b: int) -> dict[str, dict[str, list[dict]]]:
    """Per code, the rows of RUN_DIFF_SQL (code_id, change, segment_id, text) gained and lost."""
    codes: dict[str, dict] = {}
    for row in _dicts(conn.execute(RUN_DIFF_SQL, {"run_a": run_a, "run_b": run_b})):
        codes.setdefault(row["code_id"], {"gained": [], "lost": []})[row["change"]].append(row)
    return codes


RUN_INPUTS = (("codebook", "codebook_hash"), ("model", "model_version"), ("corpus", "corpus_hash"))


def run_inputs(run_a: dict, run_b: dict) -> dict[str, list]:
    """What each of two runs (rows of `runs`) was built from: codebook, model and corpus."""
    return {name: [run_a.get(column), run_b.get(column)] for name, column in RUN_INPUTS}


def _dicts(cursor: sqlite3.Cursor) -> list[dict]:
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row)) for row in cursor]


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
