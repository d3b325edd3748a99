"""`qcode evaluate`, `qcode gold` and `qcode agreement`: how well coding agrees with people."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from . import store
from .agreement import compare_codings, disagreements
from .codebook import Codebook, load_codebook
from .coding import Prepared, cross_validate, fit_predict, in_scope, prepare, with_themes
from .errors import QcodeError
from .nlp import load_nlp
from .rules import RuleSet


@dataclass
class GoldSet:
    """Gold items with their codebook, and their texts run through spaCy and the rules once: the
    splits of a repeated evaluation and the rule report share that work."""

    codebook: Codebook
    items: list[dict]
    prepared: Prepared
    # Per item: may it get machine codes (coding.in_scope, over the items' "document" keys)?
    scope: list[bool]

    def subset(self, rows: list[int]) -> "GoldSet":
        """The gold items at these positions, in this order, without running spaCy again."""
        return GoldSet(self.codebook, [self.items[i] for i in rows], self.prepared.subset(rows),
                       [self.scope[i] for i in rows])

    def within_scope(self, predicted: list[set[str]]) -> list[set[str]]:
        """Predicted code sets with nothing for the items outside the codebook's scope, as a build codes them."""
        return [codes if ok else set() for codes, ok in zip(predicted, self.scope)]


def load_gold_set(items: list[dict], codebook_path: Path) -> GoldSet:
    """The gold items with their codebook, once every gold code is known to it."""
    codebook = load_codebook(codebook_path)
    for item in items:
        unknown = [c for c in item["codes"] if c not in codebook.by_id]
        if unknown:
            raise QcodeError(f"gold item {item.get('id')!r}: unknown codes {unknown} (not in {codebook_path})")
    taught = {" ".join(text.split()) for text, _ in codebook.teaching}
    overlap = sum(1 for item in items if " ".join(item["text"].split()) in taught)
    if overlap:
        raise QcodeError(f"{overlap} gold segments are among the codebook's teaching examples, which every model "
                         "learns from; a model must not be scored on what it learned from")
    prepared = prepare([item["text"] for item in items], RuleSet(codebook, load_nlp()))
    return GoldSet(codebook, items, prepared, in_scope(codebook, prepared, [item.get("document") for item in items]))


def _check_folds(items: list[dict], folds: int) -> None:
    if len(items) < folds * 4:
        raise QcodeError(f"{len(items)} gold items is too few for {folds}-fold cross-validation")


def evaluate_gold(items: list[dict], codebook_path: Path, folds: int = 5, random_state: int = 0,
                  train_fraction: float = 1.0, progress=None) -> dict:
    """K-fold cross-validation of rules + classifier on gold items {"id", "text", "codes"}
    (`train_fraction`: see coding.cross_validate; `progress(n)` is called per fold)."""
    _check_folds(items, folds)
    return evaluate_split(load_gold_set(items, codebook_path), folds, random_state, train_fraction, progress)


def evaluate_split(gold_set: GoldSet, folds: int = 5, random_state: int = 0, train_fraction: float = 1.0,
                   progress=None) -> dict:
    """evaluate_gold on a loaded gold set, for one split of the folds (`random_state`)."""
    _check_folds(gold_set.items, folds)
    codebook, items = gold_set.codebook, gold_set.items
    texts = [item["text"] for item in items]
    roles = [item.get("role") for item in items]
    gold = [with_themes(codebook, set(item["codes"])) for item in items]
    predicted = cross_validate(codebook, texts, gold, folds, random_state, roles=roles, train_fraction=train_fraction,
                               progress=progress, prepared=gold_set.prepared)
    predicted = gold_set.within_scope(predicted)
    return {"folds": folds, "items": len(items), **score_predictions(codebook, roles, gold, predicted)}


