"""The candidate worker's steps that need Rasa: run in Rasa's environment (.venv/rasa, Python 3.10).

The worker (staff/candidates/worker.py, services' environment) runs these as subprocesses and
reads their JSON; progress goes to stdout as lines `progress <0..1> <what>`.

    python -m staff.candidates.rasa_side answers --model LIVE.tar.gz --model CANDIDATE.tar.gz \\
        --questions questions.json --out answers.json
    python -m staff.candidates.rasa_side cv --data DIR --out cv.json [--folds 3]
    python -m staff.candidates.rasa_side faq --catalog URL --entries entries.json --out data/nlu/faq.yml

`answers`: each model loaded once with Rasa's Python API (Agent.load, parse_message), never the
live server, reads every question; the answer is what the bot acts on: the intent, the service
and the topic unless the classifier was unsure (then it asks back: null).

`cv`: out-of-fold predictions of the service and the topic on the `ask_service` examples, by the
project's pipeline without e5 (config.yml's word, character and question features with its
service and topic classifiers, as bench/cv.py builds them, the intent classifier left out), on
3 folds. A text's fold is a hash of its normalised form, so adding examples moves no other
example to another fold and the folds keep equal texts together. The result is cached by the
data, the config and the NLU code (CV_CACHE_DIR, default ~/.cache/thai-eservice/cv): the live
model's data is scored once for all the candidates gated against it.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("PYTHAINLP_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parents[2]
CV_FORMAT = 1
DEFAULT_FOLDS = 3
# The classifiers the cross-validation scores (the intent is the regression set's business).
CV_CLASSIFIERS = ("ServiceClassifier", "TopicClassifier")
NOT_AN_ANSWER = {"none", "previous"}


def progress(fraction: float, what: str) -> None:
    print(f"progress {fraction:.3f} {what}", flush=True)


# -- answers -----------------------------------------------------------------------------------------
def answer_of(parse: dict[str, Any]) -> dict[str, Any]:
    def verdict(key: str) -> str | None:
        result = parse.get(key) or {}
        name = result.get("name")
        return None if result.get("ambiguous", True) or name in NOT_AN_ANSWER else name

    return {
        "intent": (parse.get("intent") or {}).get("name"),
        "service_id": verdict("service"),
        "topic": verdict("topic"),
        "service_confidence": (parse.get("service") or {}).get("confidence"),
    }


def answers(models: list[Path], texts: list[str]) -> list[dict[str, Any]]:
    from rasa.core.agent import Agent

    loop = asyncio.new_event_loop()
    out = []
    steps = len(models) * (len(texts) + 1)
    done = 0
    for path in models:
        started = time.perf_counter()
        agent = Agent.load(str(path))
        loaded = time.perf_counter() - started
        done += 1
        progress(done / steps, f"loaded {path.name}")
        results = []
        for n, text in enumerate(texts):
            results.append(answer_of(loop.run_until_complete(agent.parse_message(text))))
            done += 1
            if n % 20 == 0:
                progress(done / steps, f"{path.name}: {n + 1} of {len(texts)}")
        out.append(
            {
                "model": str(path),
                "model_id": agent.model_id,
                "load_seconds": round(loaded, 1),
                "seconds": round(time.perf_counter() - started, 1),
                "answers": results,
            }
        )
        del agent
        gc.collect()
    loop.close()
    return out


# -- cross-validation ----------------------------------------------------------------------------------
def _fold_of(text: str, folds: int) -> int:
    from bot.nlu import thai_text

    return int(hashlib.sha256(thai_text.normalise(text).encode("utf-8")).hexdigest(), 16) % folds


def _cache_key(corpus: Any, config: Path, folds: int) -> str:
    digest = hashlib.sha256(f"cv {CV_FORMAT} folds {folds}\n".encode())
    for e in corpus.examples:
        digest.update(json.dumps([e.text, e.intent, e.service, e.topic, e.entities], ensure_ascii=False,
                                 sort_keys=True, default=str).encode())
    digest.update(json.dumps(corpus.lookup_tables, ensure_ascii=False, sort_keys=True, default=str).encode())
    digest.update(json.dumps(corpus.regex_features, ensure_ascii=False, sort_keys=True, default=str).encode())
    digest.update(config.read_bytes())
    for path in sorted((ROOT / "bot" / "nlu").glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def cv_cache_dir() -> Path | None:
    configured = os.environ.get("CV_CACHE_DIR", "").strip()
    if configured.lower() == "off":
        return None
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "thai-eservice" / "cv"


def cross_validate(data_dir: Path, folds: int, config: Path, workdir: Path) -> dict[str, Any]:
    from bench.cv import DENSE_FEATURIZER, fresh
    from bench.nlu_data import load_corpus
    from bench.pipeline import Pipeline, pipeline_steps, split_at
    from contract.replies import ASK_INTENT

    corpus = load_corpus(data_dir / "nlu")
    key = _cache_key(corpus, config, folds)
    cache = cv_cache_dir()
    cached = cache / f"{key}.json" if cache else None
    if cached is not None and cached.exists():
        result = json.loads(cached.read_text(encoding="utf-8"))
        result["cached"] = True
        progress(1.0, "cross-validation from the cache")
        return result

    started = time.perf_counter()
    prefix, _, classifiers = split_at(pipeline_steps(config), DENSE_FEATURIZER)
    after = {step["name"] for step in classifiers}
    # As bench/cv.py: the cascade's first classifiers are the ones after e5, on sparse features only.
    prefix = [step for step in prefix if step["name"] not in after]
    classifiers = [step for step in classifiers if step["name"].split(".")[-1] in CV_CLASSIFIERS]
    fold_of = [_fold_of(e.text, folds) for e in corpus.examples]
    rows: list[dict[str, Any]] = []
    for k in range(folds):
        train = [i for i, f in enumerate(fold_of) if f != k]
        test = [
            i for i, f in enumerate(fold_of)
            if f == k and corpus.examples[i].intent == ASK_INTENT and corpus.examples[i].service
        ]
        first = Pipeline.build(prefix, workdir / f"f{k}", f"f{k}_prefix")
        second = Pipeline.build(classifiers, workdir / f"f{k}", f"f{k}_classifiers")
        data = corpus.training_data(train)
        first.fit(data)
        second.fit(data)
        messages = second.process(first.process(fresh([corpus.examples[i].text for i in test])))
        for i, message in zip(test, messages, strict=True):
            example = corpus.examples[i]

            def top(label: str, message: Any = message) -> str | None:
                ranking = (message.get(label) or {}).get("ranking") or []
                return ranking[0]["name"] if ranking else None

            rows.append(
                {
                    "text": example.text,
                    "service": example.service,
                    "topic": example.topic,
                    "predicted_service": top("service"),
                    "predicted_topic": top("topic"),
                    "fold": k,
                }
            )
        progress((k + 1) / folds, f"fold {k + 1} of {folds}")
    result = {"folds": folds, "seconds": round(time.perf_counter() - started, 1), "rows": rows, "key": key}
    if cached is not None:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            temporary = cached.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
            os.replace(temporary, cached)
        except OSError as exc:
            print(f"cv cache not written: {exc}", file=sys.stderr)
    result["cached"] = False
    return result


# -- FAQ training data ---------------------------------------------------------------------------------
def faq(catalog: str, entries_file: Path, out: Path) -> int:
    """data/nlu/faq.yml from the catalog's live FAQ entries, with the candidate's entries replacing theirs."""
    import requests

    from catalog import faq_training

    changed = json.loads(entries_file.read_text(encoding="utf-8"))
    with requests.Session() as session:
        # The catalog lists at most 200 records at once.
        listing = session.get(f"{catalog}/services", params={"limit": 200}, timeout=10)
        listing.raise_for_status()
        ids = [item["id"] for item in listing.json()["items"]]
        records = [session.get(f"{catalog}/services/{i}", timeout=10).json() for i in ids]
        try:
            entries = []
            for service_id in ids:
                answer = session.get(f"{catalog}/services/{service_id}/faq", timeout=10)
                answer.raise_for_status()
                entries += answer.json()["items"]
        except (requests.RequestException, KeyError, ValueError) as exc:
            print(f"FAQ entries of {catalog} unavailable ({exc}); using catalog/faq", file=sys.stderr)
            entries = faq_training.read_faq_dir()
    by_id = {e["id"]: e for e in entries}
    for entry in changed:
        by_id[entry["id"]] = entry
    merged = list(by_id.values())
    problems = faq_training.check(merged)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 2
    out.write_text(faq_training.render(merged, faq_training.name_finder(records)), encoding="utf-8")
    print(f"{out}: {len(merged)} FAQ entries ({len(changed)} from the candidate)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m staff.candidates.rasa_side", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    ask = commands.add_parser("answers")
    ask.add_argument("--model", type=Path, action="append", required=True)
    ask.add_argument("--questions", type=Path, required=True, help="a JSON list of texts")
    ask.add_argument("--out", type=Path, required=True)
    cv = commands.add_parser("cv")
    cv.add_argument("--data", type=Path, required=True)
    cv.add_argument("--out", type=Path, required=True)
    cv.add_argument("--folds", type=int, default=DEFAULT_FOLDS)
    cv.add_argument("--config", type=Path, default=ROOT / "config.yml")
    cv.add_argument("--workdir", type=Path)
    entries = commands.add_parser("faq")
    entries.add_argument("--catalog", required=True)
    entries.add_argument("--entries", type=Path, required=True)
    entries.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    if args.command == "answers":
        texts = json.loads(args.questions.read_text(encoding="utf-8"))
        result: Any = answers(args.model, texts)
    elif args.command == "cv":
        import tempfile

        with tempfile.TemporaryDirectory(prefix="candidate-cv-", dir=args.workdir) as tmp:
            result = cross_validate(args.data, args.folds, args.config, Path(tmp))
    else:
        return faq(args.catalog, args.entries, args.out)
    args.out.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
