"""The locks are real locks: every package hash-pinned, runtime apart from test and
bench, and in step with pyproject.toml (regenerate with deploy/lock.sh)."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
LOCKS = REPO / "requirements"


def parse_lock(text: str) -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes), for a pip-compile style lock."""
    pins: dict[str, tuple[str, int]] = {}
    for entry in re.split(r"\n(?=[A-Za-z0-9])", text.strip()):
        head = entry.split("\\", 1)[0].split(";", 1)[0].strip()
        if not head or head.startswith("#"):
            continue
        req = Requirement(head)
        [spec] = req.specifier
        assert spec.operator == "==", f"{head}: a lock pins exact versions"
        pins[canonical(req.name)] = (spec.version, entry.count("--hash=sha256:"))
    return pins


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(group: str | None = None) -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    specs = project["dependencies"] if group is None \
        else project["optional-dependencies"][group]
    out = {}
    for spec in specs:
        req = Requirement(spec)
        [pin] = req.specifier
        out[canonical(req.name)] = pin.version
    return out


@pytest.fixture(scope="module")
def runtime() -> dict[str, tuple[str, int]]:
    return parse_lock((LOCKS / "runtime.lock").read_text())


@pytest.fixture(scope="module")
def dev() -> dict[str, tuple[str, int]]:
    return parse_lock((LOCKS / "dev.lock").read_text())


def test_every_locked_package_carries_a_hash(runtime, dev):
    for lock in (runtime, dev):
        assert lock and all(hashes for _, hashes in lock.values()), \
            [n for n, (_, h) in lock.items() if not h]


@pytest.mark.parametrize("group,lock", [(None, "runtime"), (None, "dev"),
                                        ("test", "dev"), ("bench", "dev")])
def test_pyproject_pins_agree_with_the_lock(group, lock, request):
    pins = request.getfixturevalue(lock)
    for name, version in declared(group).items():
        assert name in pins, f"{name} is in pyproject.toml but not in {lock}.lock: " \
                             "run deploy/lock.sh"
        assert pins[name][0] == version, \
            f"{name}: pyproject.toml says {version}, {lock}.lock {pins[name][0]}: " \
            "run deploy/lock.sh"


def test_the_runtime_lock_holds_no_test_or_bench_tool(runtime):
    tools = (set(declared("test")) | set(declared("bench"))) - set(declared())
    assert not tools & set(runtime), tools & set(runtime)


def test_dev_resolves_the_runtime_packages_to_the_same_versions(runtime, dev):
    assert {n: v for n, (v, _) in runtime.items()} \
        == {n: dev[n][0] for n in runtime if n in dev}
    assert set(runtime) <= set(dev)


def test_the_lock_check_can_fail():
    drifted = parse_lock("fastapi==0.1.0 \\\n    --hash=sha256:" + "0" * 64 + "\n")
    assert drifted["fastapi"][0] != declared()["fastapi"]
    assert parse_lock("uvicorn==0.54.0\n")["uvicorn"][1] == 0
