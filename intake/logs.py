"""Logging set-up for `meld serve` and the server's worker processes: one format, and
access logs that never carry a reporter's private status token or a report link."""

from __future__ import annotations

import logging
import re

_TOKEN_IN_PATH = re.compile(r"/status/[0-9a-f]{16,}")
_REPORT_LINK_IN_PATH = re.compile(r"/rapport/[^\s?#\"/]+")  # a 24-hour link to a report


class RedactStatusTokens(logging.Filter):
    """Access logs must not carry the reporters' private status tokens."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(
                _REPORT_LINK_IN_PATH.sub("/rapport/<token>", _TOKEN_IN_PATH.sub(
                    "/status/<token>", a)) if isinstance(a, str) else a
                for a in record.args
            )
        return True


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("uvicorn.access").addFilter(RedactStatusTokens())
