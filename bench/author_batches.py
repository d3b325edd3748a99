"""How coding does on text by other authors: the two batches of the demo corpus.

    python bench/author_batches.py [--db db/demo.db] [--repeats 3]

The demo documents were written in two batches by different authors, who each coded their own
paragraphs (onderzoeker_a); the second batch's sources in tools/demo_corpus_src carry a
document_id. This prints, for each batch and for both, the cross-validated figures of
`qcode evaluate`; the held-out figures when one batch trains and the other is scored (text by
authors the model never saw); and the blind second coder's (onderzoeker_b) agreement with
onderzoeker_a on the same segments, the human reference. The demo database holds the first
batch's codings only (the second batch's are held out in corpus/demo/_held_out/, so that the
machine codes that batch), so without --db this builds a copy of the demo with both batches'
codings in a temporary folder first (about a minute). Not part of the tests.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import sqlite_utils
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.agreement import compare_codings  # noqa: E402
from pipeline.build import build  # noqa: E402
from pipeline.codebook import load_codebook  # noqa: E402
from pipeline.coding import cross_validate, with_themes  # noqa: E402
from pipeline.evaluate import (evaluate_split, gold_from_db, holdout_split, load_gold_set,  # noqa: E402
                               score_predictions)

FOLDS = 5


def second_batch_ids() -> set[str]:
    sources = (yaml.safe_load(p.read_text(encoding="utf-8")) for p in (ROOT / "tools" / "demo_corpus_src").glob("*.yaml"))
    return {source["document_id"] for source in sources if "document_id" in source}


def headline(report: dict) -> tuple[int, float, float, float]:
    kappas = [m["kappa"] for m in report["themes"]["per_code"].values()]
    return report["scored"], report["themes"]["micro_f1"], min(kappas), report["sub_codes"]["macro_f1"]


def mean_of(rows: list[tuple]) -> tuple:
    return (rows[0][0], *[sum(r[i] for r in rows) / len(rows) for i in range(1, 4)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, help="a database of the demo with both batches' codings "
                                                 "(default: build one in a temporary folder)")
    parser.add_argument("--codebook", type=Path, default=ROOT / "codebook.yaml")
    parser.add_argument("--repeats", type=int, default=3, help="splits of the folds to average")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        args.db = args.db or fully_coded_demo(Path(folder), args.codebook)
        report(args)


def fully_coded_demo(folder: Path, codebook: Path) -> Path:
    """The demo corpus with the held-out codings of the second batch added to its codings.csv, built."""
    corpus = folder / "corpus" / "demo"
    shutil.copytree(ROOT / "corpus" / "demo", corpus)
    held_out = (corpus / "_held_out" / "codings.csv").read_text(encoding="utf-8").split("\n", 1)[1]
    with open(corpus / "codings.csv", "a", encoding="utf-8") as handle:
        handle.write(held_out)
    build(corpus, folder / "db" / "demo.db", codebook)
    return folder / "db" / "demo.db"


def report(args) -> None:
    document_of = {row["id"]: row["document_id"] for row in sqlite_utils.Database(str(args.db)).query(
        "select id, document_id from segments")}
    later = second_batch_ids()
    both = load_gold_set(gold_from_db(args.db, "onderzoeker_a"), args.codebook)   # spaCy and the rules once
    rows_of = {"first": [n for n, i in enumerate(both.items) if document_of[i["id"]] not in later],
               "second": [n for n, i in enumerate(both.items) if document_of[i["id"]] in later]}
    batches = {name: [both.items[n] for n in rows] for name, rows in rows_of.items()}
    rows = []
    for name, gold_set in (*((name, both.subset(r)) for name, r in rows_of.items()), ("both", both)):
        rows.append((f"cross-validation, {name} batch{'es' if name == 'both' else ''}",
                     mean_of([headline(evaluate_split(gold_set, FOLDS, seed)) for seed in range(args.repeats)])))
    rows += within_both(both, rows_of, args)
    for train, test in (("first", "second"), ("second", "first")):
        report = holdout_split(both.subset(rows_of[train] + rows_of[test]), len(rows_of[train]))
        rows.append((f"trained on {train}, scored on {test}", headline(report)))
    rows += second_coder(args, batches)
    print(f"{FOLDS}-fold cross-validation over {args.repeats} splits; {len(batches['first'])} + {len(batches['second'])} gold segments")
    print(f"{'':<44}{'scored':>7}{'theme micro-F1':>16}{'kappa min':>11}{'sub-code macro-F1':>19}")
    for label, (scored, micro, kappa_min, macro) in rows:
        print(f"{label:<44}{scored:>7}{micro:>16.3f}{kappa_min:>11.3f}{macro:>19.3f}")


def within_both(both, rows_of: dict, args) -> list[tuple]:
    """Each batch's segments scored within the cross-validation over both: what the other batch's
    codings add to a batch."""
    codebook, items = both.codebook, both.items
    roles = [item.get("role") for item in items]
    gold = [with_themes(codebook, set(item["codes"])) for item in items]
    figures = {name: [] for name in rows_of}
    for seed in range(args.repeats):
        predicted = cross_validate(codebook, [i["text"] for i in items], gold, FOLDS, seed, roles=roles,
                                   prepared=both.prepared)
        for name, index in rows_of.items():
            figures[name].append(headline(score_predictions(
                codebook, [roles[i] for i in index], [gold[i] for i in index], [predicted[i] for i in index])))
    return [(f"  {name} batch's segments in it", mean_of(rows)) for name, rows in figures.items()]


def second_coder(args, batches: dict) -> list[tuple]:
    codebook = load_codebook(args.codebook)
    other = {item["id"]: item for item in gold_from_db(args.db, "onderzoeker_b")}
    sub_codes = [c.id for c in codebook.codes if c.parent]
    rows = []
    for name, batch in (*batches.items(), ("both", batches["first"] + batches["second"])):
        both = [item for item in batch if item["id"] in other]
        a = [with_themes(codebook, set(item["codes"])) for item in both]
        b = [with_themes(codebook, set(other[item["id"]]["codes"])) for item in both]
        themes = compare_codings(a, b, codebook.themes)
        rows.append((f"onderzoeker_b against onderzoeker_a, {name}",
                     (len(both), themes["micro_f1"], min(m["kappa"] for m in themes["per_code"].values()),
                      compare_codings(a, b, sub_codes)["macro_f1"])))
    return rows


if __name__ == "__main__":
    main()
