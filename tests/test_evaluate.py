"""`qcode gold` and `qcode evaluate`: gold items carry the speaker role, and the cross-validation
treats the codebook's uncoded roles as a build does (not trained on, predicted uncoded)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.codebook import load_codebook
from pipeline.coding import cross_validate, with_themes
from pipeline.evaluate import evaluate_gold, evaluate_repeated, rule_precision

ROOT = Path(__file__).resolve().parent.parent


def test_gold_items_carry_text_codes_and_role(demo_db):
    result = CliRunner().invoke(cli, ["gold", "--db", str(demo_db)])
    assert result.exit_code == 0, result.output
    items = [json.loads(line) for line in result.output.splitlines()]
    assert len(items) >= 400
    assert all(set(item) == {"id", "text", "codes", "role", "document"} for item in items)
    documents = [item["document"] for item in items]           # in reading order: one run per document
    assert len(set(documents)) == 1 + sum(a != b for a, b in zip(documents, documents[1:]))
    assert {"interviewer", "klantmanager", "statushouder"} <= {item["role"] for item in items}


def test_uncoded_roles_are_neither_trained_on_nor_coded_in_cross_validation():
    items = [json.loads(line) for line in (ROOT / "corpus" / "demo" / "gold_codings.jsonl").open(encoding="utf-8")][:200]
    codebook = load_codebook(ROOT / "codebook.yaml")
    texts = [item["text"] for item in items]
    gold = [with_themes(codebook, set(item["codes"])) for item in items]
    roles = [item["role"] for item in items]
    with_roles = cross_validate(codebook, texts, gold, folds=3, roles=roles)
    assert "interviewer" in roles
    assert all(not codes for codes, role in zip(with_roles, roles) if role == "interviewer")
    assert any(codes for codes, role in zip(with_roles, roles) if role != "interviewer")
    without_roles = cross_validate(codebook, texts, gold, folds=3)
    assert any(codes for codes, role in zip(without_roles, roles) if role == "interviewer")


def test_evaluate_command_prints_the_report(tmp_path):
    gold = tmp_path / "gold.jsonl"
    lines = (ROOT / "corpus" / "demo" / "gold_codings.jsonl").read_text(encoding="utf-8").splitlines()[:200]
    gold.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["evaluate", "--gold", str(gold), "--folds", "3"])
    assert result.exit_code == 0, result.output
    assert "3-fold cross-validation on 200 gold segments" in result.output
    interviewer = sum(1 for line in lines if json.loads(line)["role"] == "interviewer")
    assert f"scored: the {200 - interviewer} segments the pipeline codes; left out: {interviewer} of uncoded roles (interviewer)" in result.output
    assert "themes:    micro-F1" in result.output and "Krippendorff's alpha" in result.output


def _demo_gold(count):
    lines = (ROOT / "corpus" / "demo" / "gold_codings.jsonl").read_text(encoding="utf-8").splitlines()[:count]
    return [json.loads(line) for line in lines]


def test_repeated_evaluation_reports_the_mean_and_spread_of_its_splits():
    items = _demo_gold(150)
    splits = [evaluate_gold(items, ROOT / "codebook.yaml", folds=3, random_state=seed) for seed in (0, 1)]
    report = evaluate_repeated(items, ROOT / "codebook.yaml", folds=3, repeats=2)
    micro = [split["themes"]["micro_f1"] for split in splits]
    assert report["repeats"] == 2 and report["scored"] == splits[0]["scored"]
    assert report["themes"]["micro_f1"] == pytest.approx(sum(micro) / 2)
    assert report["spread"]["theme micro-F1"] == pytest.approx([min(micro), max(micro)])
    regie = [split["themes"]["per_code"]["regie"]["kappa"] for split in splits]
    assert report["themes"]["per_code"]["regie"]["kappa"] == pytest.approx(sum(regie) / 2)
    assert report["spread"]["kappa regie"] == pytest.approx([min(regie), max(regie)])
    assert report["themes"]["per_code"]["regie"]["support"] == splits[0]["themes"]["per_code"]["regie"]["support"]


def test_evaluate_repeats_prints_the_spread_and_checks_the_gold_first(tmp_path):
    gold = tmp_path / "gold.jsonl"
    gold.write_text("\n".join(json.dumps(item, ensure_ascii=False) for item in _demo_gold(120)) + "\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["evaluate", "--gold", str(gold), "--folds", "3", "--repeats", "2", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "repeated over 2 splits of the folds (random_state 0-1): every figure is the mean" in result.output
    assert "lowest and highest of the 2 splits:" in result.output
    assert "kappa lerend_stelsel" in result.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x1", "text": "t", "codes": ["geen_code"]}\n' * 20, encoding="utf-8")
    result = CliRunner().invoke(cli, ["evaluate", "--gold", str(bad), "--folds", "3", "--repeats", "2",
                                      "--jobs", "2", "--quiet"])
    assert result.exit_code != 0
    assert "gold item 'x1': unknown codes ['geen_code']" in result.output


def test_splits_in_worker_processes_give_the_same_report_and_leave_nothing_behind(tmp_path):
    """`--jobs 2` through the real console script (which ends with os._exit): the figures of the
    serial run, and no warning of leaked semaphores or folders from the workers."""
    import subprocess
    import sys

    gold = tmp_path / "gold.jsonl"
    gold.write_text("\n".join(json.dumps(item, ensure_ascii=False) for item in _demo_gold(150)) + "\n", encoding="utf-8")
    serial = evaluate_repeated(_demo_gold(150), ROOT / "codebook.yaml", folds=3, repeats=2, jobs=1)
    run = subprocess.run([str(Path(sys.executable).parent / "qcode"), "evaluate", "--gold", str(gold), "--folds", "3",
                          "--repeats", "2", "--jobs", "2", "--json", "--quiet", "--codebook", str(ROOT / "codebook.yaml")],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    parallel = json.loads(run.stdout)
    assert parallel["splits"] == json.loads(json.dumps(serial["splits"]))
    assert "leaked" not in run.stderr and "Warning" not in run.stderr


def test_rule_precision_counts_the_gold_segments_each_rule_matches():
    items = [
        {"id": "a", "text": "De gemeente heeft de regie over het hele traject.", "codes": ["regie"], "role": "klantmanager"},
        {"id": "b", "text": "Wie de regie heeft, weet ik eigenlijk niet.", "codes": [], "role": "statushouder"},
        {"id": "c", "text": "Heeft de gemeente de regie?", "codes": ["regie"], "role": "interviewer"},  # uncoded role
        {"id": "d", "text": "Na de aanbesteding bleef er één aanbieder over.", "codes": ["regie.inkoop"],
         "role": "beleidsmedewerker"},
    ]
    rows = {row["rule"]: row for row in rule_precision(items, ROOT / "codebook.yaml")}
    assert rows["regie.term"] == {"rule": "regie.term", "code": "regie", "matched": 2,
                                  "code_precision": 0.5, "theme_precision": 0.5}
    assert rows["regie.inkoop.aanbesteding"]["matched"] == 1
    assert rows["regie.inkoop.aanbesteding"]["code_precision"] == 1.0
    assert rows["lerend_stelsel.term"] == {"rule": "lerend_stelsel.term", "code": "lerend_stelsel", "matched": 0,
                                           "code_precision": None, "theme_precision": None}
    codebook = load_codebook(ROOT / "codebook.yaml")
    assert list(rows) == [rule.id for rule in codebook.rules if rule.code_id in codebook.by_id]   # the codes' rules, not the scope's


def test_held_out_evaluation_trains_on_one_gold_file_and_scores_the_other(tmp_path):
    """--test-gold: the model is trained on all of --gold (coded roles only) and scores only the
    test items; the same train and test segments by hand through fit_predict give the same figures."""
    from pipeline.coding import fit_predict, prepare
    from pipeline.agreement import compare_codings
    from pipeline.nlp import load_nlp
    from pipeline.rules import RuleSet

    train, test = _demo_gold(160), _demo_gold(240)[160:]
    paths = {}
    for name, items in (("train", train), ("test", test)):
        paths[name] = tmp_path / f"{name}.jsonl"
        paths[name].write_text("\n".join(json.dumps(i, ensure_ascii=False) for i in items) + "\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["evaluate", "--gold", str(paths["train"]), "--test-gold", str(paths["test"]),
                                      "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    codebook = load_codebook(ROOT / "codebook.yaml")
    coded_train = [i for i, item in enumerate(train) if item["role"] != "interviewer"]
    coded_test = [len(train) + i for i, item in enumerate(test) if item["role"] != "interviewer"]
    assert report["items"] == 80 and report["trained_on"] == len(coded_train)
    assert report["scored"] == len(coded_test) and report["left_out"] == 80 - len(coded_test)
    items = train + test
    gold = [with_themes(codebook, set(item["codes"])) for item in items]
    prepared = prepare([item["text"] for item in items], RuleSet(codebook, load_nlp()))
    predicted = fit_predict(codebook, prepared, gold, coded_train, coded_test)
    expected = compare_codings([gold[i] for i in coded_test], predicted, codebook.themes)
    assert report["themes"]["micro_f1"] == pytest.approx(expected["micro_f1"])

    text = CliRunner().invoke(cli, ["evaluate", "--gold", str(paths["train"]), "--test-gold", str(paths["test"])]).output
    assert text.startswith(f"held-out test: trained on {len(coded_train)} coded gold segments, scored on the 80 test segments")
    refused = CliRunner().invoke(cli, ["evaluate", "--gold", str(paths["train"]), "--test-gold", str(paths["test"]),
                                       "--repeats", "2"])
    assert refused.exit_code != 0 and "a held-out test trains once; leave out --repeats" in refused.output
    same = CliRunner().invoke(cli, ["evaluate", "--gold", str(paths["train"]), "--test-gold", str(paths["train"])])
    assert same.exit_code != 0
    assert "160 test segments are also in the training gold; a held-out test must not train on what it scores" in same.output
    with_rules = CliRunner().invoke(cli, ["evaluate", "--gold", str(paths["train"]), "--test-gold", str(paths["test"]),
                                          "--rules", "--json"])
    assert json.loads(with_rules.output)["rules"] == rule_precision(test, ROOT / "codebook.yaml")   # on the test items


def test_the_codebook_teaches_policy_prose_and_evaluate_will_not_score_it(tmp_path):
    """The codebook's teaching examples (122 paragraphs of policy prose, 24 taking no code) load
    with their themes; `qcode evaluate` refuses gold segments that are among them."""
    from click.testing import CliRunner

    from pipeline.cli import cli
    from pipeline.coding import code_descriptions

    codebook = load_codebook(ROOT / "codebook.yaml")
    assert len(codebook.teaching) == 122 and sum(1 for _, codes in codebook.teaching if not codes) == 24
    texts, code_sets = code_descriptions(codebook)
    assert texts[-122:] == [text for text, _ in codebook.teaching]
    assert code_sets[-122] == {"snel_meedoen.werk", "snel_meedoen", "regie.samenwerking", "regie"}
    gold = tmp_path / "taught.jsonl"
    demo = (ROOT / "corpus" / "demo" / "gold_codings.jsonl").read_text(encoding="utf-8").splitlines()[:40]
    taught = [json.dumps({"id": f"t{i}", "text": text, "codes": list(codes)}) for i, (text, codes) in enumerate(codebook.teaching[:3])]
    gold.write_text("\n".join(demo + taught) + "\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["evaluate", "--gold", str(gold), "--folds", "2", "--quiet"])
    assert result.exit_code != 0
    assert ("3 gold segments are among the codebook's teaching examples, which every model learns from; "
            "a model must not be scored on what it learned from") in result.output


def test_gold_outside_the_codebooks_scope_is_scored_as_uncoded():
    """Gold items are read for the codebook's scope as a build reads segments: grouped by their
    "document", an item on its own when it has none. One outside it counts as coded with nothing."""
    from pipeline.evaluate import evaluate_holdout, load_gold_set

    wmo = "Na de aanbesteding van de huishoudelijke hulp hebben we maar één aanbieder."
    test = [{"id": "t1", "text": wmo, "codes": ["regie.inkoop"]},
            {"id": "t2", "text": "De brief gaat over statushouders.", "codes": [], "document": "brief"},
            {"id": "t3", "text": wmo, "codes": ["regie.inkoop"], "document": "brief"}]
    assert load_gold_set(test, ROOT / "codebook.yaml").scope == [False, True, True]
    report = evaluate_holdout(_demo_gold(160), test, ROOT / "codebook.yaml")
    inkoop = report["all"]["per_code"]["regie.inkoop"]
    assert (inkoop["support"], inkoop["recall"], inkoop["precision"]) == (2, 0.5, 1.0)     # t3 found, t1 not coded
