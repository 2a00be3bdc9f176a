"""Why a record was refused, in words that never repeat what it contained.

A reason travels further than the record: into `x-dlq-reason` headers, log lines
and `CommandRejected` details, which are kept and read by more people than the
personal data they would quote. So a reason is built from where the error is and
what kind it is, never from the value at fault: pydantic's `input_value`, a JSON
fragment, SQL parameters or a database's `DETAIL: Key (…)=(…)` line stay out.
"""
from __future__ import annotations

import json
import re

from pydantic import ValidationError
from sqlalchemy.exc import StatementError

MAX_REASON = 2000
SHOWN_ERRORS = 5

# Messages pydantic builds from the input itself (the rest name only rules).
_FROM_INPUT = {"union_tag_invalid": "tag {shown}does not match any of the expected "
                                    "tags: {expected_tags}",
               "uuid_parsing": "Input should be a valid UUID"}
# A location step is a field name, a tag or an index; a dict key of the input
# (which could be anything, a name too) is shown as `*`.
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")


def reason(error: BaseException) -> str:
    """`Type: what went wrong and where`, without any of the input's values."""
    if isinstance(error, ValidationError):
        text = validation_summary(error)
    elif isinstance(error.__cause__, ValidationError):
        # Ours, wrapping pydantic's (registry.InvalidPayload): our words, its summary.
        text = f"{str(error).split(':')[0]}: {validation_summary(error.__cause__)}"
    elif isinstance(error, json.JSONDecodeError):
        text = f"{error.msg} at line {error.lineno} column {error.colno} (char {error.pos})"
    elif isinstance(error, UnicodeDecodeError):
        text = f"not {error.encoding} at byte {error.start}: {error.reason}"
    elif isinstance(error, StatementError):
        # str() appends the SQL and its parameters: keep the driver's first line.
        orig = error.orig if error.orig is not None else error
        text = f"{type(orig).__name__}: {_first_line(orig)}"
    elif _is_driver_error(error):
        text = _first_line(error)  # psycopg's next lines are `DETAIL: Key (…)=(…)`
    else:
        text = str(error)  # our own messages name ids and rules, not inputs
    return f"{type(error).__name__}: {text}"[:MAX_REASON]


def validation_summary(error: ValidationError) -> str:
    """`N error(s) for Model: a.b: message; …` from locations and messages only."""
    found = error.errors(include_input=False, include_url=False)
    # The inputs are read only to check that no message quotes one; never shown.
    inputs = [e.get("input") for e in error.errors(include_url=False)]
    parts = [f"{_path(e['loc'])}: {_message(e, given)}"
             for e, given in zip(found[:SHOWN_ERRORS], inputs)]
    more = f" (and {len(found) - SHOWN_ERRORS} more)" if len(found) > SHOWN_ERRORS else ""
    return f"{len(found)} error(s) for {error.title}: {'; '.join(parts)}{more}"


def _path(loc: tuple) -> str:
    steps = [str(s) if isinstance(s, int) or _FIELD.match(str(s)) else "*" for s in loc]
    return ".".join(steps) or "(root)"


def _message(e: dict, given) -> str:
    template = _FROM_INPUT.get(e["type"])
    if template is not None:
        ctx = e.get("ctx", {})
        tag = str(ctx.get("tag", ""))  # a command type is worth naming; a name is not
        shown = f"'{tag}' " if _FIELD.match(tag) else ""
        try:
            return template.format(shown=shown, **ctx)
        except KeyError:
            return e["type"]
    message = e["msg"]
    # A validator of ours might still echo what it was given: then only the kind.
    if isinstance(given, str) and len(given) >= 2 and given in message:
        return e["type"]
    return message


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [""])[0]


def _is_driver_error(error: BaseException) -> bool:
    return type(error).__module__.split(".")[0] in ("psycopg", "sqlite3", "asyncpg")


# What str(error) of pydantic and SQLAlchemy appends after the words: the value.
_QUOTED = (re.compile(r"input_value=.*?, input_type=", re.S),
           re.compile(r"^\s*(\[parameters: |\[SQL: |DETAIL: ).*$", re.M))


def scrub(text: str) -> str:
    """A reason built elsewhere as str(error): cut the input values it quotes
    (a second line of defence; build reasons with `reason()`)."""
    text = _QUOTED[0].sub("input_value=[not kept], input_type=", text)
    return _QUOTED[1].sub("", text).strip()
