"""qcode benchmarks: build speed per stage, peak memory, anonymiser speed, and Datasette latency.

    python bench/run.py [--scales 1 10 100] [--requests 20]

Prints a table and writes bench/out/results.json. Not part of the test run. Scale 1 is the demo
corpus; scale N recombines its paragraphs into 33×N documents with fresh identifiers.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"


def build_in_subprocess(corpus: Path, db: Path, codebook: Path = ROOT / "codebook.yaml") -> dict:
    """Run the build in a child process so its peak memory is measured alone."""
    code = (
        "import json, resource, sys, time\n"
        "from pipeline.build import build\n"
        "t = time.perf_counter()\n"
        f"r = build({str(corpus)!r}, {str(db)!r}, {str(codebook)!r})\n"
        "print(json.dumps({'seconds': time.perf_counter() - t, 'timings': r.timings, 'counts': r.counts,"
        " 'peak_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))\n"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def anonymiser_speed(corpus: Path) -> dict:
    code = (
        "import json, time\n"
        "from pathlib import Path\n"
        "t = time.perf_counter()\n"
        "from pipeline.anonymise import load_lists, anonymise_corpus, PseudonymKey, _deduce\n"
        "lists = load_lists(); _deduce()\n"
        "anonymise_corpus({'warm': 'Meneer Haddad woont in Tilburg.'}, lists, PseudonymKey())\n"
        "startup = time.perf_counter() - t\n"
        "from pipeline.ingest import list_corpus_files, read_document\n"
        f"texts = {{p.name: read_document(p).text for p in list_corpus_files(Path({str(corpus)!r}))}}\n"
        "words = sum(len(t.split()) for t in texts.values())\n"
        "t = time.perf_counter(); anonymise_corpus(texts, lists, PseudonymKey()); seconds = time.perf_counter() - t\n"
        "print(json.dumps({'startup_s': startup, 'words': words, 'words_per_s': words / seconds}))\n"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def page_latency(db: Path, requests: int) -> dict:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "serve", "--db", str(db), "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(base + "/-/qcode", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.3)
        segment = httpx.get(f"{base}/{db.stem}/segments.json?_shape=array&_size=1").json()[0]
        pages = {
            "search": "/-/qcode/search?q=taalles",
            "datasette_fts": f"/{db.stem}/segments.json?_search=wachten&_shape=array",
            "code_quotes": f"/{db.stem}/quotes_for_code.json?code=taal.z_route&role=&municipality_type=&_shape=array",
            "finding": "/-/qcode/finding/F07",
            "quote": f"/-/qcode/quote/{segment['id']}",
            "document": f"/-/qcode/document/{segment['document_id']}",
            "codebook": "/-/qcode/codebook",
            "matrix_role": "/-/qcode/matrix/role",
            "cooccurrence": "/-/qcode/matrix/cooccurrence",
            "findings": "/-/qcode/findings",
        }
        result = {}
        with httpx.Client(timeout=30) as client:
            for name, path in pages.items():
                client.get(base + path)   # warm
                times = []
                for _ in range(requests):
                    start = time.perf_counter()
                    response = client.get(base + path)
                    times.append((time.perf_counter() - start) * 1000)
                    assert response.status_code == 200, (path, response.status_code)
                times.sort()
                result[name] = {"p50_ms": statistics.median(times), "p95_ms": times[int(0.95 * (len(times) - 1))]}
        return result
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="qcode benchmarks")
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10, 100],
                        help="corpus sizes as multiples of the demo corpus (default: 1 10 100)")
    parser.add_argument("--requests", type=int, default=20, help="requests per page for the latency figures")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    results = {}
    for scale in args.scales:
        if scale == 1:
            corpus = ROOT / "corpus" / "demo"
        else:
            corpus = OUT / f"corpus-{scale}x"
            if not corpus.exists():
                subprocess.run([sys.executable, str(ROOT / "bench" / "scale_corpus.py"), "--factor", str(scale),
                                "--output", str(corpus)], check=True)
            # findings.yaml is the corpus's (a corpus scaled before it moved there lacks it)
            shutil.copy(ROOT / "corpus" / "demo" / "findings.yaml", corpus / "findings.yaml")
        db = OUT / f"bench-{scale}x.db"
        for stale in OUT.glob(f"bench-{scale}x.*"):
            stale.unlink()
        shutil.rmtree(OUT / "keys", ignore_errors=True)
        build = build_in_subprocess(corpus, db)
        words = build["counts"]["words"]
        print(f"scale {scale}x built: {words} words in {build['seconds']:.1f} s, timings {build['timings']}, "
              f"peak {build['peak_mb']:.0f} MB", flush=True)
        entry = {
            "documents": build["counts"]["documents"], "words": words, "build_s": round(build["seconds"], 1),
            "end_to_end_words_per_s": round(words / build["seconds"]),
            "stage_words_per_s": {k: round(words / v) if v else None for k, v in build["timings"].items()},
            "peak_memory_mb": round(build["peak_mb"]),
            "anonymiser": anonymiser_speed(corpus),
            "latency": page_latency(db, args.requests),
        }
        entry.update(rebuilds(corpus, db, build))
        results[f"{scale}x"] = entry
        print_table(scale, entry)
    (OUT / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(f"\nwrote {OUT / 'results.json'}")


def rebuilds(corpus: Path, db: Path, full: dict) -> dict:
    """Rebuild with nothing changed, then after a one-code rule edit (a phrase added to
    taal.lesaanbod): seconds, and the coding stage as a share of the full build's coding stage.
    The phrase occurs in about 1% of the demo's segments, so those segments are matched and
    assigned again, as after a real edit (a phrase that occurs nowhere would measure less). On
    the demo their codes stay the same: other lesson words had given them taal.lesaanbod already."""
    unchanged = build_in_subprocess(corpus, db)
    data = yaml.safe_load((ROOT / "codebook.yaml").read_text(encoding="utf-8"))
    code = next(c for c in data["codes"] if c["id"] == "taal.lesaanbod")
    code["rules"][0]["phrases"].append("avondles")
    edited = OUT / "codebook-one-rule-edited.yaml"
    edited.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    after_edit = build_in_subprocess(corpus, db, edited)
    return {
        "rebuild_unchanged_s": round(unchanged["seconds"], 1),
        "rebuild_after_rule_edit_s": round(after_edit["seconds"], 1),
        "recode_after_rule_edit_ratio": round(after_edit["timings"]["code"] / full["timings"]["code"], 3),
        "recode_detail": {k: after_edit["counts"].get(k) for k in ("segments_new", "rules_rematched", "segments_rematched", "segments")},
    }


def print_table(scale: int, entry: dict) -> None:
    print(f"\n== scale {scale}x: {entry['documents']} documents, {entry['words']} words ==")
    print(f"full build {entry['build_s']} s, end to end {entry['end_to_end_words_per_s']} words/s, "
          f"peak memory {entry['peak_memory_mb']} MB")
    print("words/s per stage: " + ", ".join(f"{k} {v}" for k, v in entry["stage_words_per_s"].items()))
    a = entry["anonymiser"]
    print(f"anonymiser: {a['words_per_s']:.0f} words/s after start-up ({a['startup_s']:.1f} s start-up)")
    print(f"rebuild, nothing changed: {entry['rebuild_unchanged_s']} s; after a one-code rule edit: "
          f"{entry['rebuild_after_rule_edit_s']} s, coding {entry['recode_after_rule_edit_ratio']:.1%} of the full "
          f"coding stage ({entry['recode_detail']})")
    print(f"{'page':<16}{'p50 ms':>9}{'p95 ms':>9}")
    for name, value in entry["latency"].items():
        print(f"{name:<16}{value['p50_ms']:>9.1f}{value['p95_ms']:>9.1f}")


if __name__ == "__main__":
    main()
