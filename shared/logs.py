"""structlog JSON lines: service, event id, correlation id — never personal data.

Library loggers (FastStream, uvicorn, aiokafka) go through the same JSON renderer.
Personal fields are masked by key before rendering; callers log ids, not payloads.
"""
from __future__ import annotations

import logging
import sys
import time

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


class RepeatLimiter(logging.Filter):
    """Kafka client libraries log the same line for every client and every retry
    while a broker is away (measured: 26,000 "Unable connect to node" lines from one
    service in a broker restart of a few seconds). One line per distinct message
    per `window_s`; the next one that passes says how many were held back."""

    def __init__(self, prefixes: tuple[str, ...] = ("aiokafka", "kafka"),
                 window_s: float = 10.0, clock=time.monotonic):
        super().__init__()
        self.prefixes, self.window_s, self.clock = prefixes, window_s, clock
        self.seen: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self.prefixes):
            return True
        key, now = (record.name, record.getMessage()), self.clock()
        last, held = self.seen.get(key, (None, 0))
        if last is not None and now - last < self.window_s:
            self.seen[key] = (last, held + 1)
            return False
        if len(self.seen) > 1000:  # distinct messages (ports, ids) must not pile up
            self.seen.clear()
        self.seen[key] = (now, 0)
        if held:
            record.msg, record.args = (f"{record.getMessage()} (and {held} identical "
                                       f"lines in the {self.window_s:.0f} s before)"), ()
        return True


def configure(service: str, level: str = "INFO", stream=sys.stderr) -> None:
    numeric = getattr(logging, level.upper(), logging.INFO)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*SHARED, structlog.stdlib.add_logger_name],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    structlog.processors.JSONRenderer(ensure_ascii=False)]))
    handler.addFilter(RepeatLimiter())
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
