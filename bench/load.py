"""Load and faults, measured through the web chat: `make load`, `make chaos` (services' environment).

    python -m bench.load load  [--users 1,4,20,100] [--replicas 1,2] [--seconds 30] [--json FILE]
    python -m bench.load chaos [--users 8] [--seconds 30] [--faults replica,catalog,postgres,redis]
                               [--private-stores] [--json FILE]

Each starts a stack of its own (scripts/stack: catalog, actions, RASA_REPLICAS Rasa servers behind
HAProxy, gateway) on free ports, with its own run folder, tracker database (rasa_load) and staff
database (staff_load), so that a running `make up` is not disturbed, and stops it at the end.
Locust (bench/locustfile.py, headless) plays the dev set's conversations through `POST /web/chat`
with that many users and no pause; each turn is logged, and after a run:

- turns a second (answered turns over the run's span) and p50 / p95 / p99 of a turn's time;
- lost: turns not answered with an envelope (an error page, a 503, a time-out);
- stored twice / not stored: per conversation, the user events in the tracker store against the turns
  the gateway answered from Rasa (a turn retried on another replica must be stored once).

`chaos` runs the load with 2 replicas and, a third into each run, one fault: a replica killed (the
server and its workers, SIGKILL to its session; its keeper starts it again), the catalog stopped (from
the start, after the action server is started again with no copy of any record, until a third in:
every turn is still answered, service questions with `kind: error` and the hotline), PostgreSQL
restarted, Redis restarted
(with no persistence, so the locks and rate counts go). The machine's PostgreSQL and Redis are
restarted as Debian services, and are started again whatever happens; `--private-stores` runs the
stack on a PostgreSQL cluster and a Redis of its own instead (the tests do, so that nothing else on
the machine loses its connections).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench.cpu import cpu_seconds, postgres_pids
from bench.memory import tree
from privacy import conversation_key

ROOT = Path(__file__).resolve().parents[1]
STACK = ROOT / "scripts" / "stack"
LOCUST = ROOT / ".venv" / "services" / "bin" / "locust"
LOCUSTFILE = ROOT / "bench" / "locustfile.py"
DEFAULT_DATA = ROOT.parent / "shared" / "eval" / "dev.jsonl"
# Set by scripts/stack from the ports unless given; values from a shell's `make up` would point elsewhere.
DERIVED = ("CATALOG_URL", "ACTION_ENDPOINT_URL", "RASA_URL", "REST_TOKEN", "RUN_DIR", "STACK_ENDPOINTS")
PG_BIN = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
FAULTS = ("replica", "catalog", "postgres", "redis")


def free_port(span: int = 1) -> int:
    """A port that was free a moment ago, with the `span - 1` after it free too."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port + span < 65000 and all(_free(port + i) for i in range(1, span)):
            return port


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _wait(check: Callable[[], bool], seconds: float, what: str) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > seconds:
            raise RuntimeError(f"{what}: not within {seconds:.0f} s")
        time.sleep(0.2)
    return time.monotonic() - started


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


# ---- PostgreSQL and Redis: the machine's services, or private ones -----------------------------------


