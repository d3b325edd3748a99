"""pipeline/rules.py: the shipped codebook's rules on inflected Dutch, and unless_near."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.codebook import load_codebook
from pipeline.nlp import load_nlp
from pipeline.rules import RuleHit, RuleSet, rule_hits_by_code

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def nlp():
    return load_nlp()


@pytest.fixture(scope="module")
def rules(nlp):
    return RuleSet(load_codebook(ROOT / "codebook.yaml"), nlp)


def hits(rules, nlp, text):
    return rules.match(nlp(text))


def test_inflected_form_hits_inkoop(rules, nlp):
    text = "Na de aanbestedingen hebben we één aanbieder."
    found = hits(rules, nlp, text)
    assert found == [
        RuleHit("regie.inkoop", "regie.inkoop.aanbesteding", 6, 20, "aanbestedingen"),
        RuleHit("regie.inkoop", "regie.inkoop.aantal", 31, 44, "één aanbieder"),
        RuleHit("regie.inkoop", "regie.inkoop.aanbesteding", 35, 44, "aanbieder"),
    ]
    assert all(text[h.start:h.end] == h.text for h in found)


def test_plural_hits_klantmanager(rules, nlp):
    assert hits(rules, nlp, "De klantmanagers hebben een hoge caseload.") == [
        RuleHit("regie.klantmanager", "regie.klantmanager.term", 3, 16, "klantmanagers"),
        RuleHit("regie.klantmanager", "regie.klantmanager.term", 33, 41, "caseload"),
    ]


@pytest.mark.parametrize("text, spans", [
    ("Zij heeft het B1-niveau gehaald.", [(14, 23, "B1-niveau")]),
    ("Zij heeft b1 gehaald.", [(4, 12, "heeft b1"), (10, 20, "b1 gehaald")]),
    ("Voor de opleiding is B2 nodig.", [(21, 29, "B2 nodig")]),
    # A bare level is often the route ("in B1" = the B1-route): no level by itself.
    ("Zij zit nu in B1 bij de taalschool.", []),
])
def test_cefr_rule(rules, nlp, text, spans):
    assert [(h.start, h.end, h.text) for h in hits(rules, nlp, text) if h.code_id == "taal.niveau"] == spans
    assert all(h.rule_id == "taal.niveau.cefr" for h in hits(rules, nlp, text) if h.code_id == "taal.niveau")


def test_lemma_phrase_matches_plural(rules, nlp):
    assert hits(rules, nlp, "De taallessen in de gemeenten zijn goed.") == [
        RuleHit("taal", "taal.term", 3, 13, "taallessen")]


@pytest.mark.parametrize("text", ["Ik wacht al twee jaar op een huis.", "Wij wachtten maanden op een woning.",
                                  "Zij wachten in de opvang op huizen."])
def test_waiting_for_a_house_is_wachttijd(rules, nlp, text):
    assert "snel_meedoen.wachttijd" in {h.code_id for h in hits(rules, nlp, text)}


@pytest.mark.parametrize("text", ["Er zijn te weinig huizen.", "De kinderen gaan naar school.",
                                  "De wet is in 2021 ingegaan."])
def test_words_in_passing_are_no_rule_hit(rules, nlp, text):
    # Generic words count only in combination (codebook.yaml's header): no sub-code from these.
    assert {h.code_id for h in hits(rules, nlp, text)} - {"regie", "taal", "snel_meedoen", "lerend_stelsel"} == set()


def test_no_hits_in_unrelated_text(rules, nlp):
    assert hits(rules, nlp, "Het regende de hele dag.") == []


def test_rule_hits_by_code(rules, nlp):
    grouped = rule_hits_by_code(hits(rules, nlp, "De klantmanager sprak over de aanbesteding."))
    assert {code: [h.text for h in found] for code, found in grouped.items()} == {
        "regie.klantmanager": ["klantmanager"], "regie.inkoop": ["aanbesteding"]}


@pytest.fixture(scope="module")
def negation_rules(tmp_path_factory, nlp):
    path = tmp_path_factory.mktemp("codebook") / "codebook.yaml"
    path.write_text(
        "version: 1\ncodes:\n"
        "  - id: werk\n    label: Werk\n    definition: Werk.\n"
        "    rules:\n      - {id: x, phrases: [werk], unless_near: [geen]}\n",
        encoding="utf-8")
    return RuleSet(load_codebook(path), nlp)


@pytest.mark.filterwarnings("ignore:.*W036")   # this codebook has no token patterns
@pytest.mark.parametrize("text, expected", [
    ("Er is geen werk.", []),
    ("GEEN werk", []),
    ("Er is geen enkel werk.", []),                      # within the window of 3 tokens
    ("Er is veel werk.", [(11, 15, "werk")]),
    ("Werk.", [(0, 4, "Werk")]),
    ("Geen tijd voor ander werk.", [(21, 25, "werk")]),  # 'geen' is 4 tokens before: outside the window
    ("Hij heeft geen werk maar zoekt wel werk", [(35, 39, "werk")]),
])
def test_unless_near_cancels_a_match(negation_rules, nlp, text, expected):
    assert [(h.start, h.end, h.text) for h in negation_rules.match(nlp(text))] == expected
    assert all(h.code_id == "werk" and h.rule_id == "x" for h in negation_rules.match(nlp(text)))


def test_anchored_patterns_find_what_a_whole_segment_match_finds(rules, nlp):
    # RuleSet runs token patterns that start with a given word only from where that word occurs;
    # the result must be what spaCy's Matcher finds over the whole segment.
    import json

    from spacy.matcher import Matcher

    reference = Matcher(nlp.vocab)
    for rule in rules.rules.values():
        for pattern in rule.patterns:
            reference.add(rule.id, [json.loads(pattern)])
    gold = ROOT / "corpus" / "demo" / "gold_codings.jsonl"
    texts = [json.loads(line)["text"] for line in gold.open(encoding="utf-8")][:300]
    found = expected = 0
    for doc in nlp.pipe(texts):
        by_patterns = {(nlp.vocab.strings[m], s, e) for m, s, e in reference(doc)}
        ours = {(rule_id, s, e) for matcher, part in rules._parts(doc) if matcher is rules.anchored or matcher is rules.tokens
                for rule_id, s, e in ((nlp.vocab.strings[m], s + part.start, e + part.start) for m, s, e in matcher(part))}
        assert ours == by_patterns, doc.text
        found, expected = found + len(ours), expected + len(by_patterns)
    assert found > 50


@pytest.mark.parametrize("pattern, length", [
    ([{"LOWER": "a"}, {"LOWER": "b", "OP": "?"}], 2),
    ([{"LOWER": "a"}, {"IS_PUNCT": False, "OP": "{0,5}"}, {"LOWER": "c"}], 7),
    ([{"LOWER": "a"}, {"LOWER": "b", "OP": "{3}"}], 4),
    ([{"LOWER": "a"}, {"LOWER": "b", "OP": "*"}], None),
    ([{"LOWER": "a"}, {"LOWER": "b", "OP": "{2,}"}], None),
])
def test_max_length(pattern, length):
    from pipeline.rules import _max_length

    assert _max_length(pattern) == length


@pytest.mark.parametrize("pattern, anchor", [
    ([{"LEMMA": "wachten"}, {"LOWER": "op"}], ("LEMMA", {"wachten"})),
    ([{"LOWER": {"IN": ["a1", "a2"]}}], ("LOWER", {"a1", "a2"})),
    ([{"LOWER": "a", "OP": "?"}, {"LOWER": "b"}], None),
    ([{"TEXT": {"REGEX": "^[AB][12]$"}}], None),
    ([{"LOWER": "a", "IS_DIGIT": False}], None),
])
def test_first_word(pattern, anchor):
    from pipeline.rules import _first_word

    assert _first_word(pattern) == anchor


# ---------------------------------------------------------------- the codebook's scope


def _scope_of(codebook, texts, documents=None):
    from pipeline.coding import in_scope, prepare

    return in_scope(codebook, prepare(texts, RuleSet(codebook, load_nlp())), documents)


def test_scope_terms_match_inflected_and_compound_forms(nlp):
    """The shipped scope names the Wi2021's people and parts, and its neighbours, in any form a text
    writes them: a text that names a neighbouring subject and not this one is outside the scope,
    a text that names neither (a short note) is not."""
    codebook = load_codebook(ROOT / "codebook.yaml")
    mentioning = ["De inburgeringsplichtigen starten later.", "Twee vergunninghoudsters kregen een woning.",
                  "Het PIP is na twaalf weken klaar.", "Zij volgt de Z-route.", "De B1-route duurt drie jaar.",
                  "Onder de Wi2021 is dat anders.", "Nieuwkomers leren de taal op de werkvloer.",
                  "De Wmo-consulent helpt de statushouder."]
    other = ["De gemeente voert de regie over de Wmo.", "De wachttijd voor jeugdhulp is opgelopen.",
             "Het Taalhuis helpt laaggeletterden.", "Wij kochten de huishoudelijke hulp opnieuw in."]
    neither = ["De taallessen zijn te kort.", "Ik heb de map met stukken meegenomen."]
    assert _scope_of(codebook, mentioning + other + neither) == \
        [True] * len(mentioning) + [False] * len(other) + [True] * len(neither)


def test_a_segment_is_in_scope_near_a_mention_or_in_a_document_about_the_subject(tmp_path):
    """A document that mentions the subject often enough is in scope throughout; in one that does
    not, what is within `window` words of a mention, and what is not near another subject; a text
    without a document stands alone."""
    path = tmp_path / "codebook.yaml"
    path.write_text("codes:\n  - id: werk\n    label: W\n    definition: W.\n"
                    "scope:\n  window: 5\n  rate: 25\n  subject:\n    - {id: s1, phrases: [inburgering]}\n"
                    "  other_subjects:\n    - {id: o1, phrases: [jeugdhulp]}\n", encoding="utf-8")
    codebook = load_codebook(path)
    filler = "Het college bespreekt de begroting van het komende jaar opnieuw."          # 10 words
    paper = [filler, filler, "Over de inburgering zegt het college weinig.", filler, filler]   # 1 in 47 words
    assert _scope_of(codebook, paper, ["rib"] * 5) == [True] * 5                          # no other subject
    youth = ["Over de jeugdhulp.", filler, filler, "Over de inburgering zegt het college weinig.", filler, filler]
    assert _scope_of(codebook, youth, ["jeugd"] * 6) == [False, False, True, True, True, True]
    interview = ["De inburgering loopt.", "Over de jeugdhulp.", filler, filler, filler]     # 1 in 36 words
    assert _scope_of(codebook, interview, ["int"] * 5) == [True] * 5
    assert _scope_of(codebook, ["Over de jeugdhulp.", "Over de inburgering en de jeugdhulp."]) == [False, True]
