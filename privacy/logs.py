"""Keep personal data (national ids, phone numbers, e-mail addresses, bank accounts, LINE ids) and URL
tokens out of the logs."""

from __future__ import annotations

import logging
import re

from privacy.masking import mask

# Credentials in URLs (Rasa's HTTP API takes its token as `?token=`; httpx logs every URL).
_SECRET_PARAM = re.compile(r"([?&](?:token|access_token|auth_token)=)[^&\s\"']+", re.IGNORECASE)


def _scrub(text: str) -> str:
    return _SECRET_PARAM.sub(r"\1***", mask(text))


class MaskingFilter(logging.Filter):
    """Masks the rendered message and any traceback of a record before a handler writes it.

    Put on a service's own loggers (``masked_logger``) and on the process's handler
    (``masking_handler``), so records from libraries (uvicorn, httpx) are masked too.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_pii_masked", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            message = str(record.msg)
        record.msg = _scrub(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = _scrub(record.stack_info)
        record._pii_masked = True
        return True


_FILTER = MaskingFilter()


def masked_logger(name: str) -> logging.Logger:
    """A logger whose records are masked even when the host application configures logging itself."""
    logger = logging.getLogger(name)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger


def masking_handler(fmt: str = "%(asctime)s %(levelname)s %(name)s: %(message)s") -> logging.Handler:
    """A stderr handler that masks every record it writes, whichever logger it came from."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(fmt))
    handler.addFilter(_FILTER)
    return handler
