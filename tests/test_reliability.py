"""Nothing lost: builds are atomic, a killed build leaves the previous database intact with every
manual coding, and a second build on the same database stops with a clear message."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from datasette_plugins import workbench
from pipeline.cli import cli


@pytest.fixture
def workspace(demo_db, tmp_path):
    """A copy of the built demo database with one workbench decision in it."""
    db = tmp_path / "db" / "demo.db"
    db.parent.mkdir()
    shutil.copy(demo_db, db)
    shutil.copytree(demo_db.parent.parent / "keys", tmp_path / "keys")
    conn = sqlite3.connect(db)
    segment_id, code_id = conn.execute("select segment_id, code_id from codings limit 1").fetchone()
    workbench.record_decision(conn, segment_id, code_id, "reject", "crashtester")
    conn.close()
    return db, demo_db.parent.parent / "corpus" / "demo", demo_db.parent.parent / "codebook.yaml"


def manual_rows(db) -> set:
    conn = sqlite3.connect(db)
    rows = set(conn.execute("select id, segment_id, code_id, coder, decision from manual_codings"))
    conn.close()
    return rows


def kill_when(process, db, moment: str) -> None:
    """SIGKILL the build at a moment: seconds after start, or once it writes its new file."""
    start = time.monotonic()
    while process.poll() is None and time.monotonic() - start < 120:
        if list(db.parent.glob(db.name + ".tmp-*")) if moment == "writing" else time.monotonic() - start >= float(moment):
            break
        time.sleep(0.01)
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    process.wait()


# --full: every stage runs (no cache), so the build is still going at each moment.
@pytest.mark.parametrize("moment", ["1", "4", "8", "writing"])
def test_killed_build_leaves_previous_database_intact(workspace, moment):
    db, corpus, codebook = workspace
    before = manual_rows(db)
    command = [sys.executable, "-m", "pipeline.cli", "build", "--corpus", str(corpus), "--db", str(db),
               "--codebook", str(codebook), "--quiet", "--full"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kill_when(process, db, moment)
    assert process.returncode == -signal.SIGKILL       # killed mid-build, not finished
    conn = sqlite3.connect(db)
    assert conn.execute("pragma integrity_check").fetchone() == ("ok",)
    conn.close()
    after = manual_rows(db)
    assert before <= after                       # every manual coding is still there
    assert any(row[3] == "crashtester" for row in after)
    # The next build clears what the killed one left behind and keeps every decision.
    assert subprocess.run(command[:-1], capture_output=True).returncode == 0
    assert not list(db.parent.glob(db.name + ".tmp-*"))
    assert before <= manual_rows(db)


def test_second_build_on_same_database_stops(workspace):
    db, corpus, codebook = workspace
    with open(str(db) + ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = CliRunner().invoke(cli, ["build", "--corpus", str(corpus), "--db", str(db), "--codebook", str(codebook), "--quiet"])
    assert result.exit_code == 1
    assert f"another qcode build is running on {db}; wait for it to finish" in result.output


def test_rebuild_keeps_workbench_decisions_and_records_runs(workspace):
    db, corpus, codebook = workspace
    from pipeline.build import build

    before = manual_rows(db)
    runs_before = sqlite3.connect(db).execute("select count(*) from runs").fetchone()[0]
    build(corpus, db, codebook)
    assert before <= manual_rows(db)
    conn = sqlite3.connect(db)
    assert conn.execute("select count(*) from runs").fetchone()[0] == runs_before + 1
    row = conn.execute("select codebook_hash, model_version, corpus_hash, counts, timings from runs order by id desc").fetchone()
    assert all(row)
