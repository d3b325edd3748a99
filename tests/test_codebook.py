"""pipeline/codebook.py: the shipped codebook, and invalid codebooks reporting every problem at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.codebook import load_codebook
from pipeline.errors import CodebookError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def codebook():
    return load_codebook(ROOT / "codebook.yaml")


def write(tmp_path: Path, text: str, name: str = "codebook.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(CodebookError) as exc:
        load_codebook(path)
    assert str(exc.value) == "invalid codebook:\n  " + "\n  ".join(exc.value.problems)
    return exc.value.problems


# ---------------------------------------------------------------- the shipped codebook


def test_shipped_codebook_themes(codebook):
    assert codebook.themes == ["regie", "taal", "snel_meedoen", "lerend_stelsel"]


def test_shipped_sub_codes_have_a_theme_parent_and_rules(codebook):
    sub_codes = [c for c in codebook.codes if c.parent is not None]
    assert sub_codes
    for code in sub_codes:
        assert code.parent in codebook.themes, code.id
        assert code.id.startswith(code.parent + "."), code.id
        assert codebook.theme_of(code.id) == code.parent
        assert code.rules, f"{code.id} has no rule"
    assert all(code.rules for code in codebook.codes)
    assert len({c.id for c in codebook.codes}) == len(codebook.codes)
    assert len({r.id for r in codebook.rules}) == len(codebook.rules)


def test_shipped_codebook_navigation(codebook):
    assert codebook.ancestors("regie.inkoop") == ["regie"]
    assert codebook.path_of("regie.inkoop") == "regie > regie.inkoop"
    assert codebook.descendants("taal")[0] == "taal"
    assert set(codebook.descendants("taal")) == {c.id for c in codebook.codes if codebook.theme_of(c.id) == "taal"}
    lines = codebook.path.read_text(encoding="utf-8").splitlines()
    assert codebook.by_id["regie.inkoop"].line == lines.index("  - id: regie.inkoop") + 1
    assert len(codebook.hash) == 16


def test_codebook_hash_follows_content(tmp_path, codebook):
    text = (ROOT / "codebook.yaml").read_text(encoding="utf-8")
    assert load_codebook(write(tmp_path, text)).hash == codebook.hash
    assert load_codebook(write(tmp_path, text + "\n# alleen commentaar\n", "b.yaml")).hash == codebook.hash
    edited = text.replace('"regie", "regierol"', '"regie", "regiefunctionaris", "regierol"')
    assert edited != text
    other = load_codebook(write(tmp_path, edited, "c.yaml"))
    assert other.hash != codebook.hash
    assert other.by_id["regie"].content_hash() != codebook.by_id["regie"].content_hash()
    assert other.by_id["taal"].content_hash() == codebook.by_id["taal"].content_hash()


# ---------------------------------------------------------------- invalid codebooks


def test_yaml_syntax_error_has_line(tmp_path):
    path = write(tmp_path, "version: 1\ncodes:\n  - id: a\n    label: [niet gesloten\n    definition: x\n")
    assert problems_of(path) == [f"{path}:5: YAML syntax error: expected ',' or ']', but got ':'"]


def test_a_colon_in_an_unquoted_definition_says_to_quote_it(tmp_path):
    """Dutch definitions often hold ': ' ("Keuzevrijheid: pgb of zorg in natura"); YAML's own words
    ('mapping values are not allowed here') do not say what to do."""
    path = write(tmp_path, "version: 1\ncodes:\n  - id: a\n    label: A\n    definition: Keuzevrijheid: pgb of zorg\n")
    assert problems_of(path) == [f"{path}:5: YAML syntax error: mapping values are not allowed here (a text with ': ' "
                                 f"in it, common in a Dutch definition, must be in quotes: definition: \"Keuzevrijheid: "
                                 f"pgb of zorg in natura\")"]


ALL_WRONG = """\
version: 1
codes:
  - id: regie
    label: Regie
    definition: Regie.
    rules:
      - id: r1
        phrases: [regie]
  - id: regie
    label: Regie twee
    definition: Dubbel.
  - id: taal.x
    parent: taal
    label: X
    definition: X.
  - id: a
    parent: b
    label: A
    definition: A.
  - id: b
    parent: a
    label: B
    definition: B.
  - id: regex
    label: Regex
    definition: R.
    rules:
      - id: r2
        patterns:
          - [{"TEXT": {"REGEX": "([a-z"}}]
  - id: attr
    label: Attr
    definition: A.
    rules:
      - id: r3
        patterns:
          - [{"LEMA": "werk"}]
  - id: nolabel
    definition: Geen label.
  - id: colour
    label: Kleur
    colour: red
    definition: K.
