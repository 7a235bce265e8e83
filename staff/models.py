"""The deployed model, and Rasa's model server, which every Rasa worker polls: deploys without downtime.

Rasa's `PUT /model` replaces the model of the one worker that happens to answer. Instead, every
worker pulls from this server (endpoints.yml `models:`, every `wait_time_between_pulls` seconds,
sending its model's ETag as If-None-Match) and loads a new model while it keeps serving
(bot/patches.py loads it in a thread). Deploying is switching the pointer below and waiting until
every worker has pulled the new model.

The store, $MODEL_STORE_DIR (default $RUN_DIR/models):
  current.json         the deployment: {"model_id", "path", "candidate", "deployed_at", "deployed_by",
                       "seed_mtime", "data_dir"}, replaced atomically
  <model_id>.tar.gz    the deployed candidates' models (copied in: a candidate's folder may go)

The live model is the seed model (SEED_MODEL, default models/thai-eservice.tar.gz) on a fresh
machine, the deployment once there is one, and the seed again once it is newer than the seed was
at the deployment (a developer ran `make train` since: their data wins).

One worker at a time: each worker that pulls a model gets an ETag of its own ("<model_id>.<grant>"),
so this server knows every worker by the ETag it polls with, even with many workers or replicas
behind one address. A worker on an older model is given the new one only when no other worker is
still loading it (it polls again with the new ETag when done), so the others keep serving at full
speed meanwhile; a worker with no model of ours (just started) gets it at once.

    python -m staff.models [--host 127.0.0.1] [--port 5006]

    GET /models/current   the live model (200 with ETag and `filename`), 304 when the worker has it
                          or must wait its turn
    GET /models/rollout   {"model_id", "complete", "updated", "waiting", "loading"}: whether every
                          worker that polls serves the live model
    GET /health
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import tarfile
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
CURRENT = "current.json"
# Deployed models kept in the store besides the live one (to go back to without retraining).
KEEP_MODELS = 3
# A worker given a model that has not polled with it after this long has failed or gone.
LEASE_SECONDS = 180.0
DEFAULT_PULL_SECONDS = 3.0
DEFAULT_PORT = 5006


def run_dir() -> Path:
    return Path(os.environ.get("RUN_DIR") or ROOT / "run")


def store_dir() -> Path:
    return Path(os.environ.get("MODEL_STORE_DIR") or run_dir() / "models")


def seed_model() -> Path:
    return Path(os.environ.get("SEED_MODEL") or ROOT / "models" / "thai-eservice.tar.gz")


def pull_seconds(endpoints: Path = ROOT / "endpoints.yml") -> float:
    """Rasa's `wait_time_between_pulls` in endpoints.yml: how often each worker polls."""
    try:
        config = yaml.safe_load(endpoints.read_text(encoding="utf-8")) or {}
        return float((config.get("models") or {}).get("wait_time_between_pulls") or DEFAULT_PULL_SECONDS)
    except (OSError, ValueError, yaml.YAMLError):
        return DEFAULT_PULL_SECONDS


_model_ids: dict[tuple[str, int, int], str] = {}
_model_ids_lock = threading.Lock()


def model_id_of(path: Path) -> str:
    """The `model_id` in a Rasa model archive's metadata.json: what Rasa's GET /status reports."""
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    with _model_ids_lock:
        if key in _model_ids:
            return _model_ids[key]
    with tarfile.open(path, "r:gz") as archive:
        for member in archive:
            if member.name.lstrip("./") == "metadata.json":
                handle = archive.extractfile(member)
                if handle is not None:
                    model_id = str(json.load(handle)["model_id"])
                    break
        else:
            raise ValueError(f"{path}: no metadata.json, not a Rasa model")
    with _model_ids_lock:
        _model_ids[key] = model_id
    return model_id


@dataclass(frozen=True)
class LiveModel:
    model_id: str
    path: Path
    # The candidate deployed, None for the seed model.
    candidate: str | None
    # The training data the live model learnt from (the gate's cross-validation "before").
    data_dir: Path
    deployed_at: str | None = None
    deployed_by: str | None = None


