"""Session-wide count of hostile inputs, per surface and per outcome.

Every test in tests/hostile records each input it generated and what became of it;
the conftest prints the table at the end of the run (pytest's terminal summary) and
fails the session's figures check if a crash or a partial write was ever recorded.
"""
from __future__ import annotations

import os
from collections import Counter, defaultdict

OUTCOMES = ("accepted", "refused-with-reason", "duplicate-no-op", "crash", "partial-write")
_counts: dict[str, Counter] = defaultdict(Counter)
SCALE = float(os.environ.get("HOSTILE_EXAMPLES_SCALE", "1"))


def examples(n: int) -> int:
    """Hypothesis examples for a test: `n`, times HOSTILE_EXAMPLES_SCALE (default 1)."""
    return max(1, round(n * SCALE))


def record(surface: str, outcome: str, n: int = 1) -> None:
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    _counts[surface][outcome] += n


reasons: dict[str, Counter] = defaultdict(Counter)  # surface -> short reason -> n


def reason(surface: str, why: str) -> None:
    """Keep a short form of a refusal's reason (shown with HOSTILE_REASONS=1)."""
    import re  # noqa: PLC0415
    short = re.sub(r"\s+", " ", why)[:90]
    short = re.sub(r"'[^']*'|\"[^\"]*\"|\d+", "_", short)[:70]
    reasons[surface][short] += 1


def total() -> int:
    return sum(sum(c.values()) for c in _counts.values())


def rows() -> list[tuple[str, Counter]]:
    return sorted(_counts.items())


def table() -> list[str]:
    head = f"{'surface':<44} {'inputs':>7} {'accepted':>9} {'refused':>8} " \
           f"{'dup':>5} {'crash':>6} {'partial':>8}"
    lines = [head, "-" * len(head)]
    grand = Counter()
    for surface, c in rows():
        grand.update(c)
        lines.append(_line(surface, c))
    lines.append("-" * len(head))
    lines.append(_line("TOTAL", grand))
    return lines


def _line(name: str, c: Counter) -> str:
    return (f"{name:<44} {sum(c.values()):>7} {c['accepted']:>9} "
            f"{c['refused-with-reason']:>8} {c['duplicate-no-op']:>5} {c['crash']:>6} "
            f"{c['partial-write']:>8}")
