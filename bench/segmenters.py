"""Thai word segmentation engines that work offline: newmm (pythainlp) and nlpO3 (Rust).

    python -m bench.segmenters [--repeat 3] [--out results/bench-nlu-segmenters.json]

Speed (tokens per second over every training text) and agreement with newmm (share of
texts segmented identically, token-level F1 on word spans), each with pythainlp's word
list alone and with the project's dictionary (the `service:*` lookup tables) added.

pythainlp's word_tokenize(engine="nlpo3") ignores a custom dictionary (nlpO3 takes the
name of a dictionary loaded with nlpo3.load_dict, not a Trie), so the project's words
reach nlpO3 only through a word file loaded under its own name; that is done here.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("PYTHAINLP_OFFLINE", "1")

from pythainlp.corpus import thai_words
from pythainlp.tokenize._utils import apply_postprocessors, rejoin_formatted_num, strip_whitespace

from bot.nlu import thai_text

Segmenter = Callable[[str], list[str]]
_loaded: dict[frozenset[str], str] = {}


def nlpo3_dictionary(extra_words: frozenset[str]) -> str:
    """The nlpO3 name of pythainlp's word list plus `extra_words`, loading it once."""
    if extra_words not in _loaded:
        from nlpo3 import load_dict

        name = f"bench_{len(_loaded)}_{len(extra_words)}"
        words = sorted(set(thai_words()) | set(extra_words))
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
            f.write("\n".join(words))
        message, ok = load_dict(f.name, name)
        os.unlink(f.name)
        if not ok:
            raise RuntimeError(f"nlpo3 could not load the dictionary: {message}")
        _loaded[extra_words] = name
    return _loaded[extra_words]


def nlpo3_tokenize(text: str, dictionary: frozenset[str] = frozenset()) -> list[str]:
    """nlpO3 with the same post-processing as pythainlp's word_tokenize (numbers rejoined, no spaces)."""
    from nlpo3 import segment

    words = segment(text=text, dict_name=nlpo3_dictionary(dictionary), safe=False, parallel=False)
    return [w for w in apply_postprocessors(words, [rejoin_formatted_num, strip_whitespace]) if w.strip()]


def segmenters(dictionary: frozenset[str]) -> dict[str, Segmenter]:
    return {
        "newmm": lambda t: thai_text.tokenize(t),
        "newmm+project": lambda t: thai_text.tokenize(t, dictionary),
        "nlpo3": lambda t: nlpo3_tokenize(t),
        "nlpo3+project": lambda t: nlpo3_tokenize(t, dictionary),
    }


def spans(words: list[str]) -> set[tuple[int, int]]:
    out, offset = set(), 0
    for word in words:
        out.add((offset, offset + len(word)))
        offset += len(word)
    return out


def agreement(reference: list[list[str]], other: list[list[str]]) -> dict[str, float]:
    same = sum(a == b for a, b in zip(reference, other, strict=True))
    hits = gold = guessed = 0
    for a, b in zip(reference, other, strict=True):
        sa, sb = spans(a), spans(b)
        hits += len(sa & sb)
        gold += len(sa)
        guessed += len(sb)
    precision, recall = hits / guessed, hits / gold
    return {
        "identical": round(same / len(reference), 4),
        "token_f1": round(2 * precision * recall / (precision + recall), 4),
    }


def compare(texts: list[str], dictionary: frozenset[str], repeat: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    outputs: dict[str, list[list[str]]] = {}
    engines = segmenters(dictionary)
    best = dict.fromkeys(engines, float("inf"))
    for segment in engines.values():
        segment(texts[0])  # load the dictionary outside the timing
    # Rounds over all engines, best of each: other processes slow one round, not one engine.
    for _ in range(repeat):
        for name, segment in engines.items():
            start = time.perf_counter()
            outputs[name] = [segment(t) for t in texts]
            best[name] = min(best[name], time.perf_counter() - start)
    for name, words in outputs.items():
        tokens = sum(len(w) for w in words)
        results[name] = {
            "tokens": tokens,
            "seconds": round(best[name], 3),
            "tokens_per_s": round(tokens / best[name]),
            "us_per_text": round(1e6 * best[name] / len(texts), 1),
        }
    for name in results:
        reference = "newmm+project" if name.endswith("+project") else "newmm"
        results[name]["agreement_with"] = reference
        results[name].update(agreement(outputs[reference], outputs[name]))
    # How often the two engines disagree where it matters: around a project word.
    differing = [
        (t, outputs["newmm+project"][i], outputs["nlpo3+project"][i])
        for i, t in enumerate(texts)
        if outputs["newmm+project"][i] != outputs["nlpo3+project"][i]
    ]
    results["examples_of_difference"] = [
        {"text": t, "newmm": "|".join(a), "nlpo3": "|".join(b)} for t, a, b in differing[:8]
    ]
    return results


def main(argv: list[str] | None = None) -> int:
    from bench.nlu_data import load_corpus

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("results/bench-nlu-segmenters.json"))
    args = parser.parse_args(argv)
    corpus = load_corpus()
    texts = [thai_text.normalise(e.text) for e in corpus.examples]
    words = [w for t in corpus.lookup_tables if t["name"].startswith("service:") for w in t["elements"]]
    dictionary = thai_text.make_dictionary(words)
    results = compare(texts, dictionary, args.repeat)
    results["texts"] = len(texts)
    results["project_words"] = len(dictionary)
    print(f"{len(texts)} training texts (normalised), project dictionary of {len(dictionary)} words")
    print(f"{'engine':<16}{'tokens/s':>12}{'us/text':>10}{'identical':>11}{'token F1':>10}  (vs)")
    for name, r in results.items():
        if isinstance(r, dict) and "tokens_per_s" in r:
            print(
                f"{name:<16}{r['tokens_per_s']:>12}{r['us_per_text']:>10}{r['identical']:>11.3f}"
                f"{r['token_f1']:>10.3f}  ({r['agreement_with']})"
            )
    for d in results["examples_of_difference"][:4]:
        print(f"  {d['text']}\n    newmm {d['newmm']}\n    nlpo3 {d['nlpo3']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
