"""Stage 4a: the codebook's rules as spaCy matchers over lemmatised Dutch tokens.

Phrases go to two `PhraseMatcher`s, one on LOWER (exact word forms) and one on LEMMA (so that
"taallessen" matches the phrase "taalles" and "gemeenten" matches "gemeente"). Token patterns go to
a `Matcher`. A rule with `unless_near` drops a match when one of those lemmas occurs within
`window` tokens before it ("geen", "niet": negation, or an excluding context).

A token pattern whose first token is a given word (or list of words) is run only from where such a
word occurs (`RuleSet._parts`), which finds the same matches several times faster.
"""

from __future__ import annotations

import functools
import json
import re
from typing import NamedTuple

from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc

from .codebook import Codebook


class RuleHit(NamedTuple):
    # A named tuple rather than a dataclass: the coding cache holds one per hit (275,000 at 100x
    # the demo corpus), and tuples pickle and unpickle several times faster.
    code_id: str
    rule_id: str
    start: int      # character offsets in the segment text
    end: int
    text: str


class RuleSet:
    """Compiled rules of one codebook (or of some of its codes)."""

    def __init__(self, codebook: Codebook, nlp: Language, rules: list | None = None):
        self.codebook = codebook
        self.rules = {rule.id: rule for rule in (codebook.rules if rules is None else rules)}
        self.lower = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.lemma = PhraseMatcher(nlp.vocab, attr="LEMMA")
        self.tokens = Matcher(nlp.vocab)          # token patterns, run over the whole segment
        self.anchored = Matcher(nlp.vocab)        # those that start with a given word: see _parts()
        self.anchor_words: dict[str, set[str]] = {}     # token attribute -> first words
        self.anchored_length = 0
        self.nlp = nlp
        # Words one of which a segment must contain for some rule of this set to match (None:
        # cannot tell, a token pattern without a given first word); see may_match.
        first_words: set[str] = set()
        unanchored = False
        for rule in self.rules.values():
            if rule.phrases:
                phrase_docs = list(nlp.pipe(rule.phrases))
                self.lower.add(rule.id, [nlp.make_doc(p) for p in rule.phrases])
                self.lemma.add(rule.id, phrase_docs)
                first_words.update(w for d in phrase_docs if len(d) for w in (d[0].lower_, d[0].lemma_.lower()))
            for pattern in (json.loads(p) for p in rule.patterns):
                anchor, length = _first_word(pattern), _max_length(pattern)
                unanchored = unanchored or anchor is None
                if anchor is not None:
                    first_words.update(w.lower() for w in anchor[1])
                if anchor is None or length is None:
                    self.tokens.add(rule.id, [pattern])
                    continue
                attr, words = anchor
                self.anchor_words.setdefault(attr, set()).update(words)
                self.anchored_length = max(self.anchored_length, length)
                self.anchored.add(rule.id, [pattern])
        self.anchors: set[str] | None = None if unanchored else first_words

    def match(self, doc: Doc) -> list[RuleHit]:
        """Every rule hit in one processed segment, one per (rule, span)."""
        spans = {}
        for matcher, part in self._parts(doc):
            for match_id, start, end in matcher(part):
                start, end = start + part.start, end + part.start
                rule_id = doc.vocab.strings[match_id]
                if self._cancelled(doc, start, self.rules[rule_id]):
                    continue
                spans[(rule_id, start, end)] = doc[start:end]
        hits = [RuleHit(self.rules[r].code_id, r, span.start_char, span.end_char, span.text)
                for (r, _, _), span in spans.items()]
        return sorted(hits, key=lambda h: (h.start, h.rule_id))

    def _parts(self, doc: Doc):
        """(matcher, span) pairs that together find every match in the segment. spaCy's Matcher
        tries each pattern at each token, which made the codebook's 46 token patterns cost more
        than tokenising and lemmatising. A pattern that starts with a given word can only match
        from an occurrence of that word, so the anchored patterns run only over the stretches
        from such a word to as far as the longest of them reaches: the same matches, about
        three times faster."""
        whole = doc[:]
        for matcher in (self.lower, self.lemma, self.tokens):
            if len(matcher):
                yield matcher, whole
        if not len(self.anchored):
            return
        starts = sorted({start for finder in self._anchor_finders for _, start, _ in finder(doc)})
        stretch_start = stretch_end = None
        for i in starts:
            if stretch_end is not None and i > stretch_end:
                yield self.anchored, doc[stretch_start:stretch_end]
                stretch_start = None
            if stretch_start is None:
                stretch_start = i
            stretch_end = min(len(doc), i + self.anchored_length)
        if stretch_start is not None:
            yield self.anchored, doc[stretch_start:stretch_end]

    @functools.cached_property
    def _anchor_finders(self) -> list[PhraseMatcher]:
        """Per attribute, a PhraseMatcher of the one-token anchor words (the fastest way to find
        them: a loop over the tokens took longer than the matching it saved)."""
        finders = []
        for attr, words in self.anchor_words.items():
            finder = PhraseMatcher(self.nlp.vocab, attr=attr if attr != "TEXT" else "ORTH")
            for word in words:
                one_token = Doc(self.nlp.vocab, words=[word], lemmas=[word])
                one_token[0].norm_ = word
                finder.add("anchor", [one_token])
            finders.append(finder)
        return finders

    def may_match(self, text: str, lemma_text: str) -> bool:
        """False only when no rule of this set can match the segment (none of its anchor words
        occurs in the text or among its lemmas): such segments need not be processed again."""
        if self.anchors is None:
            return True
        lower, lemmas_lower = text.lower(), lemma_text.lower()
        if not any(anchor in lower or anchor in lemmas_lower for anchor in self.anchors):
            return False     # quick: not even a substring
        # Every way spaCy could have cut the words: at each non-word character, or only at spaces.
        words = (set(re.findall(r"\w+", lower)) | set(re.findall(r"[\w'’-]+", lower)) | set(lower.split())
                 | {w.strip(".,;:!?()[]{}\"'’“”«»") for w in lower.split()} | set(lemmas_lower.split()))
        return not self.anchors.isdisjoint(words)

    @staticmethod
    def _cancelled(doc: Doc, start: int, rule) -> bool:
        if not rule.unless_near:
            return False
        before = doc[max(0, start - rule.window):start]
        near = set(rule.unless_near)
        return any(t.lemma_ in near or t.lower_ in near for t in before)


