"""Stage 4a: the codebook's rules as spaCy matchers over lemmatised Dutch tokens.

Phrases go to two `PhraseMatcher`s, one on LOWER (exact word forms) and one on LEMMA (so that
"taallessen" matches the phrase "taalles" and "gemeenten" matches "gemeente"). Token patterns go to
a `Matcher`. A rule with `unless_near` drops a match when one of those lemmas occurs within
`window` tokens before it ("geen", "niet": negation, or an excluding context).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc

from .codebook import Codebook


@dataclass(frozen=True)
class RuleHit:
    code_id: str
    rule_id: str
    start: int      # character offsets in the segment text
    end: int
    text: str


class RuleSet:
    """Compiled rules of one codebook."""

    def __init__(self, codebook: Codebook, nlp: Language):
        self.codebook = codebook
        self.rules = {rule.id: rule for rule in codebook.rules}
        self.lower = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.lemma = PhraseMatcher(nlp.vocab, attr="LEMMA")
        self.tokens = Matcher(nlp.vocab)
        for rule in codebook.rules:
            if rule.phrases:
                phrase_docs = list(nlp.pipe(rule.phrases))
                self.lower.add(rule.id, [nlp.make_doc(p) for p in rule.phrases])
                self.lemma.add(rule.id, phrase_docs)
            if rule.patterns:
                self.tokens.add(rule.id, [json.loads(p) for p in rule.patterns])

    def match(self, doc: Doc) -> list[RuleHit]:
        """Every rule hit in one processed segment, one per (rule, span)."""
        spans = {}
        for matcher in (self.lower, self.lemma, self.tokens):
            for match_id, start, end in matcher(doc):
                rule_id = doc.vocab.strings[match_id]
                if self._cancelled(doc, start, self.rules[rule_id]):
                    continue
                spans[(rule_id, start, end)] = doc[start:end]
        hits = [RuleHit(self.rules[r].code_id, r, span.start_char, span.end_char, span.text)
                for (r, _, _), span in spans.items()]
        return sorted(hits, key=lambda h: (h.start, h.rule_id))

    @staticmethod
    def _cancelled(doc: Doc, start: int, rule) -> bool:
        if not rule.unless_near:
            return False
        before = doc[max(0, start - rule.window):start]
        near = set(rule.unless_near)
        return any(t.lemma_ in near or t.lower_ in near for t in before)


def rule_hits_by_code(hits: list[RuleHit]) -> dict[str, list[RuleHit]]:
    out: dict[str, list[RuleHit]] = {}
    for hit in hits:
        out.setdefault(hit.code_id, []).append(hit)
    return out
