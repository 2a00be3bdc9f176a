"""structlog JSON lines: service, event id, correlation id — never personal data.

Library loggers (FastStream, uvicorn, aiokafka) go through the same JSON renderer.
Personal fields are masked by key before rendering; callers log ids, not payloads.
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


SHARED = [structlog.contextvars.merge_contextvars, structlog.processors.add_log_level,
          structlog.processors.TimeStamper(fmt="iso", utc=True), _drop_personal]


def configure(service: str, level: str = "INFO", stream=sys.stderr) -> None:
    numeric = getattr(logging, level.upper(), logging.INFO)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*SHARED, structlog.stdlib.add_logger_name],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    structlog.processors.JSONRenderer(ensure_ascii=False)]))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    for noisy in ("aiokafka", "kafka", "faststream", "uvicorn.error", "alembic"):
        logging.getLogger(noisy).setLevel(max(numeric, logging.WARNING))
    structlog.configure(
        processors=[*SHARED, structlog.processors.format_exc_info,
                    structlog.processors.JSONRenderer(ensure_ascii=False)],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.bind_contextvars(service=service)


def library_logger(name: str) -> logging.Logger:
    """A stdlib logger for libraries that take one (FastStream): rendered as JSON."""
    return logging.getLogger(name)