# Token attributes a pattern's first token can be anchored on.
ATTRIBUTES = ("LOWER", "LEMMA", "ORTH", "TEXT", "NORM")


def _first_word(pattern: list[dict]) -> tuple[str, set[str]] | None:
    """(attribute, words) when a pattern's first token must be one of these words, else None."""
    first = pattern[0] if pattern else {}
    if "OP" in first or len(first) != 1:
        return None
    (attr, value), = first.items()
    if attr not in ATTRIBUTES:
        return None
    if isinstance(value, str):
        return attr, {value}
    if isinstance(value, dict) and set(value) == {"IN"} and all(isinstance(w, str) for w in value["IN"]):
        return attr, set(value["IN"])
    return None


def _max_length(pattern: list[dict]) -> int | None:
    """The most tokens a pattern can match, or None when it has no bound ("*", "+", "{n,}")."""
    total = 0
    for spec in pattern:
        op = str(spec.get("OP", "1"))
        bounds = re.fullmatch(r"\{(\d*)(,?)(\d*)\}", op)
        if op in ("1", "!", "?"):
            total += 1
        elif bounds and (bounds.group(3) or (bounds.group(1) and not bounds.group(2))):
            total += int(bounds.group(3) or bounds.group(1))
        else:
            return None
    return total


def rule_hits_by_code(hits: list[RuleHit]) -> dict[str, list[RuleHit]]:
    out: dict[str, list[RuleHit]] = {}
    for hit in hits:
        out.setdefault(hit.code_id, []).append(hit)
    return out
