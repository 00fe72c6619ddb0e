"""A throwaway PostgreSQL cluster for the tests of the PostgreSQL store.

One cluster serves a whole pytest run: the first test that asks for it starts it (under a file
lock, so the xdist workers share it), every test gets a fresh database of its own, and the
controlling pytest process stops and deletes it when the run ends (``stop_shared_cluster``, from
``pytest_unconfigure``). A cluster left behind by a killed run is stopped by the next run.

PostgreSQL refuses to run as root, and CI runs the tests as root: the server then runs as the
distribution's ``postgres`` account (``runuser``), in a temporary folder handed over to it. Where
no PostgreSQL binaries are found, the tests that need one are skipped and say why.

Roles, as the README's Team setup creates them: ``provcheck_owner`` owns the database and its
schema (creates and upgrades it), ``provcheck_curator`` may read and change rows (``db add``,
``import``, ``remove``), ``provcheck_scanner`` may only read (``scan``, ``serve``, ``export``).
Clients connect over TCP on 127.0.0.1 with passwords (SCRAM); the administrator (superuser
``postgres``) over the cluster's own Unix socket, which only its owner can reach.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

#: Environment variable naming the folder of ``initdb``/``pg_ctl``/``postgres`` to use.
BIN_ENV = "PROVCHECK_PG_BIN"
ROLES = ("provcheck_owner", "provcheck_curator", "provcheck_scanner")
_STATE = "provcheck-postgres.json"
_PREFIX = "provcheck-pg-"


class UnavailableError(Exception):
    """No PostgreSQL server can be started here; the message says why (a test skip reason)."""


def find_bindir() -> Path:
    """The folder holding ``initdb`` and ``pg_ctl``: ``$PROVCHECK_PG_BIN``, the newest Debian
    ``/usr/lib/postgresql/N/bin``, or wherever ``pg_ctl`` is on the PATH."""
    candidates: list[Path] = []
    if os.environ.get(BIN_ENV):
        candidates.append(Path(os.environ[BIN_ENV]))
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates.extend(versions)
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).parent)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    raise UnavailableError(
        "PostgreSQL server binaries not found (install the distribution's postgresql package,"
        f" or set {BIN_ENV} to the folder holding initdb and pg_ctl)"
    )


def _server_user() -> str | None:
    """The account the server runs as: ``postgres`` when we are root (PostgreSQL refuses root),
    else None (run as ourselves)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise UnavailableError(
            "running as root and there is no 'postgres' account to run the server as"
        ) from None
    return "postgres"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class TeamDatabase:
    """One fresh database of the cluster, with a client URL per role."""

    name: str
    host: str
    port: int
    passwords: dict[str, str]

    def url(self, role: str = "provcheck_owner", *, password: bool = True) -> str:
        """``postgresql://ROLE:PASSWORD@127.0.0.1:PORT/NAME`` (without the password if asked)."""
        secret = f":{quote(self.passwords[role], safe='')}" if password else ""
        return f"postgresql://{role}{secret}@{self.host}:{self.port}/{self.name}"

    @property
    def owner(self) -> str:
        return self.url("provcheck_owner")

    @property
    def curator(self) -> str:
        return self.url("provcheck_curator")

    @property
    def scanner(self) -> str:
        return self.url("provcheck_scanner")