def _read_current(store: Path) -> dict[str, Any] | None:
    try:
        return json.loads((store / CURRENT).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.error("%s unreadable (%s): serving the seed model", store / CURRENT, exc)
        return None


def live_model(store: Path | None = None, seed: Path | None = None) -> LiveModel:
    """What Rasa serves (or is being switched to): the deployment, or the seed model."""
    store, seed = store or store_dir(), seed or seed_model()
    current = _read_current(store)
    if current is not None:
        path = Path(current["path"])
        seed_newer = seed.exists() and seed.stat().st_mtime > float(current.get("seed_mtime") or 0) + 1e-3
        if path.exists() and not seed_newer:
            return LiveModel(
                model_id=current["model_id"],
                path=path,
                candidate=current.get("candidate"),
                data_dir=Path(current.get("data_dir") or ROOT / "data"),
                deployed_at=current.get("deployed_at"),
                deployed_by=current.get("deployed_by"),
            )
    return LiveModel(model_id=model_id_of(seed), path=seed, candidate=None, data_dir=ROOT / "data")


def _atomic_write(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def switch(
    model_path: Path,
    *,
    candidate: str | None,
    deployed_by: str | None,
    data_dir: Path,
    store: Path | None = None,
    seed: Path | None = None,
) -> LiveModel:
    """Make `model_path` the live model: copied into the store, then current.json replaced at once."""
    store, seed = store or store_dir(), seed or seed_model()
    store.mkdir(parents=True, exist_ok=True)
    model_id = model_id_of(model_path)
    if model_path.resolve() == seed.resolve():
        target = seed
    else:
        target = store / f"{model_id}.tar.gz"
        if not target.exists():
            handle, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".tar.gz", dir=store)
            os.close(handle)
            shutil.copyfile(model_path, temporary)
            os.replace(temporary, target)
    deployment = {
        "model_id": model_id,
        "path": str(target),
        "candidate": candidate,
        "deployed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "deployed_by": deployed_by,
        # The seed model as it was: a newer one (make train) takes over again.
        "seed_mtime": seed.stat().st_mtime if seed.exists() else 0.0,
        "data_dir": str(data_dir),
    }
    _atomic_write(store / CURRENT, json.dumps(deployment, ensure_ascii=False, indent=2))
    _prune(store, keep={target.name})
    return live_model(store, seed)


def _prune(store: Path, keep: set[str]) -> None:
    models = sorted(store.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in [p for p in models if p.name not in keep][KEEP_MODELS:]:
        with contextlib.suppress(OSError):
            path.unlink()


# -- the rollout: which worker has which model ----------------------------------------------------------
def _strip_etag(value: str | None) -> str:
    value = (value or "").strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"')


def model_of_etag(etag: str) -> str | None:
    """The model id in one of our ETags ("<model_id>.<grant>"); None for anything else."""
    model_id, dot, grant = etag.partition(".")
    return model_id if dot and model_id and grant else None


@dataclass
class Grant:
    model_id: str
    at: float
    confirmed_at: float | None = None


@dataclass
class Rollout:
    """Who was given which model, and who polls with what; decides each poll. Thread-safe."""

    pull_seconds: float = DEFAULT_PULL_SECONDS
    lease_seconds: float = LEASE_SECONDS
    grants: dict[str, Grant] = field(default_factory=dict)
    seen: dict[str, float] = field(default_factory=dict)
    live_id: str | None = None
    switched_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def window(self) -> float:
        # Every worker that is not busy loading polls at least once in this long.
        return 2 * self.pull_seconds + 2.0

    def observe_live(self, model_id: str, now: float) -> None:
        with self._lock:
            self._observe_live(model_id, now)

    def _observe_live(self, model_id: str, now: float) -> None:
        if model_id != self.live_id:
            self.live_id, self.switched_at = model_id, now

    def decide(self, model_id: str, if_none_match: str | None, now: float) -> str | None:
        """None: the worker keeps its model (304). Else the ETag to serve the live model with."""
        etag = _strip_etag(if_none_match)
        with self._lock:
            self._observe_live(model_id, now)
            held = model_of_etag(etag)
            # Forget workers not heard of for long (stopped, restarted), and old grants.
            for old in [e for e, t in self.seen.items() if now - t > 10 * self.window]:
                del self.seen[old]
            for old in [e for e, g in self.grants.items() if now - g.at > 2 * self.lease_seconds]:
                del self.grants[old]
            if held is not None:
                self.seen[etag] = now
            if held == model_id:
                grant = self.grants.get(etag)
                if grant is not None and grant.confirmed_at is None:
                    grant.confirmed_at = now
                return None
            if held is not None and self._loading(model_id, now):
                return None  # another worker is loading it: wait for the next poll
            new_etag = f"{model_id}.{uuid.uuid4().hex[:8]}"
            self.grants[new_etag] = Grant(model_id, now)
            return new_etag

    def _loading(self, model_id: str, now: float) -> bool:
        return any(
            g.model_id == model_id and g.confirmed_at is None and now - g.at < self.lease_seconds
            for g in self.grants.values()
        )

    def state(self, model_id: str, now: float) -> dict[str, Any]:
        with self._lock:
            self._observe_live(model_id, now)
            recent = {e: t for e, t in self.seen.items() if now - t <= self.window}
            updated = sum(model_of_etag(e) == model_id for e in recent)
            waiting = sum(model_of_etag(e) != model_id for e in recent)
            loading = sum(
                g.model_id == model_id and g.confirmed_at is None and now - g.at < self.lease_seconds
                for g in self.grants.values()
            )
            complete = (
                now - self.switched_at >= self.window and updated > 0 and waiting == 0 and loading == 0
            )
            return {
                "model_id": model_id,
                "complete": complete,
                "updated": updated,
                "waiting": waiting,
                "loading": loading,
                "since": round(now - self.switched_at, 1),
            }


# -- the server --------------------------------------------------------------------------------------------
class ModelServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], store: Path, seed: Path, rollout: Rollout) -> None:
        super().__init__(address, _Handler)
        self.store, self.seed, self.rollout = store, seed, rollout

    def live(self) -> LiveModel:
        return live_model(self.store, self.seed)


