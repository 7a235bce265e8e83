"""`make bench-nlu`: the project's NLU against its peers, in one run.

    .venv/rasa/bin/python -m bench.run [--community-folds 1] [--skip-e2e] [--segmenter-cv]
    .venv/rasa/bin/python -m bench.run --subset 600 --folds 2 --diet-epochs 2 --skip-e2e  # a quick check

The peers (bench/peers.py): "community", the plain community Rasa Thai pipeline given the
labels as intents (bench/community.yml), and "e5-knn", the labels of the nearest training
examples under the project's e5 model.

Stages, each in its own process (logs in results/bench-nlu/):
  1. segmenters   newmm against nlpO3: speed and agreement (bench/segmenters.py)
  2. cv           5-fold cross-validation of every pipeline per label (bench/cv.py)
  3. calibrate    the service and topic thresholds from the out-of-fold rankings (bench/calibrate.py)
  4. e2e          for the project and community pipelines: a full model trained, served
                  and scored on the dev conversations (bench/e2e.py). The community model
                  is trained on the project's files as they are, so it cannot name a
                  service (its dev service figures are 0): the CV rows compare understanding.
Prints one table and writes results/bench-nlu.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.calibrate import limits_text

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "results/bench-nlu"
PIPELINES = {"community": "bench/community.yml", "project": "config.yml"}
LABEL_ROWS = [
    ("intent", "intent"),
    ("service", "service"),
    ("service:written", "service (written)"),
    ("topic", "topic"),
]


def stage(name: str, module: str, *args: str) -> str:
    """Run `python -m module args` from the repository; return its stdout (kept in results/bench-nlu/)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PYTHAINLP_OFFLINE": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "RASA_TELEMETRY_ENABLED": "false",
    }
    print(f"== {name}: python -m {module} {' '.join(args)}", flush=True)
    start = time.perf_counter()
    with open(OUT_DIR / f"{name}.err", "w", encoding="utf-8") as err:
        done = subprocess.run(
            [sys.executable, "-m", module, *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    (OUT_DIR / f"{name}.log").write_text(done.stdout, encoding="utf-8")
    print(done.stdout, end="", flush=True)
    print(f"== {name}: {time.perf_counter() - start:.0f}s", flush=True)
    if done.returncode != 0:
        raise SystemExit(f"{name} failed; see {OUT_DIR / (name + '.err')}")
    return done.stdout


def fmt(value: Any, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


def table(report: dict[str, Any]) -> str:
    cv, e2e = report.get("cv") or {}, report.get("e2e") or {}
    columns = ["community", "project", "project-no-e5", "e5-knn"]
    rows: list[tuple[str, list[str]]] = []
    paired = cv.get("scores_paired") or cv.get("scores") or {}
    folds = cv.get("community_folds") or cv.get("folds")
    for key, title in LABEL_ROWS:
        cells = []
        for p in columns:
            s = paired.get(p, {}).get(key)
            cells.append(f"{s['accuracy']:.3f} / {s['macro_f1']:.3f}" if s else "-")
        rows.append((f"CV {title} acc / macro-F1", cells))
    for key, title in LABEL_ROWS:
        if key == "service:written":
            continue
        cells = []
        for p in columns:
            s = paired.get(p, {}).get(key)
            cells.append(
                f"{s['confidently_wrong']:.3f} / {s['answered']:.3f}"
                if s and "confidently_wrong" in s
                else "-"
            )
        rows.append((f"CV {title} conf. wrong / answered", cells))
    calibrated = {c["pipeline"]: c for c in (report.get("calibration") or {}).get("calibration", [])}
    rows.append(
        (
            "CV service (written) at <=1% wrong: acc / asked",
            [
                f"{calibrated[p]['service']['accuracy']:.3f} / {calibrated[p]['service']['asked_back']:.3f}"
                if calibrated.get(p, {}).get("service")
                else "-"
                for p in columns
            ],
        )
    )
    seconds = cv.get("train_seconds_per_fold", {})
    rows.append(
        (
            "CV training s per fold",
            [fmt(sum(seconds[p]) / len(seconds[p]), ".0f") if seconds.get(p) else "-" for p in columns],
        )
    )
    lat = cv.get("latency_ms", {})
    rows.append(
        (
            "NLU ms/message p50 / p95",
            [f"{lat[p]['p50']:.0f} / {lat[p]['p95']:.0f}" if p in lat else "-" for p in columns],
        )
    )
    for key in (
        "overall",
        "service_accuracy",
        "service_topic_accuracy",
        "non_service_accuracy",
        "confidently_wrong",
        "clarified_instead",
    ):
        rows.append((f"dev {key}", [fmt(e2e.get(p, {}).get("summary", {}).get(key)) for p in columns]))
    rows.append(
        (
            "dev latency ms p50 / p95",
            [
                f"{e2e[p]['summary']['latency_p50_ms']:.0f} / {e2e[p]['summary']['latency_p95_ms']:.0f}"
                if p in e2e
                else "-"
                for p in columns
            ],
        )
    )
    rows.append(("full training s", [fmt(e2e.get(p, {}).get("train_seconds"), ".0f") for p in columns]))
    rows.append(
        ("model size MB", [fmt(e2e[p]["model_bytes"] / 1e6, ".2f") if p in e2e else "-" for p in columns])
    )
    rows.append(
        (
            "Rasa PSS MB idle / after",
            [
                f"{e2e[p]['rasa_pss_mb_idle']:.0f} / {e2e[p]['rasa_pss_mb_after_eval']:.0f}"
                if p in e2e
                else "-"
                for p in columns
            ],
        )
    )
    width = max(len(r[0]) for r in rows) + 2
    lines = [
        f"NLU comparison (CV: {cv.get('folds')} folds, scored on the {folds} the community pipeline ran on; "
        f"DIET epochs {cv.get('diet_epochs')}; community labels {cv.get('community_labels', 'per-label')}"
        + (f"; a subset of {cv['subset']} examples" if cv.get("subset") else "")
        + ")",
        f"{'':<{width}}" + "".join(f"{c:>18}" for c in columns),
    ]
    lines += [f"{name:<{width}}" + "".join(f"{c:>18}" for c in cells) for name, cells in rows]
    lines.append(
        "conf. wrong: acted on with a wrong label as configured (FallbackClassifier, the project's "
        "thresholds; e5-knn: Rasa's fallback defaults); <=1% wrong: bench/calibrate.py's best thresholds"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--community-folds",
        type=int,
        default=1,
        help="folds the community pipeline (DIET, slow) is cross-validated on; the project on all",
    )
    parser.add_argument("--diet-epochs", type=int, default=0, help="override bench/community.yml")
    parser.add_argument(
        "--community-labels",
        choices=["per-label", "joint"],
        default="per-label",
        help="how the community pipeline is given the service and topic (see bench/cv.py)",
    )
    parser.add_argument("--subset", type=int, default=0, help="cross-validate N random examples only")
    parser.add_argument("--project-config", type=Path, default=Path("config.yml"))
    parser.add_argument("--port-base", type=int, default=25100)
    parser.add_argument("--skip-cv", action="store_true", help="reuse results/bench-nlu-cv.json")
    parser.add_argument("--skip-e2e", action="store_true")
    parser.add_argument(
        "--segmenter-cv",
        action="store_true",
        help="also cross-validate the project pipeline (without e5) segmented by nlpO3",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "results/bench-nlu.json")
    args = parser.parse_args(argv)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    report: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_at_start": os.getloadavg(),
            "python": platform.python_version(),
        },
    }

    stage("segmenters", "bench.segmenters", "--out", str(OUT_DIR / "segmenters.json"))
    report["segmenters"] = json.loads((OUT_DIR / "segmenters.json").read_text(encoding="utf-8"))

    cv_file = ROOT / "results/bench-nlu-cv.json"
    if not args.skip_cv:
        cv_args = [
            "--folds",
            str(args.folds),
            "--seed",
            str(args.seed),
            "--community-folds",
            str(args.community_folds),
            "--community-labels",
            args.community_labels,
            "--project-config",
            str(args.project_config),
            "--out",
            str(cv_file),
        ]
        if args.diet_epochs:
            cv_args += ["--diet-epochs", str(args.diet_epochs)]
        if args.subset:
            cv_args += ["--subset", str(args.subset)]
        stage("cv", "bench.cv", *cv_args)
    cv = json.loads(cv_file.read_text(encoding="utf-8"))
    report["cv"] = {k: v for k, v in cv.items() if k not in ("predictions", "examples_detail")}

    if args.segmenter_cv:
        nlpo3_file = OUT_DIR / "cv-nlpo3.json"
        stage(
            "cv-nlpo3",
            "bench.cv",
            "--folds",
            str(args.folds),
            "--seed",
            str(args.seed),
            "--skip-community",
            "--segmenter",
            "nlpo3",
            "--no-dense",
            "--out",
            str(nlpo3_file),
        )
        nlpo3 = json.loads(nlpo3_file.read_text(encoding="utf-8"))
        report["cv_nlpo3"] = {k: v for k, v in nlpo3.items() if k not in ("predictions", "examples_detail")}

    stage("calibrate", "bench.calibrate", "--cv", str(cv_file), "--out", str(OUT_DIR / "calibration.json"))
    report["calibration"] = json.loads((OUT_DIR / "calibration.json").read_text(encoding="utf-8"))

    if not args.skip_e2e:
        report["e2e"] = {}
        for name, config in PIPELINES.items():
            out = stage(
                f"e2e-{name}",
                "bench.e2e",
                "--config",
                config,
                "--name",
                name,
                "--port-base",
                str(args.port_base),
                "--out-dir",
                str(OUT_DIR.relative_to(ROOT)),
            )
            line = next(x for x in reversed(out.splitlines()) if x.startswith("E2E "))
            report["e2e"][name] = json.loads(line[4:])

    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    print()
    print(table(report))
    for result in report["calibration"]["calibration"]:
        s, t = result["service"], result["topic"]
        if s:
            print(
                f"calibrated [{result['pipeline']}] service threshold={s['threshold']} "
                f"ambiguity_margin={s['ambiguity_margin']} (accuracy {s['accuracy']:.3f}, "
                f"confidently wrong {s['confidently_wrong']:.3f}, asked back {s['asked_back']:.3f}); "
                + (f"topic threshold={t['threshold']} (accuracy {t['accuracy']:.3f})" if t else "topic: none")
            )
    for row in report["calibration"]["cascade"]:
        print(
            f"cascade limits {limits_text(row['limits'])}: e5 for {100 * row['e5_share']:.0f}% of messages, "
            f"intent {row['intent']:.3f} service {row['service']:.3f} topic {row['topic']:.3f}"
        )
    seg = report["segmenters"]
    print(
        "segmenters: "
        + ", ".join(
            f"{n} {seg[n]['tokens_per_s'] / 1000:.0f}k tokens/s (identical {seg[n]['identical']:.3f})"
            for n in ("newmm", "newmm+project", "nlpo3", "nlpo3+project")
        )
    )
    shown = args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out
    print(f"wrote {shown} in {report['wall_seconds'] / 60:.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
