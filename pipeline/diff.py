"""`qcode diff`: what a coding run changed, per code (the same query runs in Datasette)."""

from __future__ import annotations

from pathlib import Path

import sqlite_utils

from .errors import QcodeError
from .store import RUN_DIFF_SQL




def diff_runs(db_path: Path, run_a: int | None = None, run_b: int | None = None) -> dict:
    if not Path(db_path).exists():
        raise QcodeError(f"{db_path}: no such database; run qcode build first")
    db = sqlite_utils.Database(str(db_path))
    runs = [r["id"] for r in db.query("select id from runs order by id")]
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
    return {"run_a": run_a, "run_b": run_b, "codes": codes}


def format_diff(report: dict, width: int = 100) -> str:
    lines = [f"Run {report['run_a']} -> run {report['run_b']}"]
    if not report["codes"]:
        lines.append("  no coding changed")
    for code, entry in sorted(report["codes"].items()):
        lines.append(f"\n{code}: +{len(entry['gained'])} -{len(entry['lost'])}")
        for sign, change in (("+", "gained"), ("-", "lost")):
            for item in entry[change]:
                text = " ".join(item["text"].split())
                lines.append(f"  {sign} {item['segment']}  {text[:width]}{'…' if len(text) > width else ''}")
    return "\n".join(lines)
