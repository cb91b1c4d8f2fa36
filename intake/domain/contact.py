"""A reporter's notice address: checked for shape (email-validator, no DNS lookups) and
normalised, so the same address is stored the same way. Personal data: never logged."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

MAX_EMAIL_CHARS = 254  # RFC 5321's limit on a path


def normalize_email(value: str) -> str | None:
    """The address to store, or None when it is not one Meld can send to."""
    value = value.strip()
    if not value or len(value) > MAX_EMAIL_CHARS:
        return None
    try:
        checked = validate_email(value, check_deliverability=False,
                                 allow_smtputf8=True, allow_quoted_local=False,
                                 allow_domain_literal=False)
    except EmailNotValidError:
        return None
    return checked.normalized
