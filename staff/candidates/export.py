"""Write what deployed candidates added into the repository: the regression set and the training data.

    python -m staff.candidates.export [--regression-dir regression] [--examples data/nlu/agency_examples.yml]

The regression questions added by deployed candidates (table regression_question) are appended to
regression/<agency>.yml (those already there are left out), and the accepted examples are written
as Rasa training data, so that `make train` learns them and a fresh machine starts with them.
Once in data/, the worker leaves them out of agency_accepted.yml (no example twice).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import psycopg
from psycopg.rows import dict_row

from staff.candidates import regression
from staff.candidates.trainingdata import render
from staff.candidates.worker import staff_db_url

HEADER = "Example questions agencies added through candidate models (python -m staff.candidates.export)."


def export(url: str, regression_dir: Path, examples_file: Path) -> tuple[int, int]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        added = conn.execute(
            "SELECT agency, service_id, topic, text, candidate_id FROM regression_question ORDER BY id"
        ).fetchall()
        accepted = conn.execute(
            """SELECT service_id, topic, text FROM candidate_example
                WHERE accepted_at IS NOT NULL ORDER BY accepted_at, id"""
        ).fetchall()
    new_questions = 0
    by_agency: dict[str, list[regression.Question]] = {}
    for question in regression.from_rows(added):
        by_agency.setdefault(question.agency or "unknown", []).append(question)
    for agency, questions in sorted(by_agency.items()):
        path = regression_dir / f"{agency}.yml"
        existing = regression.read_file(path) if path.exists() else []
        merged = regression.merged(existing, questions)
        if len(merged) == len(existing):
            continue
        new_questions += len(merged) - len(existing)
        header = "".join(line[2:] + "\n" for line in path.read_text(encoding="utf-8").splitlines()
                         if line.startswith("# ")) if path.exists() else f"Regression questions of {agency}."
        path.write_text(regression.render(agency, merged, header.rstrip("\n")), encoding="utf-8")
    if accepted:
        examples_file.write_text(render([(r["service_id"], r["topic"], r["text"]) for r in accepted], HEADER),
                                 encoding="utf-8")
    return new_questions, len(accepted)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m staff.candidates.export",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--regression-dir", type=Path, default=regression.REGRESSION_DIR)
    parser.add_argument("--examples", type=Path,
                        default=regression.ROOT / "data" / "nlu" / "agency_examples.yml")
    args = parser.parse_args(argv)
    questions, examples = export(staff_db_url(), args.regression_dir, args.examples)
    print(f"{questions} regression questions added to {args.regression_dir}; "
          f"{examples} accepted examples in {args.examples if examples else '(none)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
