"""`qcode diff`: what a coding run changed, per code (the same query runs in Datasette)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import sqlite_utils

from .errors import QcodeError
from .store import CODED_FROM_SCRATCH, RUN_DIFF_SQL


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
    renamed = renamed_codes(recorded[run_a], recorded[run_b])
    codes = {code: {"gained": _quotes(entry["gained"]), "lost": _quotes(entry["lost"]), "carried": entry["carried"]}
             for code, entry in changes_by_code(conn, run_a, run_b, renamed).items()}
    return {"run_a": run_a, "run_b": run_b, "inputs": run_inputs(recorded[run_a], recorded[run_b]),
            "codebook_changes": codebook_changes(recorded[run_a], recorded[run_b]), "codes": codes}


def _quotes(rows: list[dict]) -> list[dict]:
    return [{"segment": row["segment_id"], "text": row["text"] or "(segment no longer in the corpus)",
             "source": row["source"]} for row in rows]


def _no_change() -> dict:
    """A code's entry: the rows it gained and lost, and per old id the segments carried over."""
    return {"gained": [], "lost": [], "carried": {}}


def recorded_runs(conn: sqlite3.Connection) -> list[dict]:
    """Every recorded run, oldest first, with what it was built from (for `qcode diff` and the
    workbench's diff page)."""
    columns = {c[1] for c in conn.execute("pragma table_info(runs)")}
    codes = "codes" if "codes" in columns else "null as codes"     # a database from before runs recorded them
    runs = _dicts(conn.execute(f"select id, finished, codebook_hash, model_version, corpus_hash, {codes}, counts "
                               "from runs order by id"))
    for run in runs:
        run["manual_codings"] = json.loads(run.pop("counts") or "{}").get("manual_codings")
    return runs


def codebook_changes(run_a: dict, run_b: dict) -> dict[str, list[str]] | None:
    """The codes added, removed, and edited from run_a to run_b: their rules, or what a reader sees
    (label, definition, inclusion and exclusion notes, examples: the classifier's training text
    too). None when either run was built before runs recorded their codes."""
    if not run_a.get("codes") or not run_b.get("codes"):
        return None
    a, b = json.loads(run_a["codes"]), json.loads(run_b["codes"])
    both = sorted(a.keys() & b.keys())
    renamed = renamed_codes(run_a, run_b)
    return {"added": sorted(b.keys() - a.keys() - set(renamed.values())), "removed": sorted(a.keys() - b.keys() - set(renamed)),
            "renamed or merged": [f"{old} -> {new}" for old, new in sorted(renamed.items())],
            "rules edited": [c for c in both if a[c]["rules"] != b[c]["rules"]],
            "description edited": [c for c in both if a[c]["description"] != b[c]["description"]]}


def renamed_codes(run_a: dict, run_b: dict) -> dict[str, str]:
    """Code of run_a -> the code of run_b it became: a code's `replaces` names an id of the other
    run that is no code there any more (a rename, or a merge into a code of both runs). Read both
    ways, so that a diff from a later run to an earlier one undoes the rename."""
    if not run_a.get("codes") or not run_b.get("codes"):
        return {}
    a, b = json.loads(run_a["codes"]), json.loads(run_b["codes"])
    forward = {old: new for new, entry in b.items() for old in entry.get("replaces", ()) if old in a and old not in b}
    backward = {new: old for new, entry in a.items() for old in entry.get("replaces", ()) if old in b and old not in a}
    return {**forward, **backward}


def changes_by_code(conn: sqlite3.Connection, run_a: int, run_b: int,
                    renamed: dict[str, str] | None = None) -> dict[str, dict]:
    """Per code, the rows of RUN_DIFF_SQL (code_id, change, segment_id, text) gained and lost. A
    coding lost to a coder's decision says so: source "rejected" (a reject of that code), "none"
    (read, no code applies) or "left out" (she coded the segment from scratch without it), not the
    source of the machine coding it was. A renamed or merged
    code (`renamed`: old id -> new id) is compared with what its old id had: a segment coded under
    both names is no change (counted in the new code's "carried"), not a loss and a gain."""
    decided = {(row[0], row[1]): row[2] for row in conn.execute(
        "select segment_id, coalesce(code_id, ''), decision from manual_codings "
        "where decision in ('reject', 'none') and status = 'anchored'")}
    # A segment a coder coded from scratch (codings.csv, another CAQDAS tool): her codes are all it has.
    for (segment,) in conn.execute("select distinct segment_id from manual_codings m where "
                                   + CODED_FROM_SCRATCH.format(m="m") + " and status = 'anchored'"):
        decided.setdefault((segment, ""), "left out")
    codes: dict[str, dict] = {}
    for row in _dicts(conn.execute(RUN_DIFF_SQL, {"run_a": run_a, "run_b": run_b})):
        if row["change"] == "lost":
            if decided.get((row["segment_id"], row["code_id"])) == "reject":
                row["source"] = "rejected"
            elif decided.get((row["segment_id"], "")) in ("none", "left out"):
                row["source"] = decided[(row["segment_id"], "")]
        codes.setdefault(row["code_id"], _no_change())[row["change"]].append(row)
    for old, new in (renamed or {}).items():
        _fold_rename(codes, old, new)
    return codes


def _fold_rename(codes: dict[str, dict], old: str, new: str) -> None:
    """Take the old id's changes into the new id's entry: a segment the old id lost and the new id
    gained was carried over; what the old id lost otherwise the renamed code lost."""
    lost = codes.pop(old, {}).get("lost", [])
    if not lost:
        return
    entry = codes.setdefault(new, _no_change())
    gained = {row["segment_id"] for row in entry["gained"]}
    carried = {row["segment_id"] for row in lost} & gained
    entry["gained"] = [row for row in entry["gained"] if row["segment_id"] not in carried]
    already_lost = {row["segment_id"] for row in entry["lost"]}     # a merge: both codes had it
    entry["lost"] += [{**row, "code_id": new} for row in lost if row["segment_id"] not in carried | already_lost]
    entry["carried"][old] = len(carried)


RUN_INPUTS = (("codebook", "codebook_hash"), ("model", "model_version"), ("corpus", "corpus_hash"),
              ("manual codings", "manual_codings"))
# Said under the inputs when the classifier changed: why codes whose rules nobody touched move.
RETRAINED = ("the classifier was retrained (codebook descriptions or manual codings changed): codes whose "
             "rules did not change can gain or lose segments, as their scores and thresholds move")


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
    model_a, model_b = report["inputs"]["model"]
    if model_a != model_b and model_a and model_b:
        lines.append("  " + RETRAINED)
    changes = report.get("codebook_changes")
    if changes and any(changes.values()):
        lines.append("  codes " + "; ".join(f"{kind}: {', '.join(codes)}" for kind, codes in changes.items() if codes))
    if not report["codes"]:
        lines.append("  no coding changed")
    for code, entry in sorted(report["codes"].items()):
        carried = "".join(f" ({count} segments carried over from {old})" for old, count in entry["carried"].items())
        lines.append(f"\n{code}: +{len(entry['gained'])} -{len(entry['lost'])}{carried}")
        for sign, change in (("+", "gained"), ("-", "lost")):
            for item in entry[change]:
                text = " ".join(item["text"].split())
                source = f"[{item['source']}] " if item.get("source") else ""
                lines.append(f"  {sign} {item['segment']}  {source}{text[:width]}{'…' if len(text) > width else ''}")
    return "\n".join(lines)
