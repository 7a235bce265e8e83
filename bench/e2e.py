"""One pipeline end to end: train a full model, serve it, play the dev conversations against it.

    python -m bench.e2e --config bench/community.yml --name community [--port-base 25100]

Trains with `rasa train` (a fresh component cache, so nothing is reused from an earlier
training), starts the catalog, the action server and Rasa with scripts/stack on ports of
their own (never the running stack's), runs ../shared/eval/score.py and reads Rasa's
memory with ps. Prints one JSON line with the figures; bench/run.py collects them.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.memory import memory_mb
from bench.tokens import rest_token

ROOT = Path(__file__).resolve().parent.parent
RASA = ROOT / ".venv/rasa/bin/rasa"
# The evaluation kit next to the repository, as the Makefile uses it (EVAL_DIR to put it elsewhere).
EVAL_DIR = Path(os.environ.get("EVAL_DIR") or ROOT.parent / "shared" / "eval")
SCORE = EVAL_DIR / "score.py"
DEV = EVAL_DIR / "dev.jsonl"


def ports(base: int) -> dict[str, int]:
    return {"GATEWAY_PORT": base, "CATALOG_PORT": base + 1, "RASA_PORT": base + 5, "ACTIONS_PORT": base + 55}


def busy(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def environment(base: int, workdir: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({k: str(v) for k, v in ports(base).items()})
    env.update(
        PYTHONPATH=str(ROOT),
        PYTHAINLP_OFFLINE="1",
        TF_CPP_MIN_LOG_LEVEL="3",
        RASA_TELEMETRY_ENABLED="false",
        # A database, lock store and catalog file of their own: nothing shared with the running stack.
        TRACKER_DB_NAME="rasa_bench",
        REDIS_LOCK_DB="7",
        CATALOG_DATABASE_URL=f"sqlite:///{workdir / 'catalog.db'}",
        CATALOG_URL=f"http://127.0.0.1:{base + 1}",
        ACTION_ENDPOINT_URL=f"http://127.0.0.1:{base + 55}/webhook",
        RASA_URL=f"http://127.0.0.1:{base + 5}",
        STACK_TIMEOUT="600",
    )
    env.update(extra)
    return env


def train(config: Path, name: str, out: Path, env: dict[str, str]) -> dict[str, Any]:
    cache = tempfile.mkdtemp(prefix="bench-cache-")
    command = [
        str(RASA),
        "train",
        "--config",
        str(config),
        "--domain",
        "domain.yml",
        "--data",
        "data",
        "--out",
        str(out),
        "--fixed-model-name",
        name,
    ]
    start = time.perf_counter()
    done = subprocess.run(
        command, cwd=ROOT, env={**env, "RASA_CACHE_DIRECTORY": cache}, capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    subprocess.run(["rm", "-rf", cache], check=False)
    model = out / f"{name}.tar.gz"
    if done.returncode != 0 or not model.exists():
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        raise RuntimeError(f"training {config} failed")
    return {"train_seconds": round(seconds, 1), "model_bytes": model.stat().st_size, "model": str(model)}


def stack(action: str, names: list[str], env: dict[str, str]) -> None:
    subprocess.run([str(ROOT / "scripts/stack"), action, *names], cwd=ROOT, env=env, check=True)


def pss_mb(pid_file: Path) -> float:
    """Rasa's resident memory, its workers included (PSS: shared pages counted once)."""
    return float(memory_mb(int(pid_file.read_text().strip()))["pss_mb"])


def score(base: int, log: Path, run_dir: Path) -> dict[str, Any]:
    # The REST channel wants the token the stack keeps in its run folder (score.py has --header).
    token = rest_token(run_dir)
    command = [
        sys.executable if not os.environ.get("SCORE_PYTHON") else os.environ["SCORE_PYTHON"],
        str(SCORE),
        "--data",
        str(DEV),
        "--url",
        f"http://127.0.0.1:{base + 5}",
        "--show-failures",
        "0",
        *(["--header", f"Authorization: Bearer {token}"] if token else []),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    log.write_text(done.stdout, encoding="utf-8")
    line = next(x for x in reversed(done.stdout.splitlines()) if x.startswith("SUMMARY "))
    summary: dict[str, Any] = {}
    for pair in line.split()[1:]:
        key, _, value = pair.partition("=")
        summary[key] = float(value) if "." in value else int(value)
    return {"summary_line": line, "summary": summary}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--port-base", type=int, default=25100)
    parser.add_argument("--out-dir", type=Path, default=Path("results/bench-nlu"))
    parser.add_argument("--model", type=Path, help="serve this model instead of training one")
    args = parser.parse_args(argv)
    args.out_dir = (ROOT / args.out_dir).resolve()
    args.out_dir.mkdir(parents=True, exist_ok=True)

    taken = [p for p in ports(args.port_base).values() if busy(p)]
    if taken:
        raise SystemExit(f"ports in use: {taken}; choose another --port-base")
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-e2e-{args.name}-"))
    env = environment(args.port_base, workdir, RUN_DIR=str(workdir / "run"))
    result: dict[str, Any] = {"name": args.name, "config": str(args.config)}
    if args.model:
        result.update(model=str(args.model), model_bytes=args.model.stat().st_size, train_seconds=None)
    else:
        result.update(train(args.config, args.name, workdir / "models", env))
    env["MODEL"] = result["model"]
    try:
        start = time.perf_counter()
        stack("up", ["catalog", "actions", "rasa"], env)
        result["startup_seconds"] = round(time.perf_counter() - start, 1)
        pid_file = workdir / "run/rasa.pid"
        result["rasa_pss_mb_idle"] = pss_mb(pid_file)
        result.update(score(args.port_base, args.out_dir / f"{args.name}-score.txt", workdir / "run"))
        result["rasa_pss_mb_after_eval"] = pss_mb(pid_file)
    finally:
        stack("down", [], env)
    # The model is kept next to the figures; the temporary run directory goes.
    kept = args.out_dir / Path(result["model"]).name
    if not args.model:
        os.replace(result["model"], kept)
        result["model"] = str(kept.relative_to(ROOT))
    subprocess.run(["rm", "-rf", str(workdir)], check=False)
    print("E2E " + json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
