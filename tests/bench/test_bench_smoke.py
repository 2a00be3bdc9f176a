"""The benchmark harness stays runnable: `hyeopchi bench --quick` on the session's
broker and PostgreSQL, every figure of issue 9 present and positive. Sizes are tiny;
the figures themselves are not judged here (bench/results/ holds a real run), but
how they are made is: every projection of every service replays real events into
rows, and latency is measured below the pipeline's capacity, beside it."""
import json

import pytest

from bench.run import main

PROJECTIONS = {"submission-report-status", "scoring-scorecards", "committee-meetings",
               "grants-rounds", "audit-timeline"}

KEYS = ["replay.events", "replay.events_per_s", "replay.raw_consume_events_per_s",
        "replay.kafka_consumer_perf_events_per_s", "replay.growth_ratio",
        "pipeline.events_per_s", "latency_ms.p50", "latency_ms.p95", "latency_ms.p99",
        "latency_ms.rate_per_s", "latency_ms.capacity_events_per_s",
        "store.sqlite.events_per_s", "store.sqlite.batched_events_per_s",
        "store.sqlite.eventsourcing_events_per_s", "store.postgres.events_per_s",
        "store.postgres.batched_events_per_s", "store.postgres.eventsourcing_events_per_s",
        "store.sqlite.raw_driver_events_per_s", "store.sqlite.raw_driver_batched_events_per_s",
        "store.postgres.raw_driver_events_per_s",
        "store.postgres.raw_driver_batched_events_per_s",
        "rss_mb.scoring", "rss_mb.audit", "rss_mb.replay"]


def _get(result: dict, dotted: str):
    value = result
    for part in dotted.split("."):
        value = value[part]
    return value


@pytest.mark.integration
def test_a_quick_run_writes_every_figure(kafka_bootstrap, postgres_admin_url, tmp_path):
    assert main(["--quick", "--bootstrap", kafka_bootstrap,
                 "--postgres-url", postgres_admin_url, "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "latest.json").read_text())
    for key in KEYS:
        assert _get(result, key) > 0, key
    # Every projection of every service (committee and grants too) replayed events of
    # its own topics into rows: none of them replays an empty topic.
    replay = result["replay"]
    assert set(replay["projections_applied"]) >= PROJECTIONS
    for name in PROJECTIONS:
        assert replay["projections_applied"][name] > 0, name
        assert replay["read_model_rows"][name] > 0, name
    for table in ("rm_committees", "rm_members", "rm_meetings"):
        assert replay["read_model_rows_by_table"]["committee-meetings"][table] > 0, table
    for table in ("rm_rounds", "rm_applications", "rm_reviews", "rm_decisions"):
        assert replay["read_model_rows_by_table"]["grants-rounds"][table] > 0, table
    mix = result["meta"]["event_mix"]["events_per_unit_made"]
    assert set(mix) == {"submission", "scoring", "committee", "grants"}
    assert all(v > 0 for v in mix.values()), mix
    # Latency at a rate below the measured capacity, which is reported beside it;
    # below the target's 200/s, the p99 target is not met, whatever the p99.
    lat = result["latency_ms"]
    assert lat["capacity_events_per_s"] == result["pipeline"]["events_per_s"]
    assert lat["rate_per_s"] == pytest.approx(min(lat["requested_rate_per_s"],
                                                  0.5 * lat["capacity_events_per_s"]))
    assert lat["at_target_rate"] is (lat["rate_per_s"] >= 200)
    assert lat["at_target_rate"] is False  # --quick asks 20/s
    assert result["targets"]["latency_ms.p99 <= 50 at 200/s"] is False
    assert "`latency_ms.rate_per_s`" in (tmp_path / "latest.md").read_text()
    table = (tmp_path / "latest.md").read_text()
    assert "`replay.events_per_s`" in table and "`store.postgres.events_per_s`" in table
    assert (tmp_path / "latest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(result["targets"]) and all(isinstance(v, bool)
                                          for v in result["targets"].values())
    for backend in ("sqlite", "postgres"):  # each side's durability, from its connection
        detail = result["store"][backend]["detail"]
        assert {side: detail[side]["durability"] for side in detail} == {
            side: detail["ours"]["durability"] for side in detail}, detail
