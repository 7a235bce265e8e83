"""Masking of personal data (national IDs, phone numbers, e-mails, bank accounts, LINE ids) in text
and logs, and keyed hashes of ids that must not be stored; for both environments."""

from privacy.logs import MaskingFilter, masked_logger, masking_handler
from privacy.masking import (
    BANK_ACCOUNT_MASK,
    EMAIL_MASK,
    LINE_ID_MASK,
    NATIONAL_ID_MASK,
    PHONE_MASK,
    conversation_key,
    mask,
)
from privacy.pseudonyms import keyed_hash

__all__ = [
    "BANK_ACCOUNT_MASK",
    "EMAIL_MASK",
    "LINE_ID_MASK",
    "NATIONAL_ID_MASK",
    "PHONE_MASK",
    "MaskingFilter",
    "conversation_key",
    "keyed_hash",
    "mask",
    "masked_logger",
    "masking_handler",
]
