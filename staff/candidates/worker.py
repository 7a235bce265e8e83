"""The candidate worker: trains queued candidates and runs the gate (the stack's `trainer`).

    python -m staff.candidates.worker [--once]

It takes the oldest job with SELECT ... FOR UPDATE SKIP LOCKED and keeps that row locked until
the job ends, so two workers never take one job, and a job whose worker died is taken up again
(at most MAX_ATTEMPTS times). A job:

1. data: data/ copied into $RUN_DIR/candidates/<id>/data, with the catalog's names as they are now
   (lexicon.yml from CATALOG_URL: a new service's record counts), the FAQ entries if the candidate
   has some, the examples accepted so far (agency_accepted.yml) and the candidate's own
   (agency_candidate.yml), labelled as the project's examples are;
2. conflicts (staff/candidates/conflicts.py): a candidate whose examples contradict the training
   data or the regression set fails here, untrained;
3. `rasa data validate --fail-on-warnings` and `rasa train` in Rasa's environment, as the Makefile
   runs them, at a lower CPU priority than the assistant;
4. the gate (staff/candidates/gate.py): the live model and the candidate answer the regression set
   (rasa_side.py `answers`), both training sets are cross-validated (rasa_side.py `cv`).

Progress (0..1) and the step are written at every step; the report at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import logging
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from staff.candidates import gate, regression
from staff.candidates.conflicts import NewExample, find_conflicts, normalise
from staff.candidates.store import CHANNEL, SCHEMA, SCHEMA_LOCK
from staff.candidates.trainingdata import Example, read_examples, render
from staff.models import LiveModel, live_model, run_dir

log = logging.getLogger("staff.candidates.worker")

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_STAFF_DB_URL = "postgresql://postgres@127.0.0.1:5432/staff"
POLL_SECONDS = 5.0
MAX_ATTEMPTS = 3
ACCEPTED_FILE = "agency_accepted.yml"
CANDIDATE_FILE = "agency_candidate.yml"
# Progress at the start of each step (the rest of the range is the step's own progress).
STEPS = {"data": 0.02, "validate": 0.05, "train": 0.10, "regression": 0.65, "cv": 0.72, "done": 0.98}
DEFAULT_TRAIN_SECONDS = 200.0
LOG_TAIL_CHARS = 3000


class Stopped(Exception):
    """The worker was told to stop (SIGTERM, SIGINT) in the middle of a job."""


class StepFailed(Exception):
    def __init__(self, step: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.step, self.message, self.details = step, message, details or {}


_stopping = threading.Event()


def rasa_python() -> Path:
    return Path(os.environ.get("RASA_PYTHON") or ROOT / ".venv" / "rasa" / "bin" / "python")


def rasa_env(workdir: Path) -> dict[str, str]:
    """Rasa's environment as the Makefile sets it, plus a component cache of the candidates' own."""
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(ROOT),
        PYTHAINLP_OFFLINE="1",
        TF_CPP_MIN_LOG_LEVEL="3",
        RASA_TELEMETRY_ENABLED="false",
        # Not the repository's .rasa/cache, which `make train` may be using at the same time.
        RASA_CACHE_DIRECTORY=str(workdir.parent / ".rasa-cache"),
        RASA_MAX_CACHE_SIZE=os.environ.get("RASA_MAX_CACHE_SIZE", "500"),
    )
    return env


def run_command(
    command: list[str],
    log_path: Path,
    env: dict[str, str],
    on_progress: Callable[[float, str], None] | None = None,
    on_tick: Callable[[float], None] | None = None,
    timeout: float = 3600.0,
) -> int:
    """Run a command at a lower priority, its output to `log_path`; `progress x what` lines reported."""
    lines: queue.Queue[str | None] = queue.Queue()
    started = time.monotonic()
    with open(log_path, "w", encoding="utf-8") as out:
        process = subprocess.Popen(
            ["nice", "-n", "10", *command],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            start_new_session=True,  # its own process group: stopped as a whole
        )

        def read() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                lines.put(line)
            lines.put(None)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        last_tick = 0.0
        try:
            while True:
                if _stopping.is_set():
                    raise Stopped()
                if time.monotonic() - started > timeout:
                    raise StepFailed("timeout", f"{command[1:3]} took longer than {timeout:.0f}s")
                try:
                    line = lines.get(timeout=1.0)
                except queue.Empty:
                    line = ""
                if line is None:
                    break
                if line:
                    out.write(line)
                    if line.startswith("progress ") and on_progress is not None:
                        _, fraction, *what = line.split(maxsplit=2)
                        with contextlib.suppress(ValueError):
                            on_progress(float(fraction), what[0].strip() if what else "")
                now = time.monotonic()
                if on_tick is not None and now - last_tick >= 3.0:
                    last_tick = now
                    on_tick(now - started)
            return process.wait()
        finally:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


def log_tail(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-LOG_TAIL_CHARS:]
    except OSError:
        return ""


class Job:
    def __init__(self, db: psycopg.Connection, candidate_id: str) -> None:
        self.db = db
        self.id = candidate_id
        self.report: dict[str, Any] = {}
        self.timings: dict[str, float] = {}
        self.workdir = run_dir() / "candidates" / candidate_id

    # -- the row ----------------------------------------------------------------------------------
    def update(self, **fields: Any) -> None:
        if "report" in fields:
            fields["report"] = Jsonb(fields["report"])
        assignments = ", ".join(f"{name} = %({name})s" for name in fields)
        self.db.execute(f"UPDATE model_candidate SET {assignments} WHERE id = %(id)s",
                        {**fields, "id": self.id})

    def progress(self, step: str, within: float = 0.0, status: str | None = None) -> None:
        names = list(STEPS)
        start = STEPS[step]
        end = STEPS[names[names.index(step) + 1]] if step != "done" else 1.0
        fraction = round(start + (end - start) * min(within, 1.0), 3)
        fields: dict[str, Any] = {"step": step, "progress": fraction}
        if status:
            fields["status"] = status
        self.update(**fields)

    def finish(self, status: str, **fields: Any) -> None:
        self.report["timings"] = {k: round(v, 1) for k, v in self.timings.items()}
        self.update(status=status, progress=1.0, finished_at=datetime.now(timezone.utc), report=self.report,
                    **fields)
        log.info("candidate %s: %s (%s)", self.id, status, self.report.get("gate", {}).get("reasons"))

    # -- the steps ----------------------------------------------------------------------------------
    def run(self) -> None:
        row = self.db.execute("SELECT * FROM model_candidate WHERE id = %s", (self.id,)).fetchone()
        if row is None or row["status"] in ("passed", "failed", "deployed"):
            return  # done already (the worker stopped after the end and before removing the job)
        attempts = row["attempts"] + 1
        self.update(attempts=attempts)
        if attempts > MAX_ATTEMPTS:
            self.report = {"step": row["step"], "gate": {"passed": False, "reasons": ["the worker stopped"]}}
            self.finish("failed", error=f"the worker stopped during this candidate {MAX_ATTEMPTS} times")
            return
        examples = self.db.execute(
            "SELECT service_id, topic, text FROM candidate_example WHERE candidate_id = %s ORDER BY id",
            (self.id,),
        ).fetchall()
        faq_entries = row["faq_entries"] or []
        live = live_model()
        log.info("candidate %s: %d examples, %d FAQ entries, against %s", self.id, len(examples),
                 len(faq_entries), live.model_id)
        self.report = {
            "step": "data",
            "base": {"model_id": live.model_id, "candidate": live.candidate},
            "tolerance": gate.TOLERANCE,
            "before": {},
            "after": {},
            "changed": [],
            "conflicts": [],
        }
        self.update(status="training", started_at=datetime.now(timezone.utc), base_model_id=live.model_id,
                    error=None, report=self.report)
        self.progress("data")
        try:
            self.steps(examples, faq_entries, live)
        except StepFailed as failure:
            self.report["step"] = failure.step
            self.report.setdefault("gate", {"passed": False, "reasons": [failure.message]})
            self.report.update(failure.details)
            self.finish("failed", step=failure.step, error=failure.message)
            with contextlib.suppress(OSError):
                (self.workdir / "model.tar.gz").unlink()

    def steps(
        self, examples: list[dict[str, Any]], faq_entries: list[dict[str, Any]], live: LiveModel
    ) -> None:
        started = time.monotonic()
        data = self.prepare_data(examples, faq_entries)
        conflicts = self.conflicts(data, examples, faq_entries)
        self.timings["data"] = time.monotonic() - started
        if conflicts:
            self.report["conflicts"] = conflicts
            raise StepFailed("conflicts", f"{len(conflicts)} examples contradict the training data")
        if os.environ.get("TRAINER_LOCK_FILE"):
            self.update(step="waiting")  # for the machine's other heavy jobs
        with machine_lock():
            self.train_and_gate(data, examples, faq_entries, live)

    def train_and_gate(
        self, data: Path, examples: list[dict[str, Any]], faq_entries: list[dict[str, Any]], live: LiveModel
    ) -> None:
        env = rasa_env(self.workdir)
        rasa = [str(rasa_python()), "-m", "rasa"]
        self.progress("validate")
        started = time.monotonic()
        validate_log = self.workdir / "validate.log"
        code = run_command([*rasa, "data", "validate", "--config", "config.yml", "--domain", "domain.yml",
                            "--data", str(data), "--fail-on-warnings"], validate_log, env)
        self.timings["validate"] = time.monotonic() - started
        if code != 0:
            raise StepFailed("validate", "rasa data validate found problems",
                             {"validation": {"ok": False, "output": log_tail(validate_log)}})
        self.report["validation"] = {"ok": True}

        self.progress("train")
        expected = self.expected_train_seconds()
        started = time.monotonic()
        train_log = self.workdir / "train.log"
        code = run_command(
            [*rasa, "train", "--config", "config.yml", "--domain", "domain.yml", "--data", str(data),
             "--out", str(self.workdir), "--fixed-model-name", "model"],
            train_log, env, on_tick=lambda seconds: self.progress("train", 0.95 * seconds / expected),
        )
        self.timings["train"] = time.monotonic() - started
        model = self.workdir / "model.tar.gz"
        if code != 0 or not model.exists():
            raise StepFailed("train", "rasa train failed", {"train_log": log_tail(train_log)})

        self.progress("regression", status="testing")
        self.report["step"] = "regression"
        started = time.monotonic()
        questions = self.regression_questions()
        answers = self.answers([live.path, model], questions, env)
        self.timings["regression"] = time.monotonic() - started
        before, after = answers[0]["answers"], answers[1]["answers"]
        own = {e["service_id"] for e in examples}
        own |= {e["service"] for e in faq_entries if e.get("service")}
        changed, reasons = gate.compare_regression(questions, before, after, own)
        self.report["changed"] = changed
        self.report["before"]["model_id"] = answers[0]["model_id"]
        self.report["after"]["model_id"] = answers[1]["model_id"]
        self.report["before"]["regression"] = gate.summarise(questions, before)
        self.report["after"]["regression"] = gate.summarise(questions, after)

        self.progress("cv")
        self.report["step"] = "cv"
        started = time.monotonic()
        cv_before = self.cross_validate(self.before_data(data, faq_entries), "cv_before", env, 0.0, 0.5)
        cv_after = self.cross_validate(data, "cv_after", env, 0.5, 1.0)
        self.timings["cv"] = time.monotonic() - started
        shared = {(r["text"], r["service"], r["topic"]) for r in cv_before["rows"]} & {
            (r["text"], r["service"], r["topic"]) for r in cv_after["rows"]
        }
        cv = {"folds": cv_after["folds"], "pipeline": "config.yml without e5, service and topic classifiers"}
        self.report["before"]["cv"] = {**cv, **gate.cv_summary(cv_before["rows"], shared),
                                       "seconds": cv_before["seconds"], "cached": cv_before.get("cached")}
        self.report["after"]["cv"] = {**cv, **gate.cv_summary(cv_after["rows"], shared),
                                      "seconds": cv_after["seconds"], "cached": cv_after.get("cached")}
        new_rows = [r for r in cv_after["rows"] if (r["text"], r["service"], r["topic"]) not in shared]
        self.report["after"]["cv"]["new_examples"] = gate.cv_summary(new_rows)
        reasons += gate.compare_cv(self.report["before"]["cv"], self.report["after"]["cv"])

        self.progress("done")
        self.report["step"] = "done"
        self.report["gate"] = {"passed": not reasons, "reasons": reasons}
        if reasons:
            self.finish("failed", step="done", model_id=answers[1]["model_id"])
            model.unlink()  # never deployable: 25 MB less on the disk
        else:
            self.finish("passed", step="done", model_id=answers[1]["model_id"], model_path=str(model),
                        data_dir=str(data))

    def prepare_data(self, examples: list[dict[str, Any]], faq_entries: list[dict[str, Any]]) -> Path:
        shutil.rmtree(self.workdir, ignore_errors=True)
        data = self.workdir / "data"
        shutil.copytree(ROOT / "data", data)
        self.report["lexicon"] = self.write_lexicon(data / "nlu" / "lexicon.yml")
        if faq_entries:
            entries_file = self.workdir / "faq_entries.json"
            entries_file.write_text(json.dumps(faq_entries, ensure_ascii=False), encoding="utf-8")
            faq_log = self.workdir / "faq.log"
            code = run_command(
                [str(rasa_python()), "-m", "staff.candidates.rasa_side", "faq", "--catalog", catalog_url(),
                 "--entries", str(entries_file), "--out", str(data / "nlu" / "faq.yml")],
                faq_log, rasa_env(self.workdir),
            )
            if code != 0:
                raise StepFailed("data", "the FAQ entries could not be made training data",
                                 {"faq_log": log_tail(faq_log)})
        in_data = {(e.service, normalise(e.text)) for e in read_examples(data)}
        accepted = [
            (r["service_id"], r["topic"], r["text"])
            for r in self.db.execute(
                """SELECT service_id, topic, text FROM candidate_example
                    WHERE accepted_at IS NOT NULL AND candidate_id <> %s ORDER BY accepted_at, id""",
                (self.id,),
            ).fetchall()
            # Exported into data/ since: there already.
            if (r["service_id"], normalise(r["text"])) not in in_data
        ]
        if accepted:
            (data / "nlu" / ACCEPTED_FILE).write_text(
                render(accepted, "Example questions agencies added, from deployed candidates."),
                encoding="utf-8",
            )
        if examples:
            (data / "nlu" / CANDIDATE_FILE).write_text(
                render([(e["service_id"], e["topic"], e["text"]) for e in examples],
                       f"Example questions of candidate {self.id}."),
                encoding="utf-8",
            )
        self.report["accepted_examples"] = len(accepted)
        return data

    def before_data(self, data: Path, faq_entries: list[dict[str, Any]]) -> Path:
        """The candidate's training data without what the candidate adds: cross-validation's "before".

        Not the repository's data/: the live model may be older than it (the tree changes), the
        catalog's names may have changed since; this way before and after differ by the
        candidate's examples alone, and the same "before" serves every candidate of a live state
        (cached by content).
        """
        before = self.workdir / "before"
        shutil.rmtree(before, ignore_errors=True)
        (before / "nlu").mkdir(parents=True)
        for path in (data / "nlu").glob("*.yml"):
            if path.name == CANDIDATE_FILE:
                continue
            source = path
            if faq_entries and path.name == "faq.yml":
                source = ROOT / "data" / "nlu" / "faq.yml"  # the FAQ entries as they were
            if source.exists():
                shutil.copy(source, before / "nlu" / path.name)
        return before

    def write_lexicon(self, path: Path) -> str:
        """The catalog's names as the catalog has them now, else the repository's lexicon.yml."""
        from catalog.lexicon import render as render_lexicon

        try:
            records = catalog_records(catalog_url())
        except Exception as exc:  # the catalog down: the names in the repository still hold
            log.warning("catalog unavailable for the lexicon (%s); keeping the repository's", exc)
            return "repository"
        if records:
            path.write_text(render_lexicon(records), encoding="utf-8")
        return f"catalog ({len(records)} services)"

    def conflicts(self, data: Path, examples: list[dict[str, Any]],
                  faq_entries: list[dict[str, Any]]) -> list[dict[str, object]]:
        skip = {CANDIDATE_FILE, "faq.yml"} if faq_entries else {CANDIDATE_FILE}
        existing = read_examples(data, skip=skip) + [
            Example(text=q.text, intent="ask_service", service=q.service_id, topic=q.topic,
                    source="regression")
            for q in self.regression_questions()
        ]
        new = [NewExample(e["text"], e["service_id"], e["topic"]) for e in examples]
        for entry in faq_entries:
            texts = [entry.get("question"), *(entry.get("variants") or [])]
            new += [NewExample(str(t), entry["service"], entry.get("topic", "")) for t in texts if t]
        return find_conflicts(new, existing)

    def regression_questions(self) -> list[gate.Question]:
        rows = self.db.execute(
            "SELECT agency, service_id, topic, text, candidate_id FROM regression_question ORDER BY id"
        ).fetchall()
        return regression.merged(regression.read_dir(), regression.from_rows(rows))

    def answers(self, models: list[Path], questions: list[gate.Question], env: dict[str, str]) -> list[dict]:
        questions_file, out = self.workdir / "questions.json", self.workdir / "answers.json"
        texts = json.dumps([q.text for q in questions], ensure_ascii=False)
        questions_file.write_text(texts, encoding="utf-8")
        answers_log = self.workdir / "answers.log"
        command = [str(rasa_python()), "-m", "staff.candidates.rasa_side", "answers"]
        for model in models:
            command += ["--model", str(model)]
        code = run_command(
            [*command, "--questions", str(questions_file), "--out", str(out)], answers_log, env,
            on_progress=lambda f, _: self.progress("regression", f),
        )
        if code != 0 or not out.exists():
            raise StepFailed("regression", "the models could not answer the regression set",
                             {"answers_log": log_tail(answers_log)})
        return json.loads(out.read_text(encoding="utf-8"))

    def cross_validate(self, data: Path, name: str, env: dict[str, str], low: float, high: float) -> dict:
        out, cv_log = self.workdir / f"{name}.json", self.workdir / f"{name}.log"
        code = run_command(
            [str(rasa_python()), "-m", "staff.candidates.rasa_side", "cv", "--data", str(data),
             "--out", str(out), "--workdir", str(self.workdir)],
            cv_log, env, on_progress=lambda f, _: self.progress("cv", low + (high - low) * f),
        )
        if code != 0 or not out.exists():
            raise StepFailed("cv", "the cross-validation failed", {"cv_log": log_tail(cv_log)})
        return json.loads(out.read_text(encoding="utf-8"))

    def expected_train_seconds(self) -> float:
        row = self.db.execute(
            """SELECT (report->'timings'->>'train')::float AS seconds FROM model_candidate
                WHERE report->'timings' ? 'train' ORDER BY finished_at DESC NULLS LAST LIMIT 1"""
        ).fetchone()
        return float(row["seconds"]) if row and row["seconds"] else DEFAULT_TRAIN_SECONDS


# The catalog lists at most this many records at once (catalog/app.py).
CATALOG_PAGE = 200


def catalog_records(url: str) -> list[dict[str, Any]]:
    """Every record the catalog serves now, in full."""
    import httpx

    with httpx.Client(base_url=url, timeout=10.0) as client:
        listing = client.get("/services", params={"limit": CATALOG_PAGE})
        listing.raise_for_status()
        body = listing.json()
        if body.get("total", 0) > len(body["items"]):
            raise ValueError(f"the catalog has {body['total']} records, more than one listing gives")
        records = []
        for item in body["items"]:
            answer = client.get(f"/services/{item['id']}")
            answer.raise_for_status()
            records.append(answer.json())
        return records


def catalog_url() -> str:
    return (os.environ.get("CATALOG_URL") or "http://127.0.0.1:8001").rstrip("/")


def staff_db_url() -> str:
    url = os.environ.get("STAFF_DB_URL") or DEFAULT_STAFF_DB_URL
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest if scheme.startswith("postgres") else url


def ensure_database(url: str) -> None:
    import asyncio

    from staff.db import ensure_database as ensure

    asyncio.run(ensure(url))


def ensure_schema(conn: psycopg.Connection) -> None:
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        conn.execute(SCHEMA.read_text(encoding="utf-8"))


@contextlib.contextmanager
def machine_lock() -> Iterator[None]:
    """TRAINER_LOCK_FILE: a file locked (flock) while a job trains and tests, as other heavy jobs do."""
    path = os.environ.get("TRAINER_LOCK_FILE", "").strip()
    if not path:
        yield
        return
    with open(path, "a") as lock:
        log.info("waiting for %s", path)
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def take_and_run(jobs: psycopg.Connection, db: psycopg.Connection) -> bool:
    """Run the oldest job nobody runs; whether there was one."""
    with jobs.transaction():
        row = jobs.execute(
            "SELECT candidate_id FROM candidate_job ORDER BY queued_at FOR UPDATE SKIP LOCKED LIMIT 1"
        ).fetchone()
        if row is None:
            return False
        candidate_id = row[0]
        try:
            Job(db, candidate_id).run()
        except Stopped:
            raise
        except Exception as exc:  # a bug or a lost database: the candidate fails, the worker goes on
            log.exception("candidate %s failed unexpectedly", candidate_id)
            with contextlib.suppress(psycopg.Error):
                db.execute(
                    """UPDATE model_candidate SET status = 'failed', progress = 1, finished_at = now(),
                              error = %s WHERE id = %s""",
                    (f"the worker failed: {exc}", candidate_id),
                )
        jobs.execute("DELETE FROM candidate_job WHERE candidate_id = %s", (candidate_id,))
    return True


def ready_file() -> Path:
    return run_dir() / "trainer.ready"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m staff.candidates.worker",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--once", action="store_true", help="run the queued jobs, then stop")
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("TRAINER_LOG_LEVEL", "INFO").upper(),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per catalog record otherwise

    def stop(signum: int, _frame: Any) -> None:
        log.info("signal %d: stopping", signum)
        _stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    url = staff_db_url()
    ensure_database(url)
    with (
        psycopg.connect(url) as jobs,
        psycopg.connect(url, autocommit=True, row_factory=dict_row) as db,
        psycopg.connect(url, autocommit=True) as listener,
    ):
        ensure_schema(db)
        listener.execute(f"LISTEN {CHANNEL}")
        ready = ready_file()
        ready.parent.mkdir(parents=True, exist_ok=True)
        ready.write_text(str(os.getpid()), encoding="utf-8")
        log.info("candidate worker ready (database %s, runs in %s)", url.rsplit("/", 1)[-1], run_dir())
        try:
            while not _stopping.is_set():
                if take_and_run(jobs, db):
                    continue
                if args.once:
                    break
                # Until a NOTIFY or the next poll (a missed notification only costs a poll).
                for _ in listener.notifies(timeout=POLL_SECONDS, stop_after=1):
                    pass
        except Stopped:
            log.info("stopped in the middle of a job; the next worker takes it up again")
        finally:
            with contextlib.suppress(OSError):
                ready.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
