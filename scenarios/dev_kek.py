"""A development key-encryption key (KEK) for the committee's personal data, for the
demo and the tests only.

It makes a KEK file on first use (next to the development SSO's keys: the parent of
HYEOPCHI_DEV_SSO_DIR's directory + /dev-kek, default .run/dev-kek; never committed),
and points PERSONAL_DATA_KEK_FILE at it for every service started from this process.
`add_key` writes a rotated copy: a new active key beside (or instead of) the old ones.
"""
from __future__ import annotations

import base64
import json
import os
from functools import cache
from pathlib import Path

FIRST = "dev-kek-1"


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def write_kek_file(path: Path, active: str, keys: dict[str, str]) -> Path:
    """A KEK file readable by its owner only (a secret, as a mounted one would be)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(json.dumps({"active": active, "keys": keys}, indent=1))
    return path


def add_key(path: Path, kek_id: str, *, drop_others: bool = False,
            target: Path | None = None) -> Path:
    """The file at `target` (default: `path` itself) with a new key `kek_id` made
    active; `drop_others` leaves out every other key (after a rotation)."""
    current = json.loads(path.read_text())
    keys = {} if drop_others else dict(current["keys"])
    keys[kek_id] = new_key()
    return write_kek_file(target or path, kek_id, keys)


def directory() -> Path:
    sso = os.environ.get("HYEOPCHI_DEV_SSO_DIR")
    return (Path(sso).parent if sso else Path(".run")).resolve() / "dev-kek"


@cache
def dev_kek() -> Path:
    path = directory() / "kek.json"
    if not path.exists():
        write_kek_file(path, FIRST, {FIRST: new_key()})
    os.environ["PERSONAL_DATA_KEK_FILE"] = str(path)  # inherited by services started later
    return path


if __name__ == "__main__":  # python -m scenarios.dev_kek PATH: a fresh KEK file, once
    import sys
    target = Path(sys.argv[1])
    if not target.exists():
        write_kek_file(target, FIRST, {FIRST: new_key()})
    print(target)
