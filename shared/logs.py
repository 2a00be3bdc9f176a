"""structlog JSON lines: service, event id, correlation id — never personal data.

Personal fields are dropped by key before rendering; callers log ids, not payloads.
"""
from __future__ import annotations

import logging
import sys

import structlog

PERSONAL_KEYS = frozenset({"name", "name_ko", "person_name", "phone", "email",
                           "birth_year", "birth_date", "address", "payload", "password",
                           "token", "secret", "authorization"})


def _drop_personal(_logger, _method, event_dict: dict) -> dict:
    for key in PERSONAL_KEYS & event_dict.keys():
        event_dict[key] = "[redacted]"
    return event_dict


def configure(service: str, level: str = "INFO", stream=sys.stderr) -> None:
    logging.basicConfig(format="%(message)s", stream=stream,
                        level=getattr(logging, level.upper(), logging.INFO), force=True)
    for noisy in ("aiokafka", "kafka", "faststream"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _drop_personal,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            getattr(logging, level.upper(), logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.bind_contextvars(service=service)