def evaluate_holdout(train_items: list[dict], test_items: list[dict], codebook_path: Path,
                     with_rules: bool = False) -> dict:
    """Train rules + classifier on every coded train item and code the test items: how a model from
    one batch of codings does on documents it never saw (a new wave of interviews, another
    author). Train items of uncoded roles do not train, as in a build. `with_rules`: add each
    rule's precision on the test items (`rule_precision`), from the same spaCy pass."""
    # By segment id: the same short text ("Dank u wel.") in two documents is two segments.
    trained_ids = {item.get("id") for item in train_items} - {None}
    overlap = sum(1 for item in test_items if item.get("id") in trained_ids)
    if overlap:
        raise QcodeError(f"{overlap} test segments are also in the training gold; a held-out test must not "
                         "train on what it scores")
    gold_set = load_gold_set(train_items + test_items, codebook_path)
    report = holdout_split(gold_set, len(train_items))
    if with_rules:
        report["rules"] = _rule_precision(gold_set.subset(list(range(len(train_items), len(gold_set.items)))))
    return report


def holdout_split(gold_set: GoldSet, train_count: int) -> dict:
    """evaluate_holdout on a loaded gold set whose first train_count items train."""
    codebook = gold_set.codebook
    roles = [item.get("role") for item in gold_set.items]
    gold = [with_themes(codebook, set(item["codes"])) for item in gold_set.items]
    coded = [i for i, role in enumerate(roles) if role not in codebook.uncoded_roles]
    train_index = [i for i in coded if i < train_count]
    test_index = [i for i in coded if i >= train_count]
    if len(train_index) < 20 or not test_index:
        raise QcodeError(f"held-out evaluation needs at least 20 coded train segments and one test segment "
                         f"(have {len(train_index)} and {len(test_index)})")
    predicted: list[set[str]] = [set() for _ in gold_set.items]
    for i, codes in zip(test_index, fit_predict(codebook, gold_set.prepared, gold, train_index, test_index)):
        predicted[i] = codes
    predicted = gold_set.within_scope(predicted)
    tested = slice(train_count, None)
    return {"folds": 0, "items": len(gold_set.items) - train_count, "trained_on": len(train_index),
            **score_predictions(codebook, roles[tested], gold[tested], predicted[tested])}


def score_predictions(codebook: Codebook, roles: list, gold: list[set[str]], predicted: list[set[str]]) -> dict:
    """Gold against predicted code sets (with their themes), on the segments of coded roles."""
    # Segments of uncoded roles are never coded: counting them would add agreement on segments the
    # pipeline does not read (on the demo, 184 interviewer turns raised theme kappa by up to 0.09).
    scored = [i for i, role in enumerate(roles) if role not in codebook.uncoded_roles]
    gold_scored, predicted_scored = [gold[i] for i in scored], [predicted[i] for i in scored]
    all_codes = [c.id for c in codebook.codes]
    sub_codes = [c.id for c in codebook.codes if c.parent]
    return {
        "scored": len(scored),
        "left_out": len(gold) - len(scored),
        "left_out_with_codes": sum(1 for i, codes in enumerate(gold) if codes and roles[i] in codebook.uncoded_roles),
        "uncoded_roles": sorted(codebook.uncoded_roles),
        "all": compare_codings(gold_scored, predicted_scored, all_codes),
        "themes": compare_codings(gold_scored, predicted_scored, codebook.themes),
        "sub_codes": compare_codings(gold_scored, predicted_scored, sub_codes),
    }


def evaluate_repeated(items: list[dict], codebook_path: Path, folds: int = 5, repeats: int = 5, jobs: int = 1,
                      progress=None, with_rules: bool = False) -> dict:
    """evaluate_gold over `repeats` splits of the folds (random_state 0, 1, ...): every figure is
    the mean over the splits, and `spread` gives the headline figures' lowest and highest split.
    On the demo codings a theme's kappa differs by up to 0.07 between splits, so compare codebook
    or model changes on the mean. `jobs` splits run at once (processes; -1: one per CPU);
    `progress(n)` counts folds. `with_rules` adds `rules` (rule_precision)."""
    _check_folds(items, folds)          # report bad gold before any work or process starts
    gold_set = load_gold_set(items, codebook_path)
    seeds = range(repeats)
    if jobs == 1:
        reports = [evaluate_split(gold_set, folds, seed, progress=progress) for seed in seeds]
    else:
        # Processes of the standard library: joblib's left its temporary folder behind, reported
        # as leaked, since qcode ends with os._exit (cli.main), before joblib's clean-up at exit.
        from concurrent.futures import ProcessPoolExecutor
        from itertools import repeat

        reports = []
        with ProcessPoolExecutor(max_workers=jobs if jobs > 0 else None, initializer=_one_thread) as pool:
            for report in pool.map(evaluate_split, repeat(gold_set), repeat(folds), seeds):
                reports.append(report)
                if progress:
                    progress(folds)
    report = reports[0] if repeats == 1 else _mean_report(reports)
    if with_rules:
        report["rules"] = _rule_precision(gold_set)
    return report


