"""How often the catalog's names (ServiceLexicon) name the right service in the training data.

    python -m bench.lexicon [--data-dir data/nlu] [--show 10]

The lexicon is a feature of the classifiers and what lets a turn switch service, so a
name found where the writer meant another service, or in a follow-up that names none,
costs answers. No model and no dev set: every hand-written example of `data/nlu` (the
lexicon's own bare names left out) is looked up, and counted as

- right: among the services named is the example's own;
- only another: services are named, and the example's is not among them;
- none named: no name found;
- follow-ups named: a follow-up (service `none`) in which some service is found.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from bench.context import lexicon
from bench.nlu_data import DATA_DIR, LEXICON_FILE, Example, load_corpus
from bot.nlu.service_lexicon import ServiceLexicon
from contract.replies import ASK_INTENT, FOLLOW_UPS


def tally(names: ServiceLexicon, examples: Iterable[Example]) -> tuple[Counter[str], dict[str, list[str]]]:
    """The counts of each kind, and the misses as printable lines."""
    counts: Counter[str] = Counter()
    misses: dict[str, list[str]] = {"only another": [], "follow-ups named": []}
    for example in examples:
        if example.from_lexicon or example.intent != ASK_INTENT or not example.service:
            continue
        named = {s for mention in names.mentions(example.text) for s in mention["services"]}
        if example.service in FOLLOW_UPS:
            counts["follow-ups"] += 1
            if named:
                counts["follow-ups named"] += 1
                misses["follow-ups named"].append(f"{example.text}  -> {sorted(named)}")
            continue
        counts["questions"] += 1
        kind = "right" if example.service in named else "only another" if named else "none named"
        counts[kind] += 1
        if kind == "only another":
            misses[kind].append(f"{example.text}  [{example.service}] -> {sorted(named)}")
    return counts, misses


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--show", type=int, default=10, help="print this many examples of each kind of miss")
    args = parser.parse_args()

    counts, misses = tally(lexicon(args.data_dir / LEXICON_FILE), load_corpus(args.data_dir).examples)
    questions, follow_ups = max(counts["questions"], 1), max(counts["follow-ups"], 1)
    for kind, texts in misses.items():
        for text in texts[: args.show]:
            print(f"{kind}: {text}")
    print(
        f"LEXICON questions={counts['questions']} right={counts['right'] / questions:.3f} "
        f"only_another={counts['only another'] / questions:.3f} "
        f"none_named={counts['none named'] / questions:.3f} "
        f"follow_ups={counts['follow-ups']} follow_ups_named={counts['follow-ups named'] / follow_ups:.3f}"
    )


if __name__ == "__main__":
    main()
