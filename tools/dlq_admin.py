"""`hyeopchi dlq`: operators list, inspect and re-drive dead letters.

A dead letter is the original record (value, key, headers) plus `x-dlq-*` headers
saying who parked it, from where, when and why (shared/deadletter.py). Re-driving
sends the original back to its topic, marked `x-redriven-from: <dlq>/<offset>`; the
consumer then decodes and applies it as any other record (a command id or event id
it already applied is a no-op: the inbox).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import dataclass

from aiokafka.errors import KafkaError
from kafka.errors import KafkaError as AdminError

from shared.deadletter import header
from shared.kafka_io import existing_topics, read_topic, reliable_producer
from shared.settings import ServiceSettings

REDRIVEN_FROM = "x-redriven-from"

HELP = __doc__ + """
Parked values may hold personal data (a member's name in a refused command):
`show` prints the value only with --value; `list` never does.

A re-driven command is judged again, token included, at the time it is re-sent:
a command whose token has expired since will be refused again. The sender must
send a fresh command (a new token) instead.
"""


REDRIVE_HELP = f"""Re-sends each record's original value, key and headers (without
x-dlq-*) to its original topic, adding `{REDRIVEN_FROM}: <dlq topic>/<offset>`.

A re-driven command is judged again when it is re-sent, its token included: a
command whose token has expired since will be refused again (parked once more).
The sender must send a fresh command with a fresh token instead. A command or
event id the consumer already applied is a no-op. A truncated copy is not re-sent,
nor, without --allow-events, an event parked by a reader of an events topic.
"""


@dataclass(frozen=True)
class Parked:
    """One record of a `.dlq` topic, read for an operator."""

    dlq_topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    @property
    def at(self) -> str:
        """`offset` alone on the usual one-partition DLQ, else `partition:offset`."""
        return str(self.offset) if self.partition == 0 else f"{self.partition}:{self.offset}"

    def get(self, name: str) -> str:
        return header(self.headers, name) or ""

    def original_headers(self) -> list[tuple[str, bytes]]:
        """The record's own headers: without ours, nor an earlier re-drive's mark."""
        return [(k, v) for k, v in self.headers
                if not k.startswith("x-dlq-") and k != REDRIVEN_FROM]

    def summary(self) -> dict:
        return {"dlq_topic": self.dlq_topic, "partition": self.partition,
                "offset": self.offset, "parked_at": self.get("x-dlq-at"),
                "consumer": self.get("x-dlq-consumer"),
                "original": {"topic": self.get("x-dlq-original-topic"),
                             "partition": _int(self.get("x-dlq-original-partition")),
                             "offset": _int(self.get("x-dlq-original-offset"))},
                "reason": self.get("x-dlq-reason"),
                "truncated": self.get("x-dlq-truncated") or None,
                "value_bytes": len(self.value or b"")}


def _int(text: str) -> int | None:
    return int(text) if text.lstrip("-").isdigit() else None


# ------------------------------------------------------------------ reading

async def dlq_topics(bootstrap: str, prefix: str | None = None,
                     topic: str | None = None) -> list[str]:
    if topic:
        return [topic if topic.endswith(".dlq") else f"{topic}.dlq"]
    found = sorted(t for t in await existing_topics(bootstrap) if t.endswith(".dlq"))
    return [t for t in found if prefix is None or t.startswith(f"{prefix}.")]


async def parked(bootstrap: str, dlq_topic: str) -> list[Parked]:
    records = await read_topic(bootstrap, dlq_topic)
    return sorted((Parked(r.topic, r.partition, r.offset, r.key, r.value,
                          tuple(r.headers or ())) for r in records),
                  key=lambda p: (p.partition, p.offset))


def select(entries: list[Parked], wanted: list[str]) -> list[Parked]:
    """The entries named `offset` or `partition:offset`; an unknown one is an error."""
    by_address = {e.at: e for e in entries}
    missing = [w for w in wanted if w not in by_address]
    if missing:
        raise LookupError(f"no dead letter at {', '.join(missing)} "
                          f"(known: {', '.join(by_address) or 'none'})")
    return [by_address[w] for w in wanted]


# ------------------------------------------------------------------ output

def one_line(p: Parked, width: int = 160) -> str:
    s = p.summary()
    o = s["original"]
    why = " ".join(s["reason"].split())  # one line, whatever the reason held
    why = why if len(why) <= width else why[:width - 1] + "…"
    cut = " [truncated copy]" if s["truncated"] else ""
    return (f"{p.dlq_topic} @{p.at}  parked {s['parked_at'] or '?'} by "
            f"{s['consumer'] or '?'}  from {o['topic']}/{o['partition']}@{o['offset']}"
            f"{cut}\n    {why}")


def details(p: Parked, with_value: bool) -> str:
    s = p.summary()
    lines = [f"dead letter {p.dlq_topic} @{p.at}",
             f"  parked at   {s['parked_at']}",
             f"  by consumer {s['consumer']}",
             f"  original    {s['original']['topic']} partition "
             f"{s['original']['partition']} offset {s['original']['offset']}",
             f"  key         {_show(p.key)}",
             f"  value       {s['value_bytes']} bytes" + (
                 f" (truncated copy: {s['truncated']})" if s["truncated"] else ""),
             "  reason",
             *[f"    {line}" for line in s["reason"].splitlines() or ["(none)"]],
             "  headers"]
    lines += [f"    {k}: {_show(v)}" for k, v in p.headers if k != "x-dlq-reason"]
    if with_value:
        lines += ["  value (may hold personal data)", f"    {_show(p.value)}"]
    return "\n".join(lines)


def _show(raw: bytes | None) -> str:
    if raw is None:
        return "(none)"
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return f"(binary) {raw!r}"


# ------------------------------------------------------------------ re-driving

class NotRedrivable(ValueError):
    pass


def redrive_plan(p: Parked, allow_events: bool = False
                 ) -> tuple[str, bytes | None, bytes | None, list]:
    """(topic, value, key, headers) to send back for one dead letter."""
    if p.get("x-dlq-truncated"):
        raise NotRedrivable(f"{p.dlq_topic} @{p.at} is a truncated copy "
                            f"({p.get('x-dlq-truncated')}); re-send the original from "
                            f"{p.get('x-dlq-original-topic')} partition "
                            f"{p.get('x-dlq-original-partition')} offset "
                            f"{p.get('x-dlq-original-offset')} instead")
    topic = p.get("x-dlq-original-topic")
    if not topic:
        raise NotRedrivable(f"{p.dlq_topic} @{p.at} does not say where it came from")
    if topic.endswith(".events") and not allow_events:
        # An events topic is the audit trail every consumer reads and keeps forever:
        # a re-sent event is a second copy there for all of them.
        raise NotRedrivable(f"{p.dlq_topic} @{p.at} came from the events topic {topic}; "
                            "re-sending adds a copy to that permanent log for every "
                            "reader (they skip it as a duplicate): pass --allow-events "
                            "if that is what you want")
    mark = (REDRIVEN_FROM, f"{p.dlq_topic}/{p.at}".encode())
    return topic, p.value, p.key, [*p.original_headers(), mark]


async def redrive(bootstrap: str, entries: list[Parked],
                  allow_events: bool = False) -> list[dict]:
    """Send each entry's original back to its topic; what was sent, in order."""
    plans = [(p, redrive_plan(p, allow_events)) for p in entries]  # check all first
    producer = reliable_producer(bootstrap, "hyeopchi-dlq-redrive")
    await producer.start()
    sent = []
    try:
        for p, (topic, value, key, headers) in plans:
            meta = await producer.send_and_wait(topic, value=value, key=key,
                                                headers=headers)
            sent.append({"from": f"{p.dlq_topic}/{p.at}", "topic": topic,
                         "partition": meta.partition, "offset": meta.offset,
                         "key": _show(key), "value_bytes": len(value or b""),
                         "headers": [k for k, _ in headers]})
    finally:
        await producer.stop()
    return sent


