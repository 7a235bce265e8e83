"""Create or update a staff account: `python -m staff.users NAME ROLE [AGENCY] [--display-name TEXT]`.

The password comes only from the environment variable USER_PASSWORD: an argument would stay in
the shell's history and be visible to every user of the machine in the process list.
`make user NAME=somchai ROLE=agent` runs this in the services' environment.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

import psycopg

from gateway.config import Settings
from staff.accounts import PASSWORD_MIN_LENGTH, AccountError, save_account
from staff.auth import ROLES
from staff.db import open_pool

PASSWORD_VARIABLE = "USER_PASSWORD"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m staff.users",
        description=f"Create or update a staff account; the password is read from {PASSWORD_VARIABLE}.",
    )
    parser.add_argument("name", help="the sign-in name, e.g. somchai")
    parser.add_argument("role", choices=ROLES)
    parser.add_argument(
        "agency", nargs="?", help="the agency code (the catalog's competent_authority.id); role agency only"
    )
    parser.add_argument("--display-name", help="the name shown to colleagues (default: the sign-in name)")
    return parser


async def _save(url: str, args: argparse.Namespace, password: str) -> bool:
    pool = await open_pool(url, min_size=1, max_size=1)
    try:
        return await save_account(
            pool, args.name, password, args.role, args.agency or None, args.display_name
        )
    finally:
        await pool.close()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    password = os.environ.get(PASSWORD_VARIABLE, "")
    if len(password) < PASSWORD_MIN_LENGTH:
        print(
            f"set the password in the environment variable {PASSWORD_VARIABLE} "
            f"(at least {PASSWORD_MIN_LENGTH} characters), e.g. read -rs {PASSWORD_VARIABLE}; "
            f"export {PASSWORD_VARIABLE}",
            file=sys.stderr,
        )
        return 2
    try:
        created = asyncio.run(_save(Settings.from_env().staff_db_url, args, password))
    except AccountError as error:
        print(f"not saved: {error}", file=sys.stderr)
        return 2
    except psycopg.OperationalError as error:
        print(f"the staff database cannot be reached: {error}", file=sys.stderr)
        return 1
    where = f", agency {args.agency}" if args.agency else ""
    if created:
        print(f"created staff account {args.name} (role {args.role}{where})")
    else:
        print(f"updated staff account {args.name} (role {args.role}{where}; new password; signed out)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