class MachineStores:
    """The machine's PostgreSQL and Redis (Debian services), restarted as an operator would."""

    pg_host, pg_port, redis_port = "127.0.0.1", 5432, 6379

    def start(self) -> None:
        pass

    def stop(self) -> None:
        self.ensure_up()

    def restart_postgres(self) -> None:
        subprocess.run(["pg_ctlcluster", *self._cluster(), "restart"], check=True, capture_output=True)

    # The running Redis is started again with its own settings, read from it before it stops: the machine
    # runs it from a command line (no file, nothing saved), and Debian's init script or configuration
    # would start another Redis (saving into a folder its user cannot write, after which it refuses writes).
    KEPT_SETTINGS = ("bind", "port", "save", "appendonly", "dir", "logfile")

    def restart_redis(self) -> None:
        self._settings = {name: self._redis_config(name) for name in self.KEPT_SETTINGS}
        # What this Redis holds goes (nosave), as after a crash.
        subprocess.run(["redis-cli", "-p", str(self.redis_port), "shutdown", "nosave"], capture_output=True)
        _wait(lambda: not self._redis_up(), 10, "Redis stopping")
        self._start_redis()

    def ensure_up(self) -> None:
        """Whatever a run did, the machine's services answer again afterwards."""
        if not self._redis_up():
            self._start_redis()
        if subprocess.run(["pg_isready", "-q", "-p", str(self.pg_port)], check=False).returncode != 0:
            subprocess.run(["pg_ctlcluster", *self._cluster(), "start"], check=False, capture_output=True)
            _wait(lambda: subprocess.run(["pg_isready", "-q"], check=False).returncode == 0, 30, "PostgreSQL")

    def _start_redis(self) -> None:
        settings = getattr(self, "_settings", None) or {
            "bind": "127.0.0.1 -::1",
            "port": str(self.redis_port),
            "save": "",
            "appendonly": "no",
            "dir": "/var/lib/redis",
            "logfile": "/var/log/redis/ci.log",
        }
        command = ["redis-server", "--daemonize", "yes"]
        for name, value in settings.items():
            command += [f"--{name}", *(value.split() if name == "bind" else [value])]
        subprocess.run(command, check=False, capture_output=True)
        _wait(self._redis_up, 10, "Redis starting")

    def _redis_config(self, name: str) -> str:
        got = subprocess.run(
            ["redis-cli", "-p", str(self.redis_port), "config", "get", name], capture_output=True, text=True
        ).stdout.splitlines()
        return got[1] if len(got) > 1 else ""

    def _redis_up(self) -> bool:
        ping = subprocess.run(
            ["redis-cli", "-p", str(self.redis_port), "ping"], capture_output=True, text=True
        )
        return ping.stdout.strip() == "PONG"

    def _cluster(self) -> list[str]:
        listed = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, check=True).stdout
        for line in listed.splitlines():
            version, name, port = line.split()[:3]
            if int(port) == self.pg_port:
                return [version, name]
        raise RuntimeError(f"no PostgreSQL cluster on port {self.pg_port}")


