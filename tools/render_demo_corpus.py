"""Render the fictional demo corpus from its YAML sources (tools/demo_corpus_src/*.yaml).

Writes corpus/demo/: the documents in their formats (.docx, .pdf, .txt, cp1252 .txt, .md, .vtt),
manifest.yaml, codings.csv (the human codings), planted_identifiers.txt and README.md.

    python tools/render_demo_corpus.py

Needs python-docx and fpdf2 (pip install -e '.[test]'). Run it only when the sources change; the
rendered corpus is committed so that a fresh clone builds without this step.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "tools" / "demo_corpus_src"
OUT = ROOT / "corpus" / "demo"
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")

# Fictional typing of the municipalities (the names are real towns; everything said is invented).
MUNICIPALITIES = {
    "Leiden": {"size_class": "G40", "region": "west", "urbanisation": "zeer sterk stedelijk", "type": "G40-gemeente"},
    "Deventer": {"size_class": "100.000-150.000", "region": "oost", "urbanisation": "sterk stedelijk", "type": "middelgrote stad"},
    "Echt-Susteren": {"size_class": "20.000-50.000", "region": "zuid", "urbanisation": "weinig stedelijk", "type": "uitgestrekte plattelandsgemeente"},
    "Emmen": {"size_class": "100.000-150.000", "region": "noord", "urbanisation": "matig stedelijk", "type": "uitgestrekte G40-gemeente"},
    "Tilburg": {"size_class": "G40", "region": "zuid", "urbanisation": "zeer sterk stedelijk", "type": "G40-gemeente"},
    "Terneuzen": {"size_class": "50.000-100.000", "region": "zuid", "urbanisation": "matig stedelijk", "type": "middelgrote gemeente"},
    "Heerenveen": {"size_class": "50.000-100.000", "region": "noord", "urbanisation": "matig stedelijk", "type": "middelgrote gemeente"},
    "Zutphen": {"size_class": "20.000-50.000", "region": "oost", "urbanisation": "sterk stedelijk", "type": "kleine stad"},
    # The second batch of documents (written by other authors, see corpus/demo/README.md).
    "Apeldoorn": {"size_class": "G40", "region": "oost", "urbanisation": "matig stedelijk", "type": "uitgestrekte G40-gemeente"},
    "Gouda": {"size_class": "50.000-100.000", "region": "west", "urbanisation": "sterk stedelijk", "type": "middelgrote gemeente"},
    "Venlo": {"size_class": "100.000-150.000", "region": "zuid", "urbanisation": "sterk stedelijk", "type": "middelgrote stad"},
    "Assen": {"size_class": "50.000-100.000", "region": "noord", "urbanisation": "matig stedelijk", "type": "middelgrote gemeente"},
    "Hoorn": {"size_class": "50.000-100.000", "region": "west", "urbanisation": "sterk stedelijk", "type": "middelgrote gemeente"},
    "Hardenberg": {"size_class": "50.000-100.000", "region": "oost", "urbanisation": "weinig stedelijk", "type": "uitgestrekte plattelandsgemeente"},
    "Schiedam": {"size_class": "50.000-100.000", "region": "west", "urbanisation": "sterk stedelijk", "type": "middelgrote stad"},
    "Roermond": {"size_class": "50.000-100.000", "region": "zuid", "urbanisation": "matig stedelijk", "type": "middelgrote gemeente"},
    "Den Helder": {"size_class": "50.000-100.000", "region": "west", "urbanisation": "matig stedelijk", "type": "middelgrote gemeente"},
}
KIND_PREFIX = {"interview": "interview", "group_interview": "groepsgesprek", "focus_group": "focusgroep", "minutes": "notulen"}
FORMAT_SUFFIX = {"docx": ".docx", "pdf": ".pdf", "txt": ".txt", "txt-cp1252": ".txt", "md": ".md", "vtt": ".vtt"}


def paragraphs_of(source: dict) -> list[tuple[str | None, str | None, str]]:
    """(heading, speaker, text) per turn."""
    return [(t.get("heading"), t.get("speaker"), " ".join(t["text"].split())) for t in source["turns"]]


def line_of(speaker: str | None, text: str) -> str:
    return f"{speaker}: {text}" if speaker else text


def header_lines(source: dict) -> list[str]:
    return [source["title"]]


def write_docx(source: dict, path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading(source["title"], level=1)
    for heading, speaker, text in paragraphs_of(source):
        if heading:
            document.add_heading(heading, level=2)
        paragraph = document.add_paragraph()
        if speaker:
            paragraph.add_run(f"{speaker}: ").bold = True
        paragraph.add_run(text)
    document.save(path)


def write_pdf(source: dict, path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_margins(20, 20, 20)
    pdf.add_font("DejaVu", "", str(FONT))
    pdf.add_page()
    pdf.set_font("DejaVu", size=14)
    pdf.multi_cell(0, 8, source["title"], new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("DejaVu", size=10.5)
    for heading, speaker, text in paragraphs_of(source):
        if heading:
            pdf.set_font("DejaVu", size=12)
            pdf.multi_cell(0, 7, heading, new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("DejaVu", size=10.5)
        pdf.multi_cell(0, 5.5, line_of(speaker, text), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    pdf.output(str(path))


def write_text(source: dict, path: Path, encoding: str = "utf-8") -> None:
    lines = [source["title"], ""]
    for heading, speaker, text in paragraphs_of(source):
        if heading:
            lines += [heading, ""]
        lines += [line_of(speaker, text), ""]
    path.write_bytes("\r\n".join(lines).encode(encoding) if encoding != "utf-8" else "\n".join(lines).encode())


def write_markdown(source: dict, path: Path) -> None:
    lines = [f"# {source['title']}", ""]
    for heading, speaker, text in paragraphs_of(source):
        if heading:
            lines += [f"## {heading}", ""]
        lines += [(f"**{speaker}:** {text}" if speaker else text), ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def write_vtt(source: dict, path: Path) -> None:
    """A speech-to-text export: short cues with voice tags, about 2.5 words per second."""
    lines, seconds = ["WEBVTT", ""], 3.0
    for _, speaker, text in paragraphs_of(source):
        words = text.split()
        for i in range(0, len(words), 14):
            chunk = " ".join(words[i:i + 14])
            duration = max(1.5, len(chunk.split()) / 2.5)
            lines += [f"{_ts(seconds)} --> {_ts(seconds + duration)}", f"<v {speaker}>{chunk}" if speaker else chunk, ""]
            seconds += duration + 0.4
    path.write_text("\n".join(lines), encoding="utf-8")


def _ts(seconds: float) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{int(hours):02d}:{int(minutes):02d}:{secs:06.3f}"


WRITERS = {"docx": write_docx, "pdf": write_pdf, "txt": write_text, "md": write_markdown, "vtt": write_vtt,
           "txt-cp1252": lambda s, p: write_text(s, p, "cp1252")}


# The second batch's human codings are held out of the build: a folder starting with "_" is not
# read, so the machine codes that batch, as it codes the documents nobody coded in a real study,
# and its codings are there to score it (bench/author_batches.py; gold_codings.jsonl).
HELD_OUT = OUT / "_held_out" / "codings.csv"


def other_coders_rows() -> list[dict]:
    """The codings.csv rows of coders other than the authors (onderzoeker_b): coded afterwards, not
    in the sources, so a re-render keeps them as they are."""
    rows = []
    for path in (OUT / "codings.csv", HELD_OUT):
        if path.exists():
            with open(path, newline="", encoding="utf-8") as handle:
                rows += [row for row in csv.DictReader(handle) if row["coder"] != "onderzoeker_a"]
    return rows


def write_codings(rows: list[dict], held_out_files: set[str]) -> None:
    """The first batch's codings to codings.csv, the second batch's to _held_out/codings.csv."""
    HELD_OUT.parent.mkdir(exist_ok=True)
    for path, wanted in ((OUT / "codings.csv", False), (HELD_OUT, True)):
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=["document", "speaker", "quote", "codes", "coder"])
            writer.writeheader()
            writer.writerows(row for row in rows if (row["document"] in held_out_files) == wanted)


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    kept_rows = other_coders_rows()
    for old in OUT.iterdir():
        if old.suffix in {".docx", ".pdf", ".txt", ".md", ".vtt", ".csv", ".yaml"} and old.name not in ("anonymise.yaml", "README.md"):
            old.unlink()
    sources = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(SOURCES.glob("*.yaml"))]
    counters: dict[str, int] = {}
    documents, codings, identifiers = [], [], []
    used = set()
    # Documents of the first batch are numbered by date; later ones carry their document_id, so that
    # adding documents does not renumber (and orphan the workbench codings of) the earlier ones.
    ordered = sorted(sources, key=lambda s: ("document_id" in s, s["date"], s["id"]))
    for source in ordered:
        prefix = KIND_PREFIX[source["kind"]]
        if "document_id" not in source:
            counters[prefix] = counters.get(prefix, 0) + 1
        file_name = source["id"] + FORMAT_SUFFIX[source["format"]]
        WRITERS[source["format"]](source, OUT / file_name)
        documents.append({
            "file": file_name,
            "id": source.get("document_id") or f"{prefix}-{counters[prefix]:02d}",
            "title": source["title"],
            "kind": source["kind"],
            "date": source["date"],
            "municipality": source.get("municipality"),
            "language": source.get("language"),
            "interpreter": bool(source.get("interpreter")),
            "participants": [p for p in source.get("participants") or [] if p.get("speaker")],
        })
        for _, speaker, text in paragraphs_of(source):
            codes = [c for c in dict.fromkeys(next(t for t in source["turns"] if " ".join(t["text"].split()) == text).get("codes") or [])]
            codings.append({"document": file_name, "speaker": speaker or "", "quote": text[:80],
                             "codes": ";".join(codes), "coder": "onderzoeker_a"})
        for item in source.get("identifiers") or []:
            if item["text"] not in used:
                used.add(item["text"])
                identifiers.append(item["text"])
    manifest = {
        "municipalities": {name: attrs for name, attrs in MUNICIPALITIES.items()},
        "documents": documents,
    }
    header = ("# Manifest of the fictional qcode demo corpus. Everything in it is invented (see README.md).\n"
              "# Per document: file, id (non-identifying), kind, date, municipality (a real town name that\n"
              "# qcode replaces by a pseudonym), language, interpreter, participants with role categories.\n")
    (OUT / "manifest.yaml").write_text(header + yaml.safe_dump(manifest, allow_unicode=True, sort_keys=False, width=100), encoding="utf-8")
    write_codings(codings + kept_rows, {d["file"] for d, source in zip(documents, ordered) if "document_id" in source})
    (OUT / "planted_identifiers.txt").write_text("\n".join(identifiers) + "\n", encoding="utf-8")
    words = sum(len(t.split()) for s in sources for _, _, t in paragraphs_of(s))
    print(f"{len(documents)} documents, {words} words, {len(codings)} coded paragraphs, {len(identifiers)} identifiers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
