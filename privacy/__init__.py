"""Masking of personal data (national IDs, phone numbers, e-mails) in text and logs, for both environments."""

from privacy.logs import MaskingFilter, masked_logger, masking_handler
from privacy.masking import EMAIL_MASK, NATIONAL_ID_MASK, PHONE_MASK, conversation_key, mask

__all__ = [
    "EMAIL_MASK",
    "NATIONAL_ID_MASK",
    "PHONE_MASK",
    "MaskingFilter",
    "conversation_key",
    "mask",
    "masked_logger",
    "masking_handler",
]