@dataclass
class PrivateStores:
    """A PostgreSQL cluster and a Redis of their own, in a temporary folder, on free ports."""

    pg_host: str = "127.0.0.1"
    pg_port: int = field(default_factory=free_port)
    redis_port: int = field(default_factory=free_port)
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="stores-")))

    def start(self) -> None:
        if not PG_BIN:
            raise RuntimeError("no PostgreSQL server programs under /usr/lib/postgresql")
        data = self.folder / "pg"
        data.mkdir(parents=True)
        self._as_postgres(["chown", "-R", "postgres", str(self.folder)], root=True)
        self._as_postgres([str(PG_BIN[-1] / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"])
        self._pg_ctl("start")
        self._start_redis()

    def stop(self) -> None:
        self._pg_ctl("stop", "-m", "immediate", check=False)
        subprocess.run(["redis-cli", "-p", str(self.redis_port), "shutdown", "nosave"], capture_output=True)
        shutil.rmtree(self.folder, ignore_errors=True)

    def restart_postgres(self) -> None:
        self._pg_ctl("restart", "-m", "fast")

    def restart_redis(self) -> None:
        subprocess.run(["redis-cli", "-p", str(self.redis_port), "shutdown", "nosave"], capture_output=True)
        self._start_redis()

    def ensure_up(self) -> None:
        pass

    def _start_redis(self) -> None:
        subprocess.run(
            [
                "redis-server",
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "yes",
                "--dir",
                str(self.folder),
                "--logfile",
                str(self.folder / "redis.log"),
            ],
            check=True,
            capture_output=True,
        )
        _wait(
            lambda: (
                subprocess.run(
                    ["redis-cli", "-p", str(self.redis_port), "ping"], capture_output=True
                ).returncode
                == 0
            ),
            10,
            "private Redis",
        )

    def _pg_ctl(self, *args: str, check: bool = True) -> None:
        options = f"-p {self.pg_port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        command = [
            str(PG_BIN[-1] / "pg_ctl"),
            "-D",
            str(self.folder / "pg"),
            "-w",
            "-l",
            str(self.folder / "pg.log"),
            "-o",
            options,
            *args,
        ]
        self._as_postgres(command, check=check)

    @staticmethod
    def _as_postgres(command: list[str], root: bool = False, check: bool = True) -> None:
        # PostgreSQL refuses to run as root.
        prefix = [] if root or os.geteuid() != 0 else ["runuser", "-u", "postgres", "--"]
        subprocess.run([*prefix, *command], check=check, capture_output=True)


Stores = MachineStores | PrivateStores


# ---- the stack under load ---------------------------------------------------------------------------------


class Stack:
    """catalog, actions, Rasa (replicas behind HAProxy) and the gateway, on free ports."""

    def __init__(self, replicas: int, stores: Stores, run_dir: Path) -> None:
        self.replicas = replicas
        self.stores = stores
        self.run_dir = run_dir
        rasa = free_port(span=102 + replicas)  # the replicas listen on RASA_PORT + 100 + n
        self.ports = {
            "CATALOG_PORT": free_port(),
            "ACTIONS_PORT": free_port(),
            "RASA_PORT": rasa,
            "GATEWAY_PORT": free_port(),
        }
        self.gateway_url = f"http://127.0.0.1:{self.ports['GATEWAY_PORT']}"
        self.rasa_url = f"http://127.0.0.1:{rasa}"
        self.tracker_db = "rasa_load"
        pg = f"postgresql://postgres@{stores.pg_host}:{stores.pg_port}"
        self.tracker_url = f"{pg}/{self.tracker_db}"
        self.env = {k: v for k, v in os.environ.items() if k not in DERIVED}
        self.env.update({k: str(v) for k, v in self.ports.items()})
        self.env.update(
            RUN_DIR=str(run_dir),
            RASA_REPLICAS=str(replicas),
            STACK_STORES="servers",
            TRACKER_DB_HOST=stores.pg_host,
            TRACKER_DB_PORT=str(stores.pg_port),
            TRACKER_DB_NAME=self.tracker_db,
            REDIS_PORT=str(stores.redis_port),
            STAFF_DB_URL=f"{pg}/staff_load",
            REDIS_URL=f"redis://127.0.0.1:{stores.redis_port}/2",
            # Every simulated citizen comes from this one address.
            RATE_LIMIT_CLIENT="1000000/minute",
            STACK_TIMEOUT="600",
        )

    def stack(self, *args: str, check: bool = True) -> str:
        done = subprocess.run([str(STACK), *args], cwd=ROOT, env=self.env, capture_output=True, text=True)
        if check and done.returncode != 0:
            raise RuntimeError(f"scripts/stack {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def up(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.stack("up", "catalog", "actions", "rasa", "gateway")
        # One turn through everything (the model loaded in every replica, the action server warm).
        for n in range(4):
            answer = httpx.post(
                f"{self.gateway_url}/web/chat",
                timeout=60,
                json={"sender": f"warmup{n:02d}" + "0" * 24, "message": "สวัสดีค่ะ"},
            )
            answer.raise_for_status()

    def down(self) -> None:
        self.stack("down", check=False)
        subprocess.run(
            ["rabbitmqctl", "-q", "delete_queue", f"rasa_events.{self.tracker_db}"],
            capture_output=True,
            check=False,
        )

    def pid(self, name: str) -> int:
        return int((self.run_dir / f"{name}.pid").read_text().strip())

    def stored_user_events(self, senders: list[str]) -> dict[str, int]:
        keys = {conversation_key(f"web:{s}"): s for s in senders}
        counts: dict[str, int] = dict.fromkeys(senders, 0)
        with psycopg.connect(self.tracker_url, connect_timeout=10) as conn:
            rows = conn.execute(
                "SELECT sender_id, count(*) FROM events WHERE type_name = 'user' AND sender_id = ANY(%s)"
                " GROUP BY sender_id",
                (list(keys),),
            ).fetchall()
        for key, count in rows:
            counts[keys[key]] = int(count)
        return counts


@contextlib.contextmanager
def running_stack(replicas: int, stores: Stores, run_dir: Path) -> Iterator[Stack]:
    stack = Stack(replicas, stores, run_dir)
    try:
        stack.up()
        yield stack
    finally:
        stack.down()


# ---- one run: Locust, then what it did --------------------------------------------------------------------


def start_locust(stack: Stack, users: int, seconds: float, data: Path, log: Path) -> subprocess.Popen:
    env = dict(os.environ, LOAD_DATA=str(data), LOAD_LOG=str(log), PYTHONPATH=str(ROOT))
    command = [
        str(LOCUST),
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        stack.gateway_url,
        "--users",
        str(users),
        "--spawn-rate",
        str(users),
        "--run-time",
        f"{seconds:.0f}s",
        "--stop-timeout",
        "60",
        "--only-summary",
        "--loglevel",
        "ERROR",
    ]
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def _processes(stack: Stack, locust: subprocess.Popen) -> dict[str, list[int]]:
    """The processes whose CPU time a turn costs, by part (with their children: Rasa's workers)."""
    # Locust's own CPU is in machine_cpu_busy only: its process was not reliably counted here.
    groups: dict[str, list[int]] = {"postgres": postgres_pids()}
    for name, files in (
        ("gateway", ["gateway"]),
        ("rasa", ["rasa", *(f"rasa-{n}" for n in range(1, stack.replicas + 1))]),
        ("actions", ["actions"]),
        ("catalog", ["catalog"]),
        ("balancer", ["balancer"]),
    ):
        pids = [pid for f in files if (stack.run_dir / f"{f}.pid").exists() for pid in tree(stack.pid(f))]
        if pids:
            groups[name] = pids
    groups["redis"] = [
        int(p.name)
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and (p / "comm").exists() and (p / "comm").read_text().startswith("redis-server")
    ]
    return groups


def _cpu_of(groups: dict[str, list[int]]) -> dict[str, float]:
    return {name: sum(cpu_seconds(pid) for pid in pids) for name, pids in groups.items()}


def _cpu_busy() -> tuple[int, int]:
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def analyse(stack: Stack, log: Path) -> dict[str, Any]:
    turns = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]
    answered = [t for t in turns if t["status"] == 200 and t["kind"]]
    lost = [t for t in turns if not (t["status"] == 200 and t["kind"])]
    by_sender: dict[str, list[dict[str, Any]]] = {}
    for turn in turns:
        by_sender.setdefault(turn["sender"], []).append(turn)
    stored = stack.stored_user_events(list(by_sender))
    twice = not_stored = 0
    for sender, its_turns in by_sender.items():
        # Turns a person answered never reach Rasa; a lost turn may or may not have been stored.
        from_rasa = sum(
            1 for t in its_turns if t["status"] == 200 and t["kind"] and t["kind"] != "with_agent"
        )
        failed = sum(1 for t in its_turns if not (t["status"] == 200 and t["kind"]))
        twice += max(0, stored[sender] - from_rasa - failed)
        not_stored += max(0, from_rasa - stored[sender])
    times = [(t["end"] - t["start"]) * 1000 for t in answered]
    span = (max(t["end"] for t in turns) - min(t["start"] for t in turns)) if turns else 0.0
    kinds = Counter(t["kind"] for t in answered)
    return {
        "turns": len(turns),
        "answered": len(answered),
        "lost": len(lost),
        "lost_statuses": dict(Counter(str(t["status"]) for t in lost)),
        "stored_twice": twice,
        "not_stored": not_stored,
        "conversations": len(by_sender),
        "turns_per_s": round(len(answered) / span, 1) if span else 0.0,
        "p50_ms": round(percentile(times, 50), 1),
        "p95_ms": round(percentile(times, 95), 1),
        "p99_ms": round(percentile(times, 99), 1),
        "mean_ms": round(statistics.fmean(times), 1) if times else float("nan"),
        "kinds": dict(kinds),
        "errors_with_hotline": sum(1 for t in answered if t["kind"] == "error" and t["hotline"]),
        "errors_without_hotline": sum(1 for t in answered if t["kind"] == "error" and not t["hotline"]),
    }


def run_load(
    stack: Stack,
    users: int,
    seconds: float,
    data: Path,
    fault: Callable[[], dict[str, Any]] | None = None,
    fault_at: float = 1 / 3,
) -> dict[str, Any]:
    """Locust with `users` for `seconds`; `fault` (if any) a third of the way in, in this thread."""
    log = stack.run_dir / f"load-{users}u-{time.time():.0f}.jsonl"
    log.unlink(missing_ok=True)
    load_before, (busy0, total0) = os.getloadavg()[0], _cpu_busy()
    locust = start_locust(stack, users, seconds, data, log)
    time.sleep(0.5)  # Locust's own process tree, once it has started
    groups = _processes(stack, locust)
    cpu_before = _cpu_of(groups)
    injected: dict[str, Any] = {}
    try:
        if fault is not None:
            time.sleep(seconds * fault_at)
            injected = fault()
        _, stderr = locust.communicate(timeout=seconds + 120)
    finally:
        if locust.poll() is None:
            locust.kill()
    busy1, total1 = _cpu_busy()
    cpu_after = _cpu_of(groups)
    if not log.exists():
        raise RuntimeError(f"locust logged no turn:\n{stderr[-2000:]}")
    result = analyse(stack, log)
    result.update(
        users=users,
        replicas=stack.replicas,
        seconds=seconds,
        load_before=round(load_before, 2),
        machine_cpu_busy=round(100 * (busy1 - busy0) / max(1, total1 - total0), 1),
    )
    if result["answered"]:
        # CPU milliseconds each part of the stack spent on an answered turn.
        result["cpu_ms_per_turn"] = {
            name: round((cpu_after[name] - cpu_before[name]) * 1000 / result["answered"], 1)
            for name in groups
        }
    if injected:
        result["fault"] = injected
    return result


# ---- faults ---------------------------------------------------------------------------------------------


def kill_replica(stack: Stack, n: int = 1) -> Callable[[], dict[str, Any]]:
    def fault() -> dict[str, Any]:
        pid = stack.pid(f"rasa-{n}")
        os.killpg(pid, signal.SIGKILL)  # the server and its workers, at once
        started = time.monotonic()
        port = stack.ports["RASA_PORT"] + 100 + n
        # Its keeper starts it again; back when it answers (HAProxy's health check then takes it in).
        _wait(lambda: stack.pid(f"rasa-{n}") != pid, 30, "the replica's keeper")
        _wait(lambda: _answers(f"http://127.0.0.1:{port}/"), 300, "the killed replica")
        back = time.monotonic() - started
        return {"fault": f"replica {n} killed (SIGKILL to pid group {pid})", "back_after_s": round(back, 1)}

    return fault


def restart_actions(stack: Stack) -> None:
    """The action server started again, with no copy of any record (as after its deploy)."""
    os.kill(stack.pid("actions"), signal.SIGTERM)
    health = f"http://127.0.0.1:{stack.ports['ACTIONS_PORT']}/health"
    _wait(lambda: not _answers(health), 30, "actions stopping")
    stack.stack("up", "actions")


def stop_catalog(stack: Stack, down_for: float) -> Callable[[], dict[str, Any]]:
    def fault() -> dict[str, Any]:
        os.kill(stack.pid("catalog"), signal.SIGKILL)
        time.sleep(down_for)
        started = time.monotonic()
        stack.stack("up", "catalog")
        return {
            "fault": f"catalog killed, started again after {down_for:.0f} s",
            "back_after_s": round(down_for + time.monotonic() - started, 1),
        }

    return fault


def restart_store(stack: Stack, which: str) -> Callable[[], dict[str, Any]]:
    def fault() -> dict[str, Any]:
        started = time.monotonic()
        if which == "postgres":
            stack.stores.restart_postgres()
        else:
            stack.stores.restart_redis()
        return {"fault": f"{which} restarted", "back_after_s": round(time.monotonic() - started, 1)}

    return fault


def run_fault(stack: Stack, name: str, users: int, seconds: float, data: Path) -> dict[str, Any]:
    faults = {
        "replica": lambda: kill_replica(stack),
        "catalog": lambda: stop_catalog(stack, down_for=seconds / 3),
        "postgres": lambda: restart_store(stack, "postgres"),
        "redis": lambda: restart_store(stack, "redis"),
    }
    try:
        if name == "catalog":
            # From a cold start with the catalog down at once: the actions have a copy of no record,
            # so the turns that need one take the error path (kind: error with the hotline) until
            # the catalog is back; with a warm cache they would all be answered from its copies.
            restart_actions(stack)
            result = run_load(stack, users, seconds, data, fault=faults[name](), fault_at=0)
        else:
            result = run_load(stack, users, seconds, data, fault=faults[name]())
    finally:
        stack.stores.ensure_up()
    # Recovered by itself: a conversation after the run is answered.
    result["answers_after"] = _answers_a_turn(stack)
    return result


def _answers_a_turn(stack: Stack) -> bool:
    try:
        reply = httpx.post(
            f"{stack.gateway_url}/web/chat",
            timeout=30,
            json={"sender": os.urandom(16).hex(), "message": "ทำพาสปอร์ตกี่บาท"},
        )
        return reply.status_code == 200 and bool((reply.json().get("envelope") or {}).get("kind"))
    except httpx.HTTPError:
        return False


# ---- reports ----------------------------------------------------------------------------------------------


def line(result: dict[str, Any]) -> str:
    return (
        f"{result['replicas']} replica(s) {result['users']:>3} users: {result['turns_per_s']:6.1f} turns/s  "
        f"p50 {result['p50_ms']:7.1f}  p95 {result['p95_ms']:7.1f}  p99 {result['p99_ms']:7.1f} ms  "
        f"turns {result['answered']:5d}  lost {result['lost']}  stored twice {result['stored_twice']}  "
        f"not stored {result['not_stored']}  machine CPU {result['machine_cpu_busy']:.0f} %"
        f" (load {result['load_before']:.1f} before)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", choices=["load", "chaos"])
    parser.add_argument("--users", default=None, help="comma-separated (load: 1,4,20,100; chaos: 8)")
    parser.add_argument("--replicas", default="1,2", help="load: comma-separated replica counts")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--faults", default=",".join(FAULTS))
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--private-stores", action="store_true", help="a PostgreSQL and a Redis of its own")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)

    stores: Stores = PrivateStores() if args.private_stores else MachineStores()
    results: list[dict[str, Any]] = []
    stores.start()
    try:
        if args.mode == "load":
            users = [int(u) for u in (args.users or "1,4,20,100").split(",")]
            for replicas in (int(r) for r in args.replicas.split(",")):
                with running_stack(replicas, stores, ROOT / "run" / f"load-{replicas}") as stack:
                    for n in users:
                        results.append(run_load(stack, n, args.seconds, args.data))
                        print(line(results[-1]), flush=True)
                        cpu = results[-1].get("cpu_ms_per_turn", {})
                        print(
                            "    CPU a turn: " + ", ".join(f"{k} {v} ms" for k, v in cpu.items()), flush=True
                        )
        else:
            users = int(args.users or 8)
            with running_stack(2, stores, ROOT / "run" / "chaos") as stack:
                for name in args.faults.split(","):
                    result = run_fault(stack, name, users, args.seconds, args.data)
                    results.append(result)
                    print(
                        f"{result['fault']['fault']}: {line(result)}  kinds {result['kinds']}  "
                        f"errors with the hotline {result['errors_with_hotline']}, without "
                        f"{result['errors_without_hotline']}; back after {result['fault']['back_after_s']} s;"
                        f" a turn after: {'answered' if result['answers_after'] else 'NOT answered'}",
                        flush=True,
                    )
    finally:
        stores.stop()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    bad = [
        r
        for r in results
        if r["lost"] or r["stored_twice"] or r["not_stored"] or r.get("answers_after") is False
    ]
    return 1 if args.mode == "chaos" and bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
