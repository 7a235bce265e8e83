"""Command line: `python -m catalog --host 127.0.0.1 --port 8001 [--database URL] [--no-seed]`.

The admin API (the gateway's agency edits) is on when CATALOG_ADMIN_TOKEN is set.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import uvicorn
from sqlalchemy.exc import SQLAlchemyError

from catalog.app import create_app
from catalog.models import SEED_DIR, SeedError, load_seeds
from catalog.store import DEFAULT_DATABASE_URL, CatalogStore
from privacy import mask

log = logging.getLogger("catalog")

# Query values are what citizens typed and may hold an ID number, phone or e-mail; only these are safe.
_SAFE_PARAMS = {"category", "limit"}


def mask_pii(path: str) -> str:
    """Mask personal data in a request path so access logs never carry it."""
    base, sep, query = path.partition("?")
    if sep:
        pairs = [(k, v if k in _SAFE_PARAMS else "***") for k, v in parse_qsl(query, keep_blank_values=True)]
        base = f"{base}?{urlencode(pairs, safe='*')}"
    return mask(base)


class _MaskAccessLog(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # uvicorn.access args: (client_addr, method, full_path, http_version, status_code)
        if isinstance(record.args, tuple) and len(record.args) >= 3:
            args = list(record.args)
            args[2] = mask_pii(str(args[2]))
            record.args = tuple(args)
        return True


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m catalog", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument(
        "--database",
        default=os.environ.get("CATALOG_DATABASE_URL") or DEFAULT_DATABASE_URL,
        help="SQLAlchemy URL (env CATALOG_DATABASE_URL; default: SQLite run/catalog.db)",
    )
    parser.add_argument(
        "--seed",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="load catalog/seed/*.json into the database on start (default: on)",
    )
    parser.add_argument("--seed-dir", type=Path, default=SEED_DIR)
    parser.add_argument("--check", action="store_true", help="only validate the seed files, then exit")
    parser.add_argument("--log-level", default="info")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")

    records = []
    if args.seed or args.check:
        try:
            records = load_seeds(args.seed_dir)
        except SeedError as exc:
            print(f"catalog: invalid seed data:\n{exc}", file=sys.stderr)
            return 2
        if args.check:
            print(f"catalog: {len(records)} seed records are valid")
            return 0

    store = CatalogStore.from_url(args.database)
    try:
        store.create_schema()
        if records:
            # Records already loaded keep their live state (and agencies' edits); see CatalogStore.seed.
            log.info("loaded %d of %d seed records from %s", store.seed(records), len(records), args.seed_dir)
    except SQLAlchemyError as exc:
        # The URL may carry a password; name only the backend.
        print(
            f"catalog: database error ({store.engine.url.get_backend_name()}): {exc.__class__.__name__}: "
            f"{str(exc.orig if hasattr(exc, 'orig') else exc).splitlines()[0]}",
            file=sys.stderr,
        )
        return 3

    logging.getLogger("uvicorn.access").addFilter(_MaskAccessLog())
    uvicorn.run(create_app(store), host=args.host, port=args.port, log_level=args.log_level.lower())
    return 0


if __name__ == "__main__":
    sys.exit(main())
