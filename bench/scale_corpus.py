"""Scale the demo corpus: recombine its paragraphs into new documents with freshly planted
identifiers (new names, places, phones), so the anonymiser works as hard as on real text.

    python bench/scale_corpus.py --factor 10 --output bench/out/corpus-10x
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "tools" / "demo_corpus_src"
DEMO = ROOT / "corpus" / "demo"
NAMES = ROOT / "pipeline" / "data" / "names"
PLACES = ["Assen", "Zwolle", "Venlo", "Helmond", "Almelo", "Hoorn", "Gouda", "Roermond", "Kampen", "Goes", "Weert",
          "Oss", "Ede", "Hengelo", "Doetinchem", "Harderwijk", "Meppel", "Sneek", "Vlissingen", "Tiel"]


def load_paragraphs() -> list[tuple[str | None, str, list[dict]]]:
    out = []
    for path in sorted(SOURCES.glob("*.yaml")):
        source = yaml.safe_load(path.read_text(encoding="utf-8"))
        for turn in source["turns"]:
            out.append((turn.get("speaker"), " ".join(turn["text"].split()), source.get("identifiers") or []))
    return out


def fresh(label: str, rng: random.Random, first: list[str], last: list[str]) -> str:
    if label == "PERSON":
        return f"{rng.choice(first)} {rng.choice(last)}"
    if label == "MUNICIPALITY_OR_TOWN":
        return rng.choice(PLACES)
    if label == "PHONE":
        return "06-" + "".join(str(rng.randint(0, 9)) for _ in range(8))
    if label == "EMAIL":
        return f"{rng.choice(last).lower()}@voorbeeld.nl"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--factor", type=int, default=10)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    first = [line.strip() for line in (NAMES / "first_names_arabic.txt").read_text(encoding="utf-8").splitlines() if line.strip()]
    last = [line.strip() for line in (NAMES / "names_turkish.txt").read_text(encoding="utf-8").splitlines() if line.strip()]
    paragraphs = load_paragraphs()
    args.output.mkdir(parents=True, exist_ok=True)
    for number in range(33 * args.factor):
        chosen = rng.sample(paragraphs, 20)
        lines = []
        for speaker, text, identifiers in chosen:
            for item in sorted(identifiers, key=lambda i: -len(i["text"])):
                replacement = fresh(item["label"], rng, first, last)
                if replacement and item["text"] in text:
                    text = re.sub(r"(?<!\w)" + re.escape(item["text"]) + r"(?!\w)", replacement, text)
            lines.append(f"{speaker}: {text}" if speaker else text)
        (args.output / f"doc-{number:05d}.txt").write_text("\n\n".join(lines) + "\n", encoding="utf-8")
    # The study's findings, so that the finding pages have something to show (as for the demo).
    shutil.copy(DEMO / "findings.yaml", args.output / "findings.yaml")
    print(f"wrote {33 * args.factor} documents to {args.output}")


if __name__ == "__main__":
    main()
