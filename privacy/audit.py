"""`python -m privacy.audit`: after a full test run, look for the planted personal data everywhere
the project keeps anything, and count what is found (it must be nothing).

The tests send the values of PLANTED (fake, but valid as written: the ID's check digit is right,
the phone number is a Thai mobile number) through the web chat, LINE and a handoff to a person
(tests/gateway/test_pii_planted.py). Masking and the keyed hash of LINE ids must keep every one
of them out of:
- PostgreSQL: every table of every database on the server but `postgres` and the templates
  (Rasa's tracker stores, the staff side, analytics, the catalog when it runs on PostgreSQL),
  each row as PostgreSQL prints it;
- Redis: every key and value of every database in use (locks, rate limits, event ids, ...);
- the files under run/: the processes' logs (*.log) and SQLite databases (the catalog).

A value is found in any writing: separators between digits are ignored, Thai digits read as
digits, JSON's \\uXXXX escapes and URL escapes decoded, letters compared without case. A phone
number is found with its 0 or with 66 in front.

Run it with the services' environment (psycopg, redis); exit status 1 when anything is found,
2 when a store cannot be searched (a check that could not look proves nothing).
"""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import unquote

# Fake values the tests plant. The ID is checksum-valid and starts with 3 (no real ID is implied);
# 086-349-1752 is a possible Thai mobile number; example.com is reserved; the account number and
# the LINE id are made up in their formats (xxx-x-xxxxx-x, U and 32 hex digits).
PLANTED = {
    "national_id": "3710500286513",
    "phone": "0863491752",
    "email": "planted.pii.k7q@example.com",
    "bank_account": "7362581490",
    "line_user_id": "U7c3e9a1f5b2d4068a9e1c7f3b5d20e4a",
}
# How the tests write them in messages, besides the forms above.
WRITTEN = {
    "national_id": ("3-7105-00286-51-3", "๓๗๑๐๕๐๐๒๘๖๕๑๓", "3 7105 00286 51 3"),
    "phone": ("086-349-1752", "+66 86 349 1752", "๐๘๖๓๔๙๑๗๕๒"),
    "email": ("Planted.PII.k7q@example.com",),
    "bank_account": ("736-2-58149-0", "736 2 58149 0"),
    "line_user_id": (),
}

REPO_ROOT = Path(__file__).resolve().parent.parent
_SEP = r"[\s.\-\u2010-\u2013()/]{0,3}"
_THAI_DIGITS = "๐๑๒๓๔๕๖๗๘๙"
_ESCAPE = re.compile(r"\\+u([0-9a-fA-F]{4})")


def _digits(digits: str) -> str:
    return _SEP.join(f"[{d}{_THAI_DIGITS[int(d)]}]" for d in digits)


def patterns(planted: dict[str, str] = PLANTED) -> dict[str, re.Pattern[str]]:
    """One pattern per planted value that finds it in any writing."""
    phone = planted["phone"]
    return {
        "national_id": re.compile(rf"(?<!\d){_digits(planted['national_id'])}(?!\d)"),
        "phone": re.compile(rf"(?<!\d)(?:[0๐]|\+?\s?[6๖][6๖]){_SEP}{_digits(phone[1:])}(?!\d)"),
        "email": re.compile(re.escape(planted["email"]), re.IGNORECASE),
        "bank_account": re.compile(rf"(?<!\d){_digits(planted['bank_account'])}(?!\d)"),
        "line_user_id": re.compile(re.escape(planted["line_user_id"]), re.IGNORECASE),
    }


def readable(text: str) -> str:
    """The text with JSON and URL escapes decoded, as a person reading the store would see it."""
    text = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    return unquote(text) if "%" in text else text


class Findings:
    def __init__(self, planted: dict[str, str] = PLANTED) -> None:
        self._patterns = patterns(planted)
        self.counts: Counter[str] = Counter({name: 0 for name in planted})
        self.where: dict[str, Counter[str]] = {name: Counter() for name in planted}
        self.searched: Counter[str] = Counter()

    def search(self, text: str, where: str) -> None:
        text = readable(text)
        for name, pattern in self._patterns.items():
            found = len(pattern.findall(text))
            if found:
                self.counts[name] += found
                self.where[name][where] += found

    @property
    def total(self) -> int:
        return sum(self.counts.values())


# ---- PostgreSQL ------------------------------------------------------------------------------


def _pg_url(database: str) -> str:
    host = os.environ.get("TRACKER_DB_HOST", "127.0.0.1")
    port = os.environ.get("TRACKER_DB_PORT", "5432")
    user = os.environ.get("TRACKER_DB_USER", "postgres")
    password = os.environ.get("TRACKER_DB_PASSWORD", "")
    auth = f"{user}:{password}" if password else user
    return f"postgresql://{auth}@{host}:{port}/{database}"


