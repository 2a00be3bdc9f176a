"""Copy bench/results/latest.md into README.md's Benchmarks section (between the
`<!-- bench:table -->` and `<!-- /bench:table -->` markers).

  python -m bench.readme
"""
from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
START, END = "<!-- bench:table -->", "<!-- /bench:table -->"


def refresh(readme: Path = REPO / "README.md",
            table: Path = REPO / "bench" / "results" / "latest.md") -> bool:
    text = readme.read_text()
    if START not in text or END not in text:
        raise SystemExit("README.md has no bench:table markers")
    new = re.sub(re.escape(START) + r".*?" + re.escape(END),
                 lambda _m: f"{START}\n{table.read_text().strip()}\n{END}", text,
                 flags=re.S)
    readme.write_text(new)
    return new != text


if __name__ == "__main__":
    print("README.md updated" if refresh() else "README.md already current")
