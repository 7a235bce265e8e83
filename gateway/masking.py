"""Keep personal data (national ids, phone numbers, e-mail addresses) out of the logs."""

from __future__ import annotations

import logging

from bot.privacy import mask


def mask_pii(text: str) -> str:
    """Replace national ids, phone numbers and e-mail addresses with placeholders."""
    return mask(text)


class MaskingFilter(logging.Filter):
    """Masks the rendered message and any traceback of a record before a handler writes it.

    Installed both on the gateway's loggers and on the process's handler, so records from
    libraries (uvicorn, httpx) are masked too.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_pii_masked", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            message = str(record.msg)
        record.msg = mask_pii(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_pii(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_pii(record.stack_info)
        record._pii_masked = True
        return True


_FILTER = MaskingFilter()


def get_logger(name: str) -> logging.Logger:
    """A logger whose records are masked even when the host application configures logging itself."""
    logger = logging.getLogger(name)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_FILTER)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
