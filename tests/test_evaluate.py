"""`qcode gold` and `qcode evaluate`: gold items carry the speaker role, and the cross-validation
treats the codebook's uncoded roles as a build does (not trained on, predicted uncoded)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.codebook import load_codebook
from pipeline.coding import cross_validate, with_themes

ROOT = Path(__file__).resolve().parent.parent


def test_gold_items_carry_text_codes_and_role(demo_db):
    result = CliRunner().invoke(cli, ["gold", "--db", str(demo_db)])
    assert result.exit_code == 0, result.output
    items = [json.loads(line) for line in result.output.splitlines()]
    assert len(items) >= 400
    assert all(set(item) == {"id", "text", "codes", "role"} for item in items)
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