def _mean_report(reports: list[dict]) -> dict:
    headline = [_headline(r) for r in reports]
    return {**reports[0],
            "repeats": len(reports),
            "all": _mean_comparison([r["all"] for r in reports]),
            "themes": _mean_comparison([r["themes"] for r in reports]),
            "sub_codes": _mean_comparison([r["sub_codes"] for r in reports]),
            "splits": headline,
            "spread": {name: [min(h[name] for h in headline), max(h[name] for h in headline)] for name in headline[0]}}


def _one_thread() -> None:
    """A worker's numerical libraries use one thread each: with their default of one per CPU in
    every worker, the workers wait on each other (four times slower on two cores)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def rule_precision(items: list[dict], codebook_path: Path) -> list[dict]:
    """Per rule, in codebook order: the scored gold segments it matches, and the share of them
    whose gold codes include the rule's code, and the code's theme. A rule that matches often
    where the coders did not code is the one to narrow (a token pattern, `unless_near`); a rule
    that matches nothing may be dead."""
    return _rule_precision(load_gold_set(items, codebook_path))


def _rule_precision(gold_set: GoldSet) -> list[dict]:
    codebook = gold_set.codebook
    rules = [rule for rule in codebook.rules if rule.code_id in codebook.by_id]      # not the scope's
    counts = {rule.id: [0, 0, 0] for rule in rules}       # matched, with the code, with the theme
    for hits, item in zip(gold_set.prepared.hits, gold_set.items):
        if item.get("role") in codebook.uncoded_roles:
            continue
        gold = with_themes(codebook, set(item["codes"]))
        for rule_id, code_id in {(hit.rule_id, hit.code_id) for hit in hits if hit.rule_id in counts}:
            counts[rule_id][0] += 1
            counts[rule_id][1] += code_id in gold
            counts[rule_id][2] += codebook.theme_of(code_id) in gold
    return [{"rule": rule.id, "code": rule.code_id, "matched": counts[rule.id][0],
             "code_precision": counts[rule.id][1] / counts[rule.id][0] if counts[rule.id][0] else None,
             "theme_precision": counts[rule.id][2] / counts[rule.id][0] if counts[rule.id][0] else None}
            for rule in rules]


def format_rule_precision(rows: list[dict]) -> str:
    lines = ["rules: scored gold segments matched, and the share of them the gold codes with the rule's code and theme",
             f"{'rule':<44}{'matched':>8}{'code':>7}{'theme':>7}"]
    lines += [f"{row['rule']:<44}{row['matched']:>8}{_fmt(row['code_precision']):>7}{_fmt(row['theme_precision']):>7}"
              for row in rows]
    return "\n".join(lines)


def _headline(report: dict) -> dict:
    """The figures whose spread over the splits `qcode evaluate --repeats` prints."""
    kappas = {f"kappa {theme}": m["kappa"] for theme, m in report["themes"]["per_code"].items()}
    return {"theme micro-F1": report["themes"]["micro_f1"], **kappas,
            "sub-code macro-F1": report["sub_codes"]["macro_f1"]}


def _mean_comparison(comparisons: list[dict]) -> dict:
    """The mean of agreement.compare_codings results, figure by figure (NaN where a split had none)."""
    def mean(values):
        values = [v for v in values if v is not None and not math.isnan(v)]
        return sum(values) / len(values) if values else float("nan")

    first = comparisons[0]
    per_code = {code: {name: mean([c["per_code"][code][name] for c in comparisons]) for name in metrics}
                for code, metrics in first["per_code"].items()}
    for code in per_code:
        per_code[code]["support"] = first["per_code"][code]["support"]     # the same gold in every split
    return {**{name: mean([c[name] for c in comparisons]) for name in ("macro_f1", "micro_f1", "alpha_all")},
            "per_code": per_code, "segments": first["segments"]}


def _fmt(value: float) -> str:
    return "  n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:5.2f}"


def _theme_summary(themes: dict) -> str:
    """The themes' line of `qcode evaluate` and `qcode agreement`, so the two compare directly."""
    kappas = [m["kappa"] for m in themes["per_code"].values()]
    return (f"themes:    micro-F1 {themes['micro_f1']:.3f}  macro-F1 {themes['macro_f1']:.3f}  "
            f"kappa min {min(kappas):.3f} mean {sum(kappas) / len(kappas):.3f}")


