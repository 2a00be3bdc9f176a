"""`hyeopchi audit …`: the auditors' tools over the Kafka log (and the stores).

  replay [--until TIME] [--into DATABASE_URL]   rebuild every projection from offset 0
  history ENTITY                                 every event that touched an entity
  as-of TIME REPORT ARGS…                        a report exactly as it stood at TIME
  verify [--store DATABASE_URL]… [--topic T]…    every hash chain; stores agree with the log
  export --format jsonl|csv                      the decision history for outside tools

Deterministic: it reads the log, never the clock or the services.
"""
from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
from datetime import datetime

from tqdm import tqdm

from shared.settings import ServiceSettings
from shared.topics import prefixed

from .history import history
from .log import read_log
from .replay import REPORTS, as_of, projections, replay
from .verify import Finding, verify_checkpoints, verify_log, verify_store


def _time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text}: give a time zone (e.g. +09:00 or Z)")
    return moment


def parser(settings: ServiceSettings) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hyeopchi audit", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bootstrap", default=settings.kafka_bootstrap_servers)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("replay")
    r.add_argument("--until", type=_time)
    r.add_argument("--into", help="database for the rebuilt projections (default: a "
                                  "fresh SQLite file)")
    h = sub.add_parser("history")
    h.add_argument("entity", help="institution:ID, score:YEAR:INSTITUTION:INDICATOR, "
                                  "committee:ID, meeting:ID, application:ID, or a stream id")
    a = sub.add_parser("as-of")
    a.add_argument("time", type=_time)
    a.add_argument("report", choices=sorted(REPORTS))
    a.add_argument("filters", nargs="*", help="the report's keys, e.g. 2021 planning")
    v = sub.add_parser("verify")
    v.add_argument("--store", action="append", default=[], help="a service's DATABASE_URL")
    v.add_argument("--topic", action="append", default=[], help="topics (default: all "
                                                                "event topics)")
    v.add_argument("--checkpoints", help="the audit service's DATABASE_URL: the log must "
                                         "still hold every chain head it recorded")
    e = sub.add_parser("export")
    e.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    return p


async def run(args) -> int:
    if args.command == "replay":
        with tqdm(total=len(projections()), desc="replaying projections", unit="projection",
                  file=sys.stderr) as bar:
            results = await replay(args.bootstrap, args.into, args.until,
                                   progress=lambda _name: bar.update())
        return _show(args, results, lambda: [
            f"{name}: skipped ({r['skipped']})" if "skipped" in r else
            f"{name}: {sum(r['rows'].values())} rows {r['rows']} checksum {r['checksum']}"
            for name, r in results.items()])
    if args.command == "as-of":
        projection, table, keys = REPORTS[args.report]
        rows = await as_of(args.bootstrap, args.time, projection, table,
                           dict(zip(keys, args.filters)))
        return _show(args, rows, lambda: [json.dumps(r, ensure_ascii=False, default=str)
                                          for r in rows])
    items = await read_log(args.bootstrap, args.topic or None
                           if args.command == "verify" else None)
    if args.command == "history":
        lines = history(args.entity, items)
        return _show(args, lines, lambda: [_history_line(x) for x in lines])
    if args.command == "verify":
        return await _verify(args, items)
    return _export(args, items)


def _history_line(x: dict) -> str:
    change = "" if x["before"] is None and x["after"] is None else \
        f"{x['before']} → {x['after']}  "
    return f"{x['when']}  {x['event']}  by {x['who']}  {change}{x['why'][:90]}  {x['rule']}"


async def _verify(args, items) -> int:
    try:
        checked = verify_log(tqdm(items, desc="checking the log", unit="event",
                                  file=sys.stderr))
        log = {i.envelope.event_id: i.envelope for i in items if i.envelope}
        stores = [await verify_store(url, log) for url in args.store]
        heads = await verify_checkpoints(args.checkpoints, log) if args.checkpoints else 0
    except Finding as finding:
        print(f"BROKEN: {finding}", file=sys.stderr)
        return 1
    print(f"ok: {checked} events in the log, every hash chain holds; "
          f"{len(stores)} store(s) agree with the log ({sum(stores)} events)"
          + (f"; the log holds all {heads} chain heads the audit service recorded"
             if args.checkpoints else ""))
    return 0


def _export(args, items) -> int:
    rows = []
    for item in items:
        e = item.envelope
        if e is None:
            continue
        rows.append({"recorded_at": e.recorded_at.isoformat(), "event_id": e.event_id,
                     "event_type": e.event_type, "schema_version": e.schema_version,
                     "stream_id": e.stream_id, "stream_version": e.stream_version,
                     "actor_id": e.actor.id, "actor_role": e.actor.role,
                     "correlation_id": e.correlation_id, "causation_id": e.causation_id,
                     "source": e.source, "hash": e.hash,
                     "payload": json.dumps(e.payload, ensure_ascii=False, sort_keys=True)})
    if args.format == "jsonl":
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
    else:
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else ["event_id"])
        writer.writeheader()
        writer.writerows(rows)
    return 0


def _show(args, data, lines) -> int:
    if args.json:
        print(json.dumps(data, ensure_ascii=False, default=str))
    else:
        for line in lines():
            print(line)
    return 0


def main(argv: list[str]) -> int:
    settings = ServiceSettings()  # the deployment audited: its broker, its topic prefix
    with prefixed(settings.topic_prefix):
        return asyncio.run(run(parser(settings).parse_args(argv)))
