"""Careful clients against a multi-process server while it fails under them.

A throwaway PostgreSQL cluster of the test's own (initdb and pg_ctl into a temporary folder, on
a free port; never the shared one), the real server (gunicorn, three worker processes,
production settings: DEBUG off), a Celery worker, and a mail server that cannot be reached.
Clients record exchanges and decide them through the API (the other member confirms, the broker
approves or declines, some approved ones are reversed) while web workers are killed in the
middle of requests and the database crashes and recovers, twice. Every client retries each
request with the same Idempotency-Key and body until it gets an answer, as a careful
integrator's client does.

Then:
- every request got its expected answer (201 recorded, 200 decided), never a 500: a request
  that was applied but whose answer was lost got its original answer when retried;
- every applied request, sent again after the faults, answers as it first did;
- no key has two journals (or two decisions), and nothing answered 2xx is lost: each exchange
  is in the state its last answered decision left it, and the ledger checks clean;
- the unreachable mail server changed no answer: the worker is still retrying the emails.

Run by CI as its own step (``make faults``, marker ``faults``); about a minute.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

pytestmark = pytest.mark.faults

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 6
# Exchanges each client records and takes through its decisions: at least MIN_CHAINS, and on
# until the faults have all happened; at most MAX_CHAINS (a member may record 30 an hour).
MIN_CHAINS, MAX_CHAINS = 6, 25
# The database crashes this many seconds in; web workers die until the last crash is this far
# behind.
CRASHES = (3.0, 9.0)
CALM_AFTER = 3.0
WEB_WORKERS = 3
STARTUP_SECONDS = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL's tools refuse to run as root: run them as the postgres user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


class Cluster:
    """A PostgreSQL cluster in ``folder``, on ``port``, that the test may crash at will."""

    def __init__(self, folder: Path) -> None:
        self.data = folder / "pgdata"
        self.data.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.data, "postgres")
        self.port = _free_port()
        subprocess.run(
            _as_postgres(
                ["initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync"]
            ),
            check=True,
            capture_output=True,
        )
        self.start()
        subprocess.run(
            ["createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "timebank"],
            check=True,
        )
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/timebank"

    def _ctl(self, *arguments: str) -> None:
        subprocess.run(
            _as_postgres(["pg_ctl", "-D", str(self.data), *arguments]),
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c max_connections=60"
        )
        self._ctl("-l", str(self.data / "server.log"), "-o", options, "-w", "start")

    def crash_and_recover(self, down_for: float) -> None:
        """Stop at once, as a crash does (no checkpoint: the restart replays the WAL)."""
        self._ctl("-m", "immediate", "stop")
        time.sleep(down_for)
        self.start()

    def stop(self) -> None:
        self._ctl("-m", "fast", "stop")

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(self.url.replace("postgres://", "postgresql://")) as conn:
            return conn.execute(sql, params).fetchall()


@dataclass
class Request:
    """One logical request: a client sends it until it gets an answer, always with the same
    key and body."""

    name: str
    method: str
    path: str
    token: str
    body: dict[str, Any]
    expect: int
    key: str = field(default_factory=lambda: uuid.uuid4().hex)
    answer: int | None = None
    answer_body: Any = None
    attempts: int = 0
    lost: int = 0  # attempts that got no answer (a killed worker) or 503 (the database down)


@dataclass
class Run:
    requests: list[Request] = field(default_factory=list)
    chains: dict[int, int] = field(default_factory=dict)  # client -> chains it ran
    faults_done: threading.Event = field(default_factory=threading.Event)
    server_errors: list[tuple[str, int, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Server:
    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open(folder / "gunicorn.log", "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "timebank.wsgi",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(WEB_WORKERS),
                # Workers fork from a loaded master, so a killed one is back at once.
                "--preload",
                "--timeout",
                "30",
                "--graceful-timeout",
                "5",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.base}/health/", timeout=2, headers=PROXY).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise AssertionError("gunicorn did not start")

    def workers(self) -> list[int]:
        """The worker processes' ids: the master's children."""
        children = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == self.process.pid:
                    children.append(int(entry.name))
        return children

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


# As the TLS proxy in front of production says: the request came in over HTTPS.
PROXY = {"X-Forwarded-Proto": "https"}
# No answer yet: try again, with the same key and body.
RETRY_STATUSES = {502, 503, 504}


def send(server: Server, request: Request, run: Run) -> tuple[int, Any]:
    """One attempt after another until the server answers (anything but a lost connection or
    "unavailable, retry"). Returns the status and body of the answer."""
    headers = {
        **PROXY,
        "Authorization": f"Token {request.token}",
        "Idempotency-Key": request.key,
    }
    while True:
        request.attempts += 1
        try:
            response = requests.request(
                request.method,
                server.base + request.path,
                json=request.body,
                headers=headers,
                timeout=20,
            )
        except requests.RequestException:
            request.lost += 1
            time.sleep(random.uniform(0.05, 0.3))
            continue
        if response.status_code in RETRY_STATUSES:
            request.lost += 1
            time.sleep(random.uniform(0.1, 0.5))
            continue
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = response.text  # not the JSON the schema promises: the checks below say so
        if response.status_code >= 500 or not isinstance(body, dict | list | None):
            with run.lock:
                run.server_errors.append((request.name, response.status_code, response.text))
        return response.status_code, body


def _decision(
    chain: str, exchange: int, what: str, token: str, body: dict | None = None
) -> Request:
    return Request(
        f"{chain}: {what}", "POST", f"/api/exchanges/{exchange}/{what}/", token, body or {}, 200
    )


def _steps(chain: int) -> int:
    """The requests ``client`` sends for one chain when every answer is the expected one."""
    if chain % 3 == 2:
        return 3  # record, confirm, decline
    return 4 if chain % 2 == 1 else 3  # record, confirm, approve (and reverse)


def client(server: Server, world: dict[str, Any], number: int, run: Run) -> None:
    """One client: records exchanges (MIN_CHAINS, and on while the faults last) and takes
    each through its decisions: the other member confirms; the broker declines one in three,
    approves the rest and reverses every other one of those."""
    mine = world["clients"][number]
    broker = world["broker_token"]
    chain = 0
    while chain < MAX_CHAINS and (chain < MIN_CHAINS or not run.faults_done.is_set()):
        name = f"client {number} chain {chain}"
        chain += 1
        run.chains[number] = chain
        record = Request(
            f"{name}: record",
            "POST",
            "/api/exchanges/",
            mine["giver_token"],
            {
                "time_bank": world["bank"],
                "role": "gave",
                "other_account": mine["receiver_account"],
                "hours": "1",
                "description": f"Help, {name}",
            },
            201,
        )
        if not answer(server, record, run):
            continue
        exchange = record.answer_body["id"]
        if not answer(server, _decision(name, exchange, "confirm", mine["receiver_token"]), run):
            continue
        if (chain - 1) % 3 == 2:
            declined = _decision(name, exchange, "decline", broker, {"reason": "Recorded twice"})
            answer(server, declined, run)
            continue
        if not answer(server, _decision(name, exchange, "approve", broker), run):
            continue
        if (chain - 1) % 2 == 1:
            reversed_ = _decision(name, exchange, "reverse", broker, {"reason": "Wrong person"})
            answer(server, reversed_, run)


def answer(server: Server, request: Request, run: Run) -> bool:
    """Send ``request`` until answered, then once more at once (a client that missed the
    answer's arrival); both must be the expected answer. Returns whether it was."""
    with run.lock:
        run.requests.append(request)
    request.answer, request.answer_body = send(server, request, run)
    again, again_body = send(server, request, run)
    ok = request.answer == request.expect
    if again != request.answer or (ok and _id(again_body) != _id(request.answer_body)):
        with run.lock:
            run.server_errors.append((f"{request.name} (sent again)", again, str(again_body)))
    return ok


def _id(body: Any) -> Any:
    return body.get("id") if isinstance(body, dict) else None


def faults(server: Server, cluster: Cluster, run: Run, log: list[str]) -> None:
    """Kill a web worker every second or two; crash the database at CRASHES; then, CALM_AFTER
    the last crash, say the faults are done (the clients finish their chains)."""
    started = time.monotonic()
    crashes = list(CRASHES)
    while not run.faults_done.is_set():
        elapsed = time.monotonic() - started
        if crashes and elapsed > crashes[0]:
            crashes.pop(0)
            cluster.crash_and_recover(down_for=1.0)
            log.append("database crashed and recovered")
            continue
        if not crashes and elapsed > CRASHES[-1] + CALM_AFTER:
            run.faults_done.set()
            break
        workers = server.workers()
        if workers:
            victim = random.choice(workers)
            try:
                os.kill(victim, signal.SIGKILL)
                log.append(f"killed web worker {victim}")
            except ProcessLookupError:
                pass
        run.faults_done.wait(random.uniform(1.0, 2.0))


@pytest.fixture(scope="module")
def folder() -> Any:
    path = Path(tempfile.mkdtemp(prefix="timebank-faults-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.skipif(shutil.which("initdb") is None, reason="needs PostgreSQL's initdb and pg_ctl")
def test_careful_clients_get_honest_answers_while_workers_die_and_the_database_restarts(
    folder: Path,
) -> None:
    cluster = Cluster(folder)
    unreachable_mail = _free_port()  # nothing listens there
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DEBUG", "PYTEST_VERSION", "EMAIL_URL"}
    }
    env.update(
        {
            "DATABASE_URL": cluster.url,
            "SECRET_KEY": f"fault-test-{uuid.uuid4().hex}{uuid.uuid4().hex}",
            "ALLOWED_HOSTS": "127.0.0.1",
            # The file broker, in the test's folder: web and worker share it, no server.
            "VAR_DIR": str(folder / "var"),
            "EMAIL_URL": f"smtp://127.0.0.1:{unreachable_mail}",
            "LOG_LEVEL": "WARNING",
            "FAULT_CLIENTS": str(CLIENTS),
            "PYTHONUNBUFFERED": "1",
        }
    )
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    built = subprocess.run(
        [
            *manage,
            "shell",
            "--no-imports",
            "-c",
            "import runpy; runpy.run_path('tests/faults/world.py')",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    world = json.loads(built.stdout.strip().splitlines()[-1])

    worker_log = open(folder / "celery.log", "w")  # noqa: SIM115 - closed below
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "timebank",
            "worker",
            "--pool=solo",
            "--loglevel=INFO",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=ROOT,
        env=env,
        stdout=worker_log,
        stderr=subprocess.STDOUT,
    )
    server = Server(folder, env)
    run, fault_log = Run(), list[str]()
    try:
        injector = threading.Thread(target=faults, args=(server, cluster, run, fault_log))
        clients = [
            threading.Thread(target=client, args=(server, world, n, run)) for n in range(CLIENTS)
        ]
        started = time.monotonic()
        injector.start()
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join(timeout=300)
        run.faults_done.set()
        injector.join()
        took = time.monotonic() - started

        # The faults happened under load: workers died mid-request and the database went away.
        kills = sum(line.startswith("killed") for line in fault_log)
        crashes = sum(line.startswith("database") for line in fault_log)
        lost = sum(r.lost for r in run.requests)
        print(
            f"\n{sum(run.chains.values())} exchanges, {len(run.requests)} requests, "
            f"{sum(r.attempts for r in run.requests)} attempts, "
            f"{lost} lost to faults; {kills} web workers killed, {crashes} database crashes; "
            f"{took:.0f} s"
        )
        # 1. Every request got its expected answer, in JSON; never a 500.
        assert run.server_errors == []
        wrong = [(r.name, r.answer, r.answer_body) for r in run.requests if r.answer != r.expect]
        assert wrong == []
        chains = sum(run.chains.values())
        assert len(run.requests) == sum(
            _steps(chain) for ran in run.chains.values() for chain in range(ran)
        )

        # The faults happened under load: workers died mid-request and the database went away.
        assert crashes == 2 and kills >= 5, fault_log
        assert lost > 0, "no request was caught by a fault"

        # 2. Every applied request, sent again after the faults, answers as it first did.
        for request in run.requests:
            status, body = send(server, request, run)
            assert (status, _id(body)) == (request.answer, _id(request.answer_body)), request.name

        # 3. No key has two journals or two decisions; nothing answered 2xx is lost.
        assert (
            cluster.query(
                "SELECT time_bank_id, idempotency_key FROM ledger_journal "
                "GROUP BY 1, 2 HAVING count(*) > 1"
            )
            == []
        )
        assert (
            cluster.query(
                "SELECT time_bank_id, idempotency_key FROM exchanges_decision "
                "GROUP BY 1, 2 HAVING count(*) > 1"
            )
            == []
        )
        states = dict(cluster.query("SELECT id, state FROM exchanges_exchange"))
        expected: dict[int, str] = {}
        for request in run.requests:
            exchange = _id(request.answer_body)
            if request.path == "/api/exchanges/":
                assert exchange in states, request.name
                journals = cluster.query(
                    "SELECT count(*) FROM ledger_journal j JOIN exchanges_exchange e "
                    "ON e.journal_id = j.id WHERE e.id = %s AND j.idempotency_key LIKE %s",
                    (exchange, f"caller-%:{request.key}"),
                )
                assert journals == [(1,)], request.name
            else:
                decisions = cluster.query(
                    "SELECT count(*) FROM exchanges_decision WHERE exchange_id = %s "
                    "AND idempotency_key LIKE %s",
                    (exchange, f"caller-%:{request.key}"),
                )
                assert decisions == [(1,)], request.name
            expected[exchange] = request.answer_body["state"]
        assert {pk: states[pk] for pk in expected} == expected
        assert len(states) == chains
        verify = subprocess.run(
            [*manage, "ledger_verify"], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert verify.returncode == 0, verify.stdout + verify.stderr

        # 4. The mail server was never reached, and no answer showed it: the worker retries.
        worker_log.flush()
        deadline = time.monotonic() + 30
        while "send_exchange_email" not in (folder / "celery.log").read_text():
            assert time.monotonic() < deadline, "the worker never tried to send an email"
            time.sleep(0.5)
        log = (folder / "celery.log").read_text()
        assert "Retry in" in log and "raised unexpected" not in log, log[-2000:]
    finally:
        run.faults_done.set()
        server.stop()
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        worker_log.close()
        cluster.stop()