def _sub_code_summary(subs: dict) -> str:
    return f"sub-codes: micro-F1 {subs['micro_f1']:.3f}  macro-F1 {subs['macro_f1']:.3f}"


def format_report(report: dict) -> str:
    if report["folds"]:
        lines = [f"{report['folds']}-fold cross-validation on {report['items']} gold segments (rules + classifier)"]
    else:
        lines = [f"held-out test: trained on {report['trained_on']} coded gold segments, scored on the "
                 f"{report['items']} test segments (rules + classifier)"]
    if report.get("repeats", 1) > 1:
        lines.append(f"repeated over {report['repeats']} splits of the folds (random_state 0-{report['repeats'] - 1}): "
                     "every figure is the mean over the splits")
    if report["left_out"]:
        lines.append(f"scored: the {report['scored']} segments the pipeline codes; left out: {report['left_out']} of "
                     f"uncoded roles ({', '.join(report['uncoded_roles'])}), {report['left_out_with_codes']} of them "
                     "with gold codes")
    lines += ["", f"{'code':<32}{'n':>5}{'P':>7}{'R':>7}{'F1':>7}{'kappa':>7}{'alpha':>7}"]
    for code, m in report["all"]["per_code"].items():
        lines.append(f"{code:<32}{m['support']:>5}{_fmt(m['precision']):>7}{_fmt(m['recall']):>7}"
                     f"{_fmt(m['f1']):>7}{_fmt(m['kappa']):>7}{_fmt(m['alpha']):>7}")
    themes, subs = report["themes"], report["sub_codes"]
    lines += ["",
              f"{_theme_summary(themes)}  alpha {themes['alpha_all']:.3f}",
              f"{_sub_code_summary(subs)}  alpha {subs['alpha_all']:.3f}",
              f"all codes: micro-F1 {report['all']['micro_f1']:.3f}  macro-F1 {report['all']['macro_f1']:.3f}  "
              f"Krippendorff's alpha {report['all']['alpha_all']:.3f}"]
    if "spread" in report:
        lines += ["", f"lowest and highest of the {report['repeats']} splits:"]
        lines += [f"  {name:<24}{low:.3f}-{high:.3f}" for name, (low, high) in report["spread"].items()]
    return "\n".join(lines)


def _manual_rows(db_path: Path):
    if not Path(db_path).exists():
        raise QcodeError(f"{db_path}: no such database; run qcode build first")
    db = sqlite_utils.Database(str(db_path))
    return db, list(db.query(
        "select m.segment_id, m.code_id, m.coder, m.decision, m.origin, s.text, s.role, s.document_id from manual_codings m "
        "join segments s on s.id = m.segment_id where m.status = 'anchored' and "
        + store.LATEST_DECISION.format(m="m") + " order by s.document_id, s.seq"))


def gold_from_db(db_path: Path, coder: str | None = None) -> list[dict]:
    """Manual codings as gold items (anonymised text), one per segment a coder read, in reading
    order; `document` groups them for the codebook's scope (coding.in_scope)."""
    _, rows = _manual_rows(db_path)
    items: dict[str, dict] = {}
    for row in rows:
        if coder and row["coder"] != coder:
            continue
        item = items.setdefault(row["segment_id"], {"id": row["segment_id"], "text": row["text"], "codes": [],
                                                    "role": row["role"], "document": row["document_id"]})
        if row["decision"] in ("add", "confirm") and row["code_id"] and row["code_id"] not in item["codes"]:
            item["codes"].append(row["code_id"])
    if coder and not items:
        coders = sorted({row["coder"] for row in rows})
        raise QcodeError(f"{db_path}: no manual codings by {coder!r}; coders are: {', '.join(coders) or 'none'}")
    return list(items.values())


