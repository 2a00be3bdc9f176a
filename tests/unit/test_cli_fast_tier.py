"""`hyeopchi test --fast` runs the fast tier (no broker, database or container) and
passes every other argument to pytest; plain `hyeopchi test` runs everything."""
from pathlib import Path

from tools import cli

REPO = Path(__file__).resolve().parents[2]


def _pytest_args(monkeypatch, *argv: str) -> list[str]:
    called = []
    monkeypatch.setattr(cli.subprocess, "call", lambda cmd: called.append(cmd) or 0)
    monkeypatch.chdir(REPO)
    try:
        cli.main(["test", *argv])
    except SystemExit as done:
        assert done.code == 0
    return called[0][3:]  # after python -m pytest


def test_fast_selects_the_fast_tier_and_keeps_other_arguments(monkeypatch):
    assert _pytest_args(monkeypatch, "--fast", "-q") == [*cli.FAST_TIER, "-q"]
    assert _pytest_args(monkeypatch, "-x") == ["-x"]  # the whole suite


def test_the_fast_tier_names_only_paths_that_exist_and_need_no_broker():
    for path in cli.FAST_TIER:
        assert (REPO / path).exists(), path
    assert not any("integration" in p or "faults" in p for p in cli.FAST_TIER)
