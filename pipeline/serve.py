"""`qcode serve`: Datasette on the database with qcode's metadata, canned queries and workbench.

Binds 127.0.0.1 by default. A non-local bind is refused unless researcher logins are configured,
because the workbench can write manual codings; on such a bind, reading needs a login too.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import yaml

from .errors import QcodeError

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def load_users(path: Path | None) -> dict:
    """users.yaml: {users: {name: pbkdf2 hash}} (make one with `qcode hash-password`)."""
    if path is None:
        return {}
    path = Path(path)
    if not path.exists():
        raise QcodeError(f"{path}: no such users file")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    users = data.get("users") or {}
    if not isinstance(users, dict) or not all(isinstance(v, str) and v.startswith("pbkdf2_sha256$") for v in users.values()):
        raise QcodeError(f"{path}: expected 'users: {{name: pbkdf2_sha256$... hash}}' (see qcode hash-password)")
    return users


METADATA_ENV = "QCODE_SERVE_METADATA"    # the temporary metadata file, for the plugin to delete


def datasette_command(db_path: Path, host: str, port: int, users_path: Path | None, metadata_path: Path) -> list[str]:
    from datasette_plugins.metadata import build_metadata

    users_file = str(Path(users_path).resolve()) if users_path else None
    metadata = build_metadata(Path(db_path).stem, users_file, login_to_read=host not in LOCAL_HOSTS)
    metadata_path.write_text(json.dumps(metadata), encoding="utf-8")
    return [sys.executable, "-m", "datasette", "serve", str(db_path), "--host", host, "--port", str(port),
            "--metadata", str(metadata_path), "--setting", "sql_time_limit_ms", "5000",
            "--setting", "facet_time_limit_ms", "500"]


def serve_database(db_path: Path, host: str = "127.0.0.1", port: int = 8001, users_path: Path | None = None) -> None:
    db_path = Path(db_path)
    if not db_path.exists():
        raise QcodeError(f"{db_path}: no such database; build it first: qcode build --db {db_path}")
    users = load_users(users_path)
    if host not in LOCAL_HOSTS and not users:
        raise QcodeError(f"refusing to serve on {host} without researcher logins; pass --users FILE "
                         "(or keep the default --host 127.0.0.1)")
    # The metadata file names the logins file (not its hashes): owner-only, in the system's temporary folder.
    handle, metadata = tempfile.mkstemp(prefix="qcode-serve-", suffix=".json")
    os.close(handle)
    os.chmod(metadata, 0o600)
    command = datasette_command(db_path, host, port, users_path if users else None, Path(metadata))
    print(f"qcode workbench: http://{host}:{port}/-/qcode   (tables: http://{host}:{port}/{db_path.stem})", flush=True)
    # Become the Datasette process, so that stopping `qcode serve` stops the server too.
    # Datasette reads the metadata file before it starts; the plugin's startup hook then deletes it
    # (this process is replaced, so nothing here could delete it on exit).
    os.execve(command[0], command, {**os.environ, "PYTHONUNBUFFERED": "1", METADATA_ENV: metadata})
