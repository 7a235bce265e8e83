"""python -m analytics [run] | reconcile [--since YYYY-MM-DD | --days N] | purge"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import time

from analytics import store
from analytics.config import AnalyticsSettings
from analytics.consumer import Consumer, purge, reconcile
from analytics.tracker import TrackerStore
from privacy import masking_handler

BANGKOK = dt.timezone(dt.timedelta(hours=7))


def _since(args: argparse.Namespace) -> float:
    if args.since:
        day = dt.date.fromisoformat(args.since)
        return dt.datetime.combine(day, dt.time(), BANGKOK).timestamp()
    return time.time() - args.days * 86400


async def _reconcile(settings: AnalyticsSettings, since: float) -> None:
    pool = await store.open_store(settings.staff_db_url)
    tracker = TrackerStore(settings.tracker_db_url)
    try:
        result = await reconcile(pool, tracker, since, settings.retention_days)
        cleared = await purge(pool, settings.retention_days)
        print(f"reconciled {result.conversations} conversations, {result.turns} turns;", end=" ")
        print(f"{cleared} texts past retention cleared")
    finally:
        await tracker.close()
        await pool.close()


async def _purge(settings: AnalyticsSettings) -> None:
    pool = await store.open_store(settings.staff_db_url)
    try:
        print(f"{await purge(pool, settings.retention_days)} texts past retention cleared")
    finally:
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m analytics", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run", help="consume Rasa's events (the default)")
    again = commands.add_parser("reconcile", help="rebuild rows from the tracker store")
    again.add_argument("--since", help="a Thai day, YYYY-MM-DD: conversations with events from then on")
    again.add_argument("--days", type=float, default=1.0, help="or: events in the last N days (default 1)")
    commands.add_parser("purge", help="clear texts older than ANALYTICS_RETENTION_DAYS")
    args = parser.parse_args()

    # One handler for the whole process, masking personal data in every record (as the gateway).
    root = logging.getLogger()
    root.handlers[:] = [masking_handler()]
    root.setLevel(logging.INFO)
    logging.getLogger("aiormq").setLevel(logging.WARNING)
    logging.getLogger("aio_pika").setLevel(logging.WARNING)
    settings = AnalyticsSettings.from_env()
    if args.command == "reconcile":
        asyncio.run(_reconcile(settings, _since(args)))
    elif args.command == "purge":
        asyncio.run(_purge(settings))
    else:
        asyncio.run(Consumer(settings).run())


if __name__ == "__main__":
    main()
