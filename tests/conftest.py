"""Shared fixtures: a real demo database built once per session, and a real Datasette server."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEMO_CORPUS = ROOT / "corpus" / "demo"
CODEBOOK = ROOT / "codebook.yaml"
ARTIFACTS = ROOT / "test-artifacts"
# Debian's chromium, driven by Playwright (no browser download): the browser tests' one browser.
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def demo_workspace(tmp_path_factory) -> Path:
    """A copy of the demo corpus and codebook in a temporary project folder (db/ and keys/ inside)."""
    root = tmp_path_factory.mktemp("project")
    shutil.copytree(DEMO_CORPUS, root / "corpus" / "demo")
    shutil.copy(CODEBOOK, root / "codebook.yaml")
    (root / "db").mkdir()
    return root


@pytest.fixture(scope="session")
def demo_db(demo_workspace) -> Path:
    """The demo database, built with the library call the CLI uses."""
    from pipeline.build import build

    db_path = demo_workspace / "db" / "demo.db"
    build(demo_workspace / "corpus" / "demo", db_path, demo_workspace / "codebook.yaml")
    return db_path


def whole_words_in(terms, haystack: str | bytes) -> list[str]:
    """The terms that occur in `haystack` as whole words ("Voorst" is not in "Voorstel"). A plain
    substring test first: it is fast enough for every term over a whole database file, where a
    regular expression per term took minutes."""
    as_bytes = isinstance(haystack, bytes)
    found = []
    for term in terms:
        needle = term.encode() if as_bytes else term
        if needle in haystack:
            pattern = re.escape(needle)
            if re.search((rb"(?<!\w)" + pattern + rb"(?!\w)") if as_bytes else (r"(?<!\w)" + pattern + r"(?!\w)"), haystack):
                found.append(term)
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def users_file(demo_workspace) -> Path:
    from datasette_plugins.workbench import hash_password

    path = demo_workspace / "keys" / "users.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump({"users": {"tester": hash_password("geheim")}}), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def server(demo_db, users_file):
    """`qcode serve` as a real server process on a free port; yields its base URL."""
    yield from start_server(demo_db, users_file)


def start_server(db_path, users_file, host: str = "127.0.0.1"):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "serve", "--db", str(db_path), "--port", str(port),
         "--users", str(users_file), "--host", host],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://{host}:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(base + "/-/qcode/login", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        process.kill()
        raise RuntimeError("qcode serve did not start: " + process.stdout.read().decode()[-2000:])
    yield base
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
    process.stdout.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    yield page
    context.close()