# ------------------------------------------------------------------ commands

def add_arguments(p: argparse.ArgumentParser) -> None:
    kafka = argparse.ArgumentParser(add_help=False)
    kafka.add_argument("--bootstrap", default=None,
                       help="Kafka bootstrap servers (default: KAFKA_BOOTSTRAP_SERVERS)")
    sub = p.add_subparsers(dest="dlq_command", required=True)
    ls = sub.add_parser("list", help="every parked record, one per line", parents=[kafka])
    ls.add_argument("--prefix", help="only the DLQ topics of this topic prefix")
    ls.add_argument("--topic", help="only this DLQ topic (or the topic it guards)")
    ls.add_argument("--json", action="store_true", help="one JSON object per record")
    show = sub.add_parser("show", help="one parked record: headers, reason, key, size",
                          parents=[kafka],
                          description="Shows a dead letter's headers, full reason, key and "
                          "value size. The value itself may hold personal data: it is "
                          "printed only with --value.")
    show.add_argument("dlq_topic")
    show.add_argument("offset", help="the DLQ offset (partition:offset if not 0)")
    show.add_argument("--value", action="store_true",
                      help="also print the value (may hold personal data)")
    again = sub.add_parser("redrive", help="send parked records back to their topic",
                           parents=[kafka], description=REDRIVE_HELP,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    again.add_argument("dlq_topic")
    again.add_argument("offsets", nargs="*", help="DLQ offsets (partition:offset if not 0)")
    again.add_argument("--all", action="store_true", help="every record of the DLQ topic")
    again.add_argument("--allow-events", action="store_true",
                       help="also re-send events to their events topic (a second copy "
                            "in that permanent log, for every reader)")


def main(args: argparse.Namespace) -> int:
    bootstrap = args.bootstrap or ServiceSettings().kafka_bootstrap_servers
    try:
        return asyncio.run(_COMMANDS[args.dlq_command](bootstrap, args))
    except (LookupError, NotRedrivable) as error:
        print(f"hyeopchi dlq: {error}", file=sys.stderr)
        return 2
    except (KafkaError, AdminError) as error:  # the clients' or the admin client's
        print(f"hyeopchi dlq: Kafka at {bootstrap}: {error}", file=sys.stderr)
        return 1


async def _list(bootstrap: str, args) -> int:
    total = 0
    for topic in await dlq_topics(bootstrap, args.prefix, args.topic):
        for p in await parked(bootstrap, topic):
            total += 1
            print(json.dumps(p.summary(), ensure_ascii=False) if args.json else one_line(p))
    if not args.json:
        print(f"{total} dead letter(s)")
    return 0


async def _show_one(bootstrap: str, args) -> int:
    [p] = select(await parked(bootstrap, args.dlq_topic), [args.offset])
    print(details(p, args.value))
    return 0


async def _redrive(bootstrap: str, args) -> int:
    if bool(args.offsets) == args.all:
        raise LookupError("name the offsets to re-drive, or --all (not both)")
    entries = await parked(bootstrap, args.dlq_topic)
    chosen = entries if args.all else select(entries, args.offsets)
    for s in await redrive(bootstrap, chosen, args.allow_events):
        print(f"re-drove {s['from']} → {s['topic']} partition {s['partition']} "
              f"offset {s['offset']} (key {s['key']}, {s['value_bytes']} bytes, "
              f"headers: {', '.join(s['headers'])})")
    print(f"{len(chosen)} record(s) re-driven")
    return 0


_COMMANDS = {"list": _list, "show": _show_one, "redrive": _redrive}