def search_postgres(findings: Findings, only: list[str] | None = None) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(_pg_url("postgres"), autocommit=True) as conn:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT datname FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres'"
                " AND datallowconn ORDER BY datname"
            )
        ]
    for database in names:
        if only and not any(re.fullmatch(p.replace("*", ".*"), database) for p in only):
            continue
        try:
            conn = psycopg.connect(_pg_url(database), autocommit=True)
        except psycopg.OperationalError:  # dropped meanwhile (a test's throwaway database)
            continue
        with conn:
            tables = conn.execute(
                """SELECT table_schema, table_name FROM information_schema.tables
                    WHERE table_type = 'BASE TABLE'
                      AND table_schema NOT IN ('pg_catalog', 'information_schema')"""
            ).fetchall()
            for schema, table in tables:
                # The whole row as text, under an alias no column is called (a bare `t` would be
                # the column t of a table that has one).
                query = sql.SQL(
                    'SELECT ROW("privacy audit row".*)::text FROM {}.{} AS "privacy audit row"'
                ).format(sql.Identifier(schema), sql.Identifier(table))
                with conn.transaction(), conn.cursor(name="audit") as cur:
                    cur.itersize = 2000
                    cur.execute(query)
                    for (row,) in cur:
                        findings.search(row, f"postgresql {database}.{schema}.{table}")
                        findings.searched["postgresql rows"] += 1
                findings.searched["postgresql tables"] += 1
        findings.searched["postgresql databases"] += 1


# ---- Redis -----------------------------------------------------------------------------------


def _redis_values(client: object, key: bytes) -> Iterator[bytes]:
    kind = client.type(key).decode()  # type: ignore[attr-defined]
    if kind == "string":
        yield client.get(key) or b""  # type: ignore[attr-defined]
    elif kind == "hash":
        for field, value in client.hgetall(key).items():  # type: ignore[attr-defined]
            yield field
            yield value
    elif kind == "list":
        yield from client.lrange(key, 0, -1)  # type: ignore[attr-defined]
    elif kind == "set":
        yield from client.smembers(key)  # type: ignore[attr-defined]
    elif kind == "zset":
        yield from client.zrange(key, 0, -1)  # type: ignore[attr-defined]
    elif kind == "stream":
        for entry_id, fields in client.xrange(key):  # type: ignore[attr-defined]
            yield entry_id
            for field, value in fields.items():
                yield field
                yield value


def search_redis(findings: Findings) -> None:
    import redis

    host = os.environ.get("REDIS_HOST", "127.0.0.1")
    port = int(os.environ.get("REDIS_PORT", "6379"))
    keyspace = redis.Redis(host=host, port=port).info("keyspace")
    for name in sorted(keyspace):
        db = int(str(name).removeprefix("db"))
        client = redis.Redis(host=host, port=port, db=db)
        for key in client.scan_iter(count=1000):
            where = f"redis db{db}"
            findings.search(key.decode("utf-8", "replace"), where)
            for value in _redis_values(client, key):
                findings.search(value.decode("utf-8", "replace"), where)
            findings.searched["redis keys"] += 1
        findings.searched["redis databases"] += 1
        client.close()


# ---- files under run/ ------------------------------------------------------------------------


def _sqlite_rows(path: Path) -> Iterable[str]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            quoted = '"' + table.replace('"', '""') + '"'
            for row in conn.execute(f"SELECT * FROM {quoted}"):
                yield " | ".join(
                    v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in row
                )
    finally:
        conn.close()


def search_files(findings: Findings, roots: list[Path]) -> None:
    for root in roots:
        if not root.exists():
            continue
        for path in sorted(root.rglob("*")):
            if not path.is_file():
                continue
            if path.suffix == ".log" or ".log." in path.name:
                with path.open(encoding="utf-8", errors="replace") as lines:
                    for line in lines:
                        findings.search(line, f"log {path}")
                findings.searched["log files"] += 1
            elif path.suffix in (".db", ".sqlite", ".sqlite3"):
                try:
                    for row in _sqlite_rows(path):
                        findings.search(row, f"sqlite {path}")
                except sqlite3.DatabaseError:
                    continue  # not SQLite after all
                findings.searched["sqlite files"] += 1


def report(findings: Findings, out: object = sys.stdout) -> None:
    print("planted personal data found after the tests (every count must be 0):", file=out)
    for name, count in findings.counts.items():
        print(f"  {name:14s} {count:6d}", file=out)
        for where, n in findings.where[name].most_common(10):
            print(f"      {n:6d}  {where}", file=out)
    searched = ", ".join(f"{n} {what}" for what, n in findings.searched.items())
    print(f"searched: {searched}", file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m privacy.audit", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--db", action="append", help="only these PostgreSQL databases (repeatable; * as wildcard)"
    )
    parser.add_argument(
        "--files",
        action="append",
        type=Path,
        help=f"folders of logs and SQLite files (default {REPO_ROOT}/run)",
    )
    args = parser.parse_args(argv)
    findings = Findings()
    try:
        search_postgres(findings, args.db)
        search_redis(findings)
    except Exception as exc:  # unreachable store: say so, and fail
        print(f"privacy.audit: could not search every store: {type(exc).__name__}: {exc}", file=sys.stderr)
        report(findings, sys.stderr)
        return 2
    search_files(findings, args.files or [REPO_ROOT / "run"])
    report(findings)
    return 1 if findings.total else 0


if __name__ == "__main__":
    raise SystemExit(main())
