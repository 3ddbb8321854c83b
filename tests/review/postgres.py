"""A throwaway PostgreSQL server for the test session: initdb into a temporary folder, a free loopback port.

PostgreSQL refuses to run as root, so under root the server runs as the `postgres` system user.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg

from tests.servers import free_port

MISSING = (
    "PostgreSQL server binaries (initdb, pg_ctl) were not found in /usr/lib/postgresql/*/bin or on PATH. "
    "The transcript store tests run on SQLite AND PostgreSQL and must not skip one: install the Debian "
    "package 'postgresql' (apt-get install postgresql) and run the tests again."
)


def find_binaries() -> Path | None:
    """The bin folder of the newest installed PostgreSQL server, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    return None


class ThrowawayPostgres:
    def __init__(self, binaries: Path):
        self.bin = binaries
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="review-pg-"))
        self.data = self.root / "data"
        self._user = self._run_as()
        self._names = itertools.count(1)

    def _run_as(self) -> str | None:
        if os.geteuid() != 0:
            return None
        for name in ("postgres", "nobody"):
            try:
                entry = pwd.getpwnam(name)
            except KeyError:
                continue
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            return name
        raise RuntimeError("running as root and there is no 'postgres' or 'nobody' user to run PostgreSQL as")

    def _command(self, *args: str) -> list[str]:
        return ["runuser", "-u", self._user, "--", *args] if self._user else list(args)

    def start(self) -> None:
        subprocess.run(
            self._command(str(self.bin / "initdb"), "-D", str(self.data), "-U", "hotline", "-A", "trust",
                          "-E", "UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions"),
            check=True, capture_output=True, text=True,
        )
        self.resume()

    def resume(self) -> None:
        """Start the server (again, after `halt`): same port, same data."""
        # Durability is pointless for a throwaway server; these make it start and commit fast.
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        subprocess.run(
            self._command(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"),
                          "-o", options, "-w", "-t", "60", "start"),
            check=True, capture_output=True, text=True,
        )

    def is_running(self) -> bool:
        done = subprocess.run(self._command(str(self.bin / "pg_ctl"), "-D", str(self.data), "status"),
                              capture_output=True, check=False)
        return done.returncode == 0

    def halt(self) -> None:
        """A database outage: the server stops (its connections are cut), its data stays for `resume`."""
        subprocess.run(self._command(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"),
                       check=True, capture_output=True, text=True)

    def log_tail(self) -> str:
        log = self.root / "server.log"
        return log.read_text(errors="replace")[-2000:] if log.exists() else ""

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://hotline@127.0.0.1:{self.port}/{database}"

    def empty_database_url(self) -> str:
        """A URL whose connections see an empty database, so no test sees another's rows.

        It is a new schema in one shared database, made the connections' search_path: CREATE DATABASE
        takes half a second, CREATE SCHEMA a millisecond, and for unqualified table names they are the same.
        """
        schema = f"test_{next(self._names)}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=hotline dbname=postgres",
                             autocommit=True) as connection:
            connection.execute(f'CREATE SCHEMA "{schema}"')
        return f"{self.url('postgres')}?options=-csearch_path%3D{schema}"

    def stop(self) -> None:
        subprocess.run(self._command(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"),
                       check=False, capture_output=True, text=True)  # already stopped is fine
        shutil.rmtree(self.root, ignore_errors=True)