"""


def test_every_problem_reported_at_once(tmp_path):
    path = write(tmp_path, ALL_WRONG)
    assert problems_of(path) == [
        f"{path}:28: code 'regex' rule 'r2': pattern 1: invalid regex '([a-z' (unterminated character set at position 1)",
        f"{path}:35: code 'attr' rule 'r3': pattern 1: invalid spaCy pattern: Invalid token patterns for matcher "
        "rule 'check1' Pattern 0: - [pattern -> 0 -> LEMA] Extra inputs are not permitted ('LEMA': did you mean 'LEMMA'?)",
        f"{path}:38: code 'nolabel': missing 'label'",
        f"{path}:40: code 'colour': colour 'red' must look like '#1f77b4'",
        f"{path}:9: code 'regie': duplicate id (first defined on line 3)",
        f"{path}:12: code 'taal.x': unknown parent 'taal'",
        f"{path}:16: code 'a': parent cycle a -> b -> a",
        f"{path}:20: code 'b': parent cycle b -> a -> b",
    ]


@pytest.mark.parametrize("text, expected", [
    ("", ":1: the codebook must be a mapping with a 'codes' list"),
    ("version: 1\n", ":1: 'codes' must be a list of codes"),
    ("version: 1\nthemes: []\ncodes: []\n", ":2: unknown top-level key 'themes'"),
    ("codes:\n  - id: Regie\n    label: R\n    definition: R.\n",
     ":2: code 'Regie': id must be lower-case letters, digits and _ (sub-codes: theme.sub)"),
    ("codes:\n  - id: taal\n    label: T\n    definition: T.\n  - id: praktijk\n    parent: taal\n    label: P\n"
     "    definition: P.\n", ":5: code 'praktijk': a sub-code's id starts with its parent's ('taal.'), e.g. 'taal.praktijk'"),
    ("codes:\n  - id: werk\n    label: W\n    definition: W.\n    kleur: '#ffffff'\n",
     ":5: code 'werk': unknown key 'kleur'"),
    ("codes:\n  - id: werk\n    label: W\n    definition: W.\n    rules:\n      - id: w1\n",
     ":6: code 'werk' rule 'w1': a rule needs 'phrases' or 'patterns'"),
    ("codes:\n  - id: werk\n    label: W\n    definition: W.\n    rules:\n      - id: w1\n        phrases: werk\n",
     ":6: code 'werk' rule 'w1': 'phrases' must be a list of non-empty strings"),
    ("codes:\n  - id: werk\n    label: W\n    definition: W.\n    rules:\n      - werk\n",
     ":6: code 'werk' rule None: each rule needs an id"),
    ("uncoded_roles: interviewer\ncodes:\n  - id: werk\n    label: W\n    definition: W.\n",
     ":1: 'uncoded_roles' must be a list of speaker roles (e.g. [interviewer])"),
    ("codes:\n  - id: werk\n    label: W\n    definition: W.\n  - id: baan\n    label: B\n    definition: B.\n"
     "    replaces: [werk]\n", ":5: code 'baan': replaces 'werk', which is still a code (line 2); remove it there, "
     "or drop it from 'replaces'"),
    ("codes:\n  - id: werk\n    label: W\n    definition: W.\n    replaces: [Oud werk]\n",
     ":2: code 'werk': 'replaces' must be a list of the code ids this code had before"),
])
def test_single_problem_messages(tmp_path, text, expected):
    path = write(tmp_path, text)
    assert problems_of(path) == [f"{path}{expected}"]


def test_duplicate_rule_id(tmp_path):
    path = write(tmp_path, "codes:\n"
                           "  - id: a\n    label: A\n    definition: A.\n    rules:\n      - {id: r, phrases: [x]}\n"
                           "  - id: b\n    label: B\n    definition: B.\n    rules:\n      - {id: r, phrases: [y]}\n")
    assert problems_of(path) == [f"{path}:7: code 'b': duplicate rule id 'r' (also in 'a')"]


def test_unreadable_codebook(tmp_path):
    path = tmp_path / "missing.yaml"
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}: cannot read the codebook (")


@pytest.mark.parametrize("extra, key", [
    ("    rules:\n      - id: w1\n        phrases: [werk]\n        window: abc\n", "window"),
    ("    parent: [regie]\n", "parent"),
], ids=["window-not-a-number", "parent-not-a-string"])
def test_malformed_values_reported_not_crashing(tmp_path, extra, key):
    path = write(tmp_path, "codes:\n  - id: werk\n    label: W\n    definition: W.\n" + extra)
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:") and "'werk'" in problem and key in problem


def test_unless_near_must_be_a_list(tmp_path):
    path = write(tmp_path, "codes:\n  - id: werk\n    label: W\n    definition: W.\n    rules:\n"
                           "      - id: w1\n        phrases: [werk]\n        unless_near: geen\n")
    try:
        codebook = load_codebook(path)
    except CodebookError as exc:
        assert any("unless_near" in p and p.startswith(f"{path}:") for p in exc.problems)
    else:
        assert codebook.rules[0].unless_near == ("geen",)


def test_uncoded_roles(tmp_path, codebook):
    assert codebook.uncoded_roles == ("interviewer",)
    path = write(tmp_path, "codes:\n  - id: werk\n    label: W\n    definition: W.\n")
    assert load_codebook(path).uncoded_roles == ()


def test_teaching_examples_are_checked_with_their_lines(tmp_path):
    """Each teaching example needs a text and a list of codes, reported with its line; a code
    renamed with `replaces` is read as its new id."""
    text = """\