def coder_agreement(db_path: Path, coder_a: str, coder_b: str, reviewed: bool = False) -> dict:
    """Per segment both coders decided on, their codes: what each added or confirmed, with its
    themes. `reviewed`: reviewers in the workbench leave standing the machine's codes they agree
    with, so a machine code a coder neither rejected nor cleared with "none" is hers too, on the
    segments she reviewed: on one she coded from scratch (codings.csv, another CAQDAS tool) the
    machine's codes she left out are not hers, as they do not count in the database either."""
    db, rows = _manual_rows(db_path)
    codebook_codes = [r["id"] for r in db.query("select id from codes order by sort")]
    parents = {r["id"]: r["parent"] for r in db.query("select id, parent from codes")}
    sets: dict[str, dict[str, set]] = {coder_a: {}, coder_b: {}}
    rejected: dict[str, set] = {coder_a: set(), coder_b: set()}
    for row in rows:
        if row["coder"] in sets and store.coded_from_scratch(row):
            rejected[row["coder"]].add((row["segment_id"], ""))       # coded from scratch: her codes are all it has
        if row["coder"] in sets:
            codes = sets[row["coder"]].setdefault(row["segment_id"], set())
            if row["decision"] in ("add", "confirm") and row["code_id"]:
                code = row["code_id"]
                while code:
                    codes.add(code)
                    code = parents.get(code)
            elif row["decision"] in ("reject", "none"):
                rejected[row["coder"]].add((row["segment_id"], row["code_id"] or ""))
    if reviewed:
        machine: dict[str, set] = {}
        for row in db.query("select segment_id, code_id from codings where source in ('rule', 'classifier')"):
            machine.setdefault(row["segment_id"], set()).add(row["code_id"])
        for coder, by_segment in sets.items():
            for segment, codes in by_segment.items():
                if (segment, "") not in rejected[coder]:
                    codes |= {c for c in machine.get(segment, ()) if (segment, c) not in rejected[coder]}
    for coder in (coder_a, coder_b):
        if not sets[coder]:
            known = sorted({r["coder"] for r in rows})
            raise QcodeError(f"coder {coder!r} has no codings in {db_path}; coders: {', '.join(known)}")
    common = sorted(set(sets[coder_a]) & set(sets[coder_b]))
    if not common:
        raise QcodeError(f"{coder_a} and {coder_b} coded no segment in common")
    a = [sets[coder_a][s] for s in common]
    b = [sets[coder_b][s] for s in common]
    report = compare_codings(a, b, codebook_codes)
    # The same summaries as `qcode evaluate`, so that a coder pair and the pipeline compare directly.
    report["themes"] = compare_codings(a, b, [c for c in codebook_codes if not parents[c]])
    report["sub_codes"] = compare_codings(a, b, [c for c in codebook_codes if parents[c]])
    report["coders"] = [coder_a, coder_b]
    report["disagreements"] = disagreements(common, a, b)
    return report


def format_agreement(report: dict) -> str:
    a, b = report["coders"]
    lines = [f"Agreement {a} vs {b} on {report['segments']} segments (per segment and code)", "",
             f"{'code':<32}{'n_a':>5}{'%agree':>8}{'kappa':>7}{'alpha':>7}"]
    for code, m in report["per_code"].items():
        lines.append(f"{code:<32}{m['support']:>5}{m['agreement'] * 100:>7.1f}%{_fmt(m['kappa']):>7}{_fmt(m['alpha']):>7}")
    lines += ["", _theme_summary(report["themes"]), _sub_code_summary(report["sub_codes"]),
              f"Krippendorff's alpha over all codes: {report['alpha_all']:.3f}",
              f"{len(report['disagreements'])} segments with disagreements"
              + (f" (the first {SHOWN_DISAGREEMENTS}; --json lists all):" if len(report["disagreements"]) > SHOWN_DISAGREEMENTS
                 else ":")]
    for item in report["disagreements"][:SHOWN_DISAGREEMENTS]:
        lines.append(f"  {item['segment']}: only {a}: {', '.join(item['only_a']) or '-'}; only {b}: {', '.join(item['only_b']) or '-'}")
    return "\n".join(lines)


SHOWN_DISAGREEMENTS = 50