@dataclass
class PostgresCluster:
    """A running throwaway cluster: its folder, port and the passwords of the roles."""

    root: Path  # owned by the server's account; holds data/, the socket and the log
    port: int
    bindir: Path
    passwords: dict[str, str]
    run_as: str | None
    start_seconds: float = 0.0

    @property
    def data(self) -> Path:
        return self.root / "data"

    def admin(self, dbname: str = "postgres") -> object:
        """A superuser connection (psycopg, autocommit) over the cluster's Unix socket."""
        import psycopg

        return psycopg.connect(
            host=str(self.root), port=self.port, user="postgres", dbname=dbname, autocommit=True
        )

    def create_database(self, name: str | None = None) -> TeamDatabase:
        """A new empty database owned by ``provcheck_owner``, set up as the README says."""
        name = name or f"t_{secrets.token_hex(6)}"
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" OWNER provcheck_owner')  # type: ignore[attr-defined]
        with self.admin(name) as conn:
            for statement in database_setup(name):
                conn.execute(statement)  # type: ignore[attr-defined]
        return TeamDatabase(name, "127.0.0.1", self.port, dict(self.passwords))

    def drop_database(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[attr-defined]

    def to_json(self) -> dict[str, object]:
        return {
            "root": str(self.root),
            "port": self.port,
            "bindir": str(self.bindir),
            "passwords": self.passwords,
            "run_as": self.run_as,
            "start_seconds": self.start_seconds,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> PostgresCluster:
        return cls(
            Path(str(data["root"])),
            int(data["port"]),  # type: ignore[call-overload]
            Path(str(data["bindir"])),
            dict(data["passwords"]),  # type: ignore[call-overload]
            data["run_as"],  # type: ignore[arg-type]
            float(data["start_seconds"]),  # type: ignore[arg-type]
        )


#: The README's Team setup: the SQL the administrator runs, which the fixture runs too.
README = Path(__file__).resolve().parents[1] / "README.md"
_SQL_MARKER = "<!-- team-setup-sql"


def team_setup_sql(readme: Path = README) -> list[str]:
    """The statements of the README's Team setup SQL block, one per line."""
    text = readme.read_text(encoding="utf-8")
    block = text[text.index(_SQL_MARKER) :]
    block = block[block.index("```sql\n") + len("```sql\n") :]
    block = block[: block.index("```")]
    return [line.strip() for line in block.splitlines() if line.strip()]


def role_setup(passwords: dict[str, str]) -> list[str]:
    """Cluster-wide: the README's statements up to ``CREATE DATABASE``, with real passwords."""
    out = []
    for statement in team_setup_sql():
        if statement.startswith("CREATE DATABASE"):
            break
        role = statement.split()[2]
        out.append(statement.replace("'...'", f"'{passwords[role]}'"))
    return out


def database_setup(name: str) -> list[str]:
    """Per database, run by the administrator in it once: the README's statements after
    ``\\connect``, for a database called ``name``: nobody else may connect; whatever the owner
    creates (provcheck's schema, its tables and sequences) is readable by the scanner and
    readable and writable by the curator."""
    statements = team_setup_sql()
    after = statements[statements.index("\\connect provcheck") + 1 :]
    return [s.replace('"provcheck"', f'"{name}"') for s in after]


def _run(args: list[str], run_as: str | None, **kwargs: object) -> subprocess.CompletedProcess:
    prefix = ["runuser", "-u", run_as, "--"] if run_as else []
    return subprocess.run(  # type: ignore[call-overload]
        [*prefix, *args], check=True, capture_output=True, text=True, **kwargs
    )


def start_cluster() -> PostgresCluster:
    """initdb + pg_ctl start in a new temporary folder, roles created; else ``UnavailableError``."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise UnavailableError(
            "psycopg is not installed (pip install 'provcheck[postgres]')"
        ) from None
    bindir = find_bindir()
    run_as = _server_user()
    began = time.perf_counter()
    # A short path: the server's Unix socket path must fit in 107 bytes.
    root = Path(tempfile.mkdtemp(prefix=_PREFIX, dir="/tmp"))
    if run_as:
        entry = pwd.getpwnam(run_as)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    passwords = {role: secrets.token_urlsafe(18) for role in ROLES}
    cluster = PostgresCluster(root, 0, bindir, passwords, run_as)
    try:
        _run(
            [
                str(bindir / "initdb"),
                "-D",
                str(cluster.data),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ],
            run_as,
        )
        for attempt in range(3):
            cluster.port = _free_port()
            options = (
                f"-k {root} -p {cluster.port} -c listen_addresses=127.0.0.1 -c fsync=off"
                " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            )
            try:
                _run(
                    [
                        str(bindir / "pg_ctl"),
                        "-D",
                        str(cluster.data),
                        "-o",
                        options,
                        "-l",
                        str(root / "server.log"),
                        "-w",
                        "-t",
                        "60",
                        "start",
                    ],
                    run_as,
                )
                break
            except subprocess.CalledProcessError:
                if attempt == 2:
                    raise
        with cluster.admin() as conn:
            for statement in role_setup(passwords):
                conn.execute(statement)  # type: ignore[attr-defined]
    except (subprocess.CalledProcessError, OSError) as exc:
        log = _tail(root / "server.log")
        detail = getattr(exc, "stderr", "") or str(exc)
        stop_cluster(cluster)
        raise UnavailableError(
            f"could not start PostgreSQL: {detail.strip()} {log}".strip()
        ) from None
    cluster.start_seconds = time.perf_counter() - began
    return cluster


def _tail(path: Path) -> str:
    with contextlib.suppress(OSError):
        return path.read_text(errors="replace")[-600:]
    return ""


def stop_cluster(cluster: PostgresCluster) -> None:
    """Stop the server at once (its data is thrown away) and delete its folder."""
    if (cluster.data / "postmaster.pid").exists():
        with contextlib.suppress(subprocess.CalledProcessError, OSError):
            _run(
                [
                    str(cluster.bindir / "pg_ctl"),
                    "-D",
                    str(cluster.data),
                    "-m",
                    "immediate",
                    "stop",
                ],
                cluster.run_as,
                timeout=60,
            )
    shutil.rmtree(cluster.root, ignore_errors=True)


# -- one cluster per pytest run, shared by the xdist workers ---------------------------------------

#: Set by the controlling pytest process (``begin_run``) and inherited by its xdist workers: the
#: folder holding the run's cluster state, and the pid that will stop the cluster.
STATE_ENV = "PROVCHECK_TEST_PG_STATE"
OWNER_ENV = "PROVCHECK_TEST_PG_OWNER"


def begin_run() -> None:
    """In the controlling process, before workers start: where the run's cluster will be noted."""
    if STATE_ENV not in os.environ:
        os.environ[STATE_ENV] = tempfile.mkdtemp(prefix="provcheck-pytest-")
        os.environ[OWNER_ENV] = str(os.getpid())


def end_run() -> None:
    """In the controlling process, at the end: stop the run's cluster if one was started."""
    if os.environ.get(OWNER_ENV) != str(os.getpid()):
        return
    folder = Path(os.environ.pop(STATE_ENV))
    os.environ.pop(OWNER_ENV)
    state = folder / _STATE
    if state.exists():
        data = json.loads(state.read_text())
        if "unavailable" not in data:
            stop_cluster(PostgresCluster.from_json(data))
    shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    with (folder / (_STATE + ".lock")).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def shared_cluster() -> PostgresCluster:
    """The run's cluster, started by whichever process asks first. Raises ``UnavailableError`` (and
    remembers why, so the other workers skip without trying again)."""
    begin_run()  # a process that is not run by pytest's hooks (a script) owns its cluster
    folder = Path(os.environ[STATE_ENV])
    state = folder / _STATE
    with _locked(folder):
        if state.exists():
            data = json.loads(state.read_text())
            if "unavailable" in data:
                raise UnavailableError(str(data["unavailable"]))
            return PostgresCluster.from_json(data)
        _stop_orphans()
        try:
            cluster = start_cluster()
        except UnavailableError as exc:
            state.write_text(json.dumps({"unavailable": str(exc)}))
            raise
        # Orphan detection: the owner's pid beside the cluster, outside pytest's temp folders.
        (cluster.root / "owner.json").write_text(json.dumps({"pid": int(os.environ[OWNER_ENV])}))
        state.write_text(json.dumps(cluster.to_json()))
        return cluster


def _stop_orphans() -> None:
    """Stop clusters whose pytest run was killed before it could stop them."""
    for root in Path("/tmp").glob(_PREFIX + "*"):
        try:
            pid = int(json.loads((root / "owner.json").read_text())["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        try:
            os.kill(pid, 0)
            continue  # still running: not ours to stop
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        stop_cluster(PostgresCluster(root, 0, find_bindir(), {}, _server_user()))
