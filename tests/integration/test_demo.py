"""The README's main job runs and says what an auditor would check."""
import re
import subprocess
import sys

import pytest

from scenarios import seeds
from scenarios.demo import RUN
from scenarios.processes import REPO

pytestmark = pytest.mark.integration


def test_demo_plays_the_2021_cycle_and_audits_it():
    done = subprocess.run([sys.executable, "-m", "tools.cli", "demo"], cwd=REPO,
                          capture_output=True, text=True, timeout=2400)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr[-3000:]
    assert "registered 47 institutions" in out
    assert "44 reports received" in out
    assert "21 meeting records submitted" in out
    assert "CommandRejected (rulebook-violation)" in out
    assert "'emergency' submitted nothing: 30.00 points, all base score 30" in out
    assert re.search(r"\{'base': 76, 'measured': \d+, 'pending': \d+\}", out)
    assert "panel signed off (HTTP 201)" in out
    assert re.search(r"# 1 \S+\s+\d+\.\d\d", out)
    assert "= 1,113,000 KRW under allowance/v1" in out
    assert "2021-11 report, 2021-12 report, 2021-13 report, 2021-14 advisory" in out
    assert "appointment refused (HTTP 409" in out and "co-approval (HTTP 201)" in out
    assert out.count("every hash chain holds") == 5
    assert out.count("checksum equals the live one") == 4
    assert "136개 사업 선정 (신규 81건, 기존단체 55건, 신규 비율 59.6%" in out
    _no_personal_data_in(out + done.stderr, *sorted(RUN.glob("*.log")))


def _no_personal_data_in(printed: str, *logs) -> None:
    """Names and birth years of committee members appear in no log line and no
    printed output (they travel only sealed, in the appointment events)."""
    people = [p["personal"] for p in [*seeds.advisory_commands(),
                                       *seeds.subcommittee_commands()] if "personal" in p]
    names = {p["name"] for p in people} | {"위원 I"}
    births = {p["birth_date"] for p in people}
    assert len(names) >= 10 and births and logs, "the scan must have something to scan"
    for source, text in [("demo output", printed),
                         *((log.name, log.read_text(errors="replace")) for log in logs)]:
        leaked = [n for n in names | births if n in text] + [
            k for k in ("birth_year", "birth_date") if k in text]
        assert not leaked, f"personal data in {source}: {leaked}"
