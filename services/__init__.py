"""The service registry (서비스 목록): every hyeopchi service by name, and its spec.

The one list the tools read (the CLI, the contracts, the ACL plan, the configuration
reference), and the scenarios, the bench and the audit timeline with them. A service's
code is imported only when its spec or settings are asked for, so the audit service
can read the names without importing another service.
"""
from __future__ import annotations

import importlib
from typing import Any

# The business services, in the order a story passes through them; the audit
# service reads the events of every one of them.
BUSINESS = ("submission", "scoring", "committee", "grants")
NAMES = (*BUSINESS, "audit")


def _main(name: str):
    if name not in NAMES:
        raise ValueError(f"unknown service {name!r} (known: {', '.join(NAMES)})")
    return importlib.import_module(f"services.{name}.__main__")


def spec(name: str) -> Any:
    """The service's ServiceSpec: topics, consumers, projections, HTTP."""
    return _main(name).spec()


def settings_class(name: str) -> type:
    """The service's settings class (its environment variables)."""
    return _main(name).Settings


def run(name: str) -> None:
    _main(name).main()
