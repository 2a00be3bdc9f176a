"""The benchmark harness stays runnable: `hyeopchi bench --quick` on the session's
broker and PostgreSQL, every figure of issue 9 present and positive. Sizes are tiny;
the figures themselves are not judged here (bench/results/ holds a real run)."""
import json

import pytest

from bench.run import main

KEYS = ["replay.events", "replay.events_per_s", "replay.raw_consume_events_per_s",
        "replay.kafka_consumer_perf_events_per_s", "replay.growth_ratio",
        "pipeline.events_per_s", "latency_ms.p50", "latency_ms.p95", "latency_ms.p99",
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
    table = (tmp_path / "latest.md").read_text()
    assert "`replay.events_per_s`" in table and "`store.postgres.events_per_s`" in table
    assert (tmp_path / "latest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(result["targets"]) and all(isinstance(v, bool)
                                          for v in result["targets"].values())
    for backend in ("sqlite", "postgres"):  # each side's durability, from its connection
        detail = result["store"][backend]["detail"]
        assert {side: detail[side]["durability"] for side in detail} == {
            side: detail["ours"]["durability"] for side in detail}, detail
