"""The layers hold: `shared/` (the backbone) imports no service, scenario, bench or
tool; no service imports another; and the service registry names exactly the
service packages there are, each with a spec of its own name."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import services

REPO = Path(__file__).resolve().parents[2]
UPWARD = ("services", "scenarios", "bench", "tools", "tests")


def imported(path: Path) -> set[str]:
    """Top-level package of every absolute import in a file (nested ones too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0] if node.module.split(".")[0] != "services"
                      else ".".join(node.module.split(".")[:2]))
    return found


def test_the_backbone_imports_nothing_above_it():
    offenders = {str(p.relative_to(REPO)): sorted(i for i in imported(p)
                                                  if i.split(".")[0] in UPWARD)
                 for p in (REPO / "shared").rglob("*.py")}
    assert not {k: v for k, v in offenders.items() if v}


@pytest.mark.parametrize("service", services.NAMES)
def test_a_service_imports_no_other_service(service):
    others = {f"services.{o}" for o in services.NAMES if o != service}
    for path in (REPO / "services" / service).rglob("*.py"):
        assert not imported(path) & others, path


def test_the_check_sees_an_upward_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from services.grants.app import handlers\n")
    assert "services.grants" in imported(bad)


def test_the_registry_names_every_service_package_and_their_specs_agree():
    packages = sorted(p.parent.name for p in (REPO / "services").glob("*/__main__.py"))
    assert sorted(services.NAMES) == packages
    assert set(services.BUSINESS) < set(services.NAMES)
    for name in services.NAMES:
        assert services.spec(name).name == name
        assert services.settings_class(name)().service_name == name