class _Handler(BaseHTTPRequestHandler):
    server: ModelServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        try:
            live = self.server.live()
        except (OSError, ValueError) as exc:
            log.error("no model to serve: %s", exc)
            self._json(HTTPStatus.SERVICE_UNAVAILABLE, {"error": str(exc)})
            return
        now = time.monotonic()
        if path == "/health":
            self._json(HTTPStatus.OK,
                       {"status": "ok", "model_id": live.model_id, "candidate": live.candidate})
        elif path == "/models/rollout":
            self._json(HTTPStatus.OK, {**self.server.rollout.state(live.model_id, now),
                                       "candidate": live.candidate})
        elif path == "/models/current":
            self._model(live, now)
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": "not found"})

    def _model(self, live: LiveModel, now: float) -> None:
        etag = self.server.rollout.decide(live.model_id, self.headers.get("If-None-Match"), now)
        if etag is None:
            self.send_response(HTTPStatus.NOT_MODIFIED)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        size = live.path.stat().st_size
        log.info("serving model %s (%s) as %s", live.model_id, live.candidate or "seed", etag)
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "application/gzip")
        self.send_header("Content-Length", str(size))
        self.send_header("ETag", f'"{etag}"')
        # Rasa names the downloaded file after this header.
        self.send_header("filename", f"{live.model_id}.tar.gz")
        self.end_headers()
        with open(live.path, "rb") as model:
            shutil.copyfileobj(model, self.wfile, 1 << 20)


def serve(host: str, port: int, store: Path, seed: Path) -> None:
    rollout = Rollout(pull_seconds=pull_seconds())
    server = ModelServer((host, port), store, seed, rollout)
    live = server.live()
    rollout.observe_live(live.model_id, time.monotonic())
    log.info("model server on %s:%d: %s (%s)", host, port, live.model_id, live.candidate or "seed model")
    try:
        server.serve_forever()
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m staff.models", description=__doc__.splitlines()[0])
    # Loopback only by default: the model is the assistant's, not the public's.
    parser.add_argument("--host", default=os.environ.get("MODELS_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("MODELS_PORT", DEFAULT_PORT)))
    parser.add_argument("--log-level", default=os.environ.get("MODELS_LOG_LEVEL", "INFO"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    serve(args.host, args.port, store_dir(), seed_model())


def describe(live: LiveModel) -> dict[str, Any]:
    return {**asdict(live), "path": str(live.path), "data_dir": str(live.data_dir)}


if __name__ == "__main__":
    main()
