"""`python -m gateway --port 8000`: run the gateway with uvicorn."""

from __future__ import annotations

import argparse
import logging
import os

import uvicorn

from gateway.app import create_app
from gateway.config import Settings
from privacy import masking_handler


def configure_logging(level: str = "INFO") -> None:
    """One handler for the whole process, which masks personal data in every record."""
    root = logging.getLogger()
    root.handlers[:] = [masking_handler()]
    root.setLevel(level)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m gateway", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("GATEWAY_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GATEWAY_PORT", "8000")))
    parser.add_argument("--log-level", default=os.environ.get("GATEWAY_LOG_LEVEL", "INFO"))
    args = parser.parse_args(argv)

    configure_logging(args.log_level.upper())
    app = create_app(Settings.from_env())
    # log_config=None keeps our masking handler instead of uvicorn's own logging setup.
    uvicorn.run(app, host=args.host, port=args.port, log_config=None, proxy_headers=True)


if __name__ == "__main__":
    main()