version: 1
codes:
  - id: regie
    label: Regie
    definition: Regie.
    replaces: [sturing]
    rules:
      - id: r1
        phrases: [regie]
teaching_examples:
  - codes: [regie]
    text: De gemeente voert de regie.
  - codes: [sturing]
    text: De gemeente stuurt.
  - codes: [taal]
    text: Taalles.
  - text: Zonder codes.
  - codes: []
    text: Een passage over de Wmo.
"""
    path = write(tmp_path, text)
    assert problems_of(path) == [f"{path}:17: a teaching example needs a text and a list of codes (codes: [] for none)"]
    # a code that is gone (dropped, or mistyped) leaves its passage out, and says so: a build goes on
    fixed = load_codebook(write(tmp_path, text.replace("  - text: Zonder codes.\n", ""), "b.yaml"))
    assert fixed.teaching == (("De gemeente voert de regie.", ("regie",)), ("De gemeente stuurt.", ("regie",)),
                              ("Een passage over de Wmo.", ()))
    assert fixed.teaching_left_out == (f"{tmp_path / 'b.yaml'}:15: 1 teaching example left out, as a code they name "
                                       f"is not in the codebook (this is the first)",)
    assert problems_of(write(tmp_path, text.split("teaching_examples:")[0] + "teaching_examples: zie bestand\n", "c.yaml")) == [
        f"{tmp_path / 'c.yaml'}:10: 'teaching_examples' must be a list of passages with text and codes"]


SCOPE_CODE = "codes:\n  - id: werk\n    label: W\n    definition: W.\n    rules:\n      - {id: w1, phrases: [werk]}\n"


def test_scope_is_read_with_its_defaults(tmp_path, codebook):
    """The shipped codebook names its subject and the subjects next to it; a scope without window
    and rate gets the defaults."""
    assert [r.id for r in codebook.scope_rules] == ["scope.mensen", "scope.stelsel"]
    assert [r.id for r in codebook.other_subject_rules] == ["scope.zorg_en_ondersteuning", "scope.geld_en_werk",
                                                            "scope.andere_groepen"]
    assert set(codebook.scope_rules + codebook.other_subject_rules) <= set(codebook.rules)   # matched with the codes' rules
    path = write(tmp_path, SCOPE_CODE + "scope:\n  subject:\n    - {id: s1, phrases: [inburgering]}\n")
    loaded = load_codebook(path)
    assert (loaded.scope_window, loaded.scope_rate, loaded.other_subject_rules) == (300, 2.0, ())
    assert load_codebook(write(tmp_path, SCOPE_CODE, "plain.yaml")).scope_rules == ()


@pytest.mark.parametrize("scope, expected", [
    ("scope: [inburgering]\n", ":7: 'scope' must be a mapping with 'subject' (and 'other_subjects', 'window', 'rate')"),
    ("scope:\n  window: 300\n", ":8: scope: 'subject' needs at least one rule (or leave 'scope' out)"),
    ("scope:\n  subject:\n    - {id: s1, phrases: [inburgering]}\n  windows: 300\n", ":10: scope: unknown key 'windows'"),
    ("scope:\n  window: -5\n  subject:\n    - {id: s1, phrases: [inburgering]}\n",
     ":8: scope: 'window' must be a whole number of words, not -5"),
    ("scope:\n  rate: veel\n  subject:\n    - {id: s1, phrases: [inburgering]}\n",
     ":8: scope: 'rate' must be a number of mentions per 1,000 words above 0, not 'veel'"),
    ("scope:\n  subject:\n    - {id: s1}\n", ":9: scope subject rule 's1': a rule needs 'phrases' or 'patterns'"),
    ("scope:\n  subject:\n    - {id: w1, phrases: [inburgering]}\n", ":8: scope: duplicate rule id 'w1' (also in 'werk')"),
    ("scope:\n  subject:\n    - {id: s1, phrases: [inburgering]}\n  other_subjects:\n    - {id: s1, phrases: [wmo]}\n",
     ":8: scope: duplicate rule id 's1' (also in 'scope')"),
    ("scope:\n  subject:\n    - {id: s1, phrases: [inburgering]}\n  other_subjects:\n    - id: o1\n"
     "      patterns: [[{LEMA: wmo}]]\n",
     ":11: scope other_subjects rule 'o1': pattern 1: invalid spaCy pattern: Invalid token patterns for matcher rule "
     "'check1' Pattern 0: - [pattern -> 0 -> LEMA] Extra inputs are not permitted ('LEMA': did you mean 'LEMMA'?)"),
], ids=["not-a-mapping", "no-subject", "unknown-key", "window", "rate", "empty-rule", "duplicate-id", "duplicate-in-scope",
        "bad-pattern"])
def test_scope_problems_are_reported_with_their_lines(tmp_path, scope, expected):
    path = write(tmp_path, SCOPE_CODE + scope)
    assert problems_of(path) == [f"{path}{expected}"]
