"""How long the codebook's rules take, and what running token patterns from their first word saves.

    python bench/rules_speed.py [--codebook codebook.yaml] [--repeat 6]

Matches the rules on the demo corpus's gold segments (repeated) with `RuleSet.match`, and with
every token pattern run by spaCy's Matcher over whole segments, as before `RuleSet._parts`. Counts
the segments where the two differ (there should be none). Not part of the tests.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from spacy.matcher import Matcher

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.codebook import load_codebook  # noqa: E402
from pipeline.nlp import load_nlp  # noqa: E402
from pipeline.rules import RuleSet  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--codebook", type=Path, default=ROOT / "codebook.yaml")
    parser.add_argument("--gold", type=Path, default=ROOT / "corpus" / "demo" / "gold_codings.jsonl")
    parser.add_argument("--repeat", type=int, default=6)
    args = parser.parse_args()
    nlp = load_nlp()
    rules = RuleSet(load_codebook(args.codebook), nlp)
    texts = [json.loads(line)["text"] for line in args.gold.open(encoding="utf-8") if line.strip()]
    docs = list(nlp.pipe(texts * args.repeat))
    whole = Matcher(nlp.vocab)
    for rule in rules.rules.values():
        for pattern in rule.patterns:
            whole.add(rule.id, [json.loads(pattern)])

    # The same RuleSet with every token pattern in one Matcher over the whole segment.
    before_rules = RuleSet(rules.codebook, nlp)
    before_rules.tokens, before_rules.anchored = whole, Matcher(nlp.vocab)

    def timed(ruleset):
        started = time.perf_counter()
        hits = [ruleset.match(doc) for doc in docs]
        return time.perf_counter() - started, hits

    ours, our_hits = timed(rules)
    before, their_hits = timed(before_rules)
    mismatches = sum(a != b for a, b in zip(our_hits, their_hits))
    patterns = sum(len(rule.patterns) for rule in rules.rules.values())
    print(f"{len(rules.rules)} rules ({patterns} token patterns) on {len(docs)} segments, "
          f"{sum(len(d) for d in docs)} tokens")
    print(f"RuleSet.match, token patterns from their first word: {ours:.2f} s")
    print(f"RuleSet.match, token patterns over whole segments: {before:.2f} s")
    print(f"segments where the two find other rule hits: {mismatches}")


if __name__ == "__main__":
    main()
