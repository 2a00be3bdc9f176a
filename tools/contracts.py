"""Published contracts, generated from code: what each service reads and writes on Kafka.

  hyeopchi contracts [--check] [--out DIR]

For every service under services/ this writes, into contracts/<service>/:

  asyncapi.json                        its AsyncAPI 3.0.0 document (FastStream's generator)
  events/<event_type>.v<N>.schema.json the JSON Schema of each event version it records

The AsyncAPI document is built from the same `ServiceSpec` the service runs
(services/<service>/__main__.py `spec()`) and its event registry: one receive
operation per topic each consumer and projection reads, one send operation per
topic the service writes (its events topic, and `<topic>.dlq` for every topic it
reads). Message schemas are the real models: an events topic carries the envelope
with a payload told apart by `event_type` + `schema_version` (one
`Envelope_<type>_v<N>` schema per event version); a commands topic the command
message the decoder validates; other topics what the consumer's decoder checks.

`--check` writes nothing: it lists every file that differs from the code (and every
generated file that would be removed) and exits 1 if there is any. Services are
found by name and imported on demand: this module imports no service.
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import json
import sys
import tomllib
import warnings
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import AfterValidator, BaseModel, Discriminator, Field, Tag, create_model

import services
from shared.envelope import Envelope
from shared.projection import Projection
from shared.registry import EventRegistry
from shared.runtime import ConsumerSpec, ServiceSpec
from shared.settings import ServiceSettings
from shared.topics import DEFAULT_PREFIX, dead_letter_topic, events_topic, prefixed

REPO = Path(__file__).resolve().parents[1]
CONTRACTS = REPO / "contracts"
SERVICES = sorted(services.NAMES)
ASYNCAPI_VERSION = "3.0.0"
REGENERATE = "run `hyeopchi contracts` to regenerate contracts/ from the code"

# What DeadLetters.park (shared/deadletter.py) adds to the original record's headers.
DLQ_HEADERS = {
    "x-dlq-reason": "why the record could not be decoded or applied (at most 4000 chars)",
    "x-dlq-consumer": "the consumer or projection that parked it",
    "x-dlq-original-topic": "the topic the record was read from",
    "x-dlq-original-partition": "its partition there (decimal)",
    "x-dlq-original-offset": "its offset there (decimal)",
    "x-dlq-at": "when it was parked (ISO 8601, UTC)",
}


class ContractError(RuntimeError):
    """The code does not say clearly enough what a topic carries."""


# --------------------------------------------------------------------------- models

def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text)


class _Models:
    """The message models of one document, each built once (names stay unique)."""

    def __init__(self) -> None:
        self._envelopes: dict[tuple[str, int, type], type[BaseModel]] = {}
        self._unions: dict[tuple[int, str | None], Any] = {}

    def envelope(self, event_type: str, version: int, event: type) -> type[BaseModel]:
        key = (event_type, version, event)
        if key not in self._envelopes:
            name = f"Envelope_{_slug(event_type)}_v{version}"
            taken = {m.__name__ for m in self._envelopes.values()}
            if name in taken:
                raise ContractError(f"two different models for {event_type} v{version} "
                                    f"in one document ({event.__module__}.{event.__name__})")
            self._envelopes[key] = create_model(
                name, __base__=Envelope,
                __doc__=f"A `{event_type}` v{version} event in its envelope "
                        f"(the payload is the event's fields).",
                event_type=(Literal[event_type], ...),
                schema_version=(Literal[version], ...),
                payload=(event, ...))
        return self._envelopes[key]

    def events(self, registry: EventRegistry, others: str | None = None) -> Any:
        """The envelope of any event version in `registry`, told apart by
        `event_type` + `schema_version`. `others` names the alternative for types the
        registry does not know (a consumer that reads those as plain envelopes)."""
        key = (id(registry), others)
        if key in self._unions:
            return self._unions[key]
        models = dict(sorted(registry._models.items()))  # noqa: SLF001 (same package)
        members = [Annotated[self.envelope(t, v, m), Tag(f"{t}.v{v}")]
                   for (t, v), m in models.items()]
        known = sorted({t for t, _ in models})
        if others is not None:
            members.append(Annotated[_other_envelope(others, known), Tag("other")])
        if not members:
            raise ContractError("an event registry with no events")
        if len(members) == 1:
            union: Any = members[0].__origin__
        else:
            union = Annotated[Union[tuple(members)],  # noqa: UP007
                              Discriminator(_event_tag(set(known), others is not None))]
        self._unions[key] = union
        return union


def _event_tag(known: set[str], others: bool):
    def tag(value: Any) -> str | None:
        get = value.get if isinstance(value, dict) else lambda k: getattr(value, k, None)
        event_type, version = get("event_type"), get("schema_version")
        if others and event_type not in known:
            return "other"
        return f"{event_type}.v{version}"
    return tag


def _other_envelope(name: str, known: list[str]) -> type[BaseModel]:
    def unknown(event_type: str) -> str:
        if event_type in known:
            raise ValueError(f"{event_type} is read with its contract, not as another type")
        return event_type
    return create_model(
        name, __base__=Envelope,
        __doc__="An envelope of any other event type: read, checked, and skipped.",
        event_type=(Annotated[str, AfterValidator(unknown),
                              Field(json_schema_extra={"not": {"enum": known}})], ...))


# --------------------------------------------------------------------------- readers

class _Reads:
    """What one reader (consumer or projection) of a topic accepts."""

    def __init__(self, model: Any, what: str, kind: str):
        self.model, self.what, self.kind = model, what, kind  # kind: envelope|command|other


def _consumer_reads(c: ConsumerSpec, models: _Models) -> _Reads:
    if c.message is not None:
        return _Reads(c.message, f"JSON messages validated as {_type_name(c.message)}",
                      "other")
    found = inspect.getclosurevars(c.decoder).nonlocals
    model = found.get("message_model")
    if isinstance(model, type) and issubclass(model, BaseModel):
        return _Reads(model, f"command messages ({model.__name__}): a command id, the "
                             f"actor, and one command told apart by `command_type`",
                      "command")
    registry = found.get("registry")
    if isinstance(registry, EventRegistry):
        types = sorted({t for t, _ in registry._models})  # noqa: SLF001
        if found.get("only_known"):
            return _Reads(models.events(registry, f"Envelope_other_{_slug(c.name)}"),
                          f"event envelopes; it reads {', '.join(types)} by its own "
                          f"contract and skips every other type", "envelope")
        return _Reads(models.events(registry),
                      f"event envelopes of {', '.join(types)}", "envelope")
    raise ContractError(
        f"consumer {c.name!r}: its decoder does not tell what it reads; set "
        f"ConsumerSpec.message to the model of its records")


def _projection_reads(p: Projection, models: _Models) -> _Reads:
    if not p.decodes:
        return _Reads(Envelope, "event envelopes of any type (the payload is not decoded)",
                      "envelope")
    types = sorted({t for t, _ in p.registry._models})  # noqa: SLF001
    return _Reads(models.events(p.registry), f"event envelopes of {', '.join(types)}",
                  "envelope")


def _type_name(model: Any) -> str:
    """`Model`, or `A | B` for a (possibly annotated) union of models."""
    if get_origin(model) is Annotated:
        return _type_name(get_args(model)[0])
    if get_origin(model) in (Union, UnionType):
        return " | ".join(_type_name(a) for a in get_args(model))
    return getattr(model, "__name__", repr(model))


def _reader(model: Any):
    """A handler whose one parameter is `model`: FastStream documents its payload."""
    async def read(message) -> None:  # pragma: no cover - never called
        return None
    read.__annotations__ = {"message": model, "return": None}
    return read


# --------------------------------------------------------------------------- document

def asyncapi(spec: ServiceSpec, registry: EventRegistry) -> dict[str, Any]:
    """The AsyncAPI document of one service, from the spec it runs and its registry."""
    from faststream.kafka import KafkaBroker
    from faststream.specification import AsyncAPI

    with default_topic_prefix():
        models = _Models()
        broker = KafkaBroker(ServiceSettings.model_fields["kafka_bootstrap_servers"].default,
                             description="Kafka; every topic keeps its records forever")
        carries = {t.name: t.carries for t in spec.owns}
        extras: dict[str, dict[str, Any]] = {}   # channel key → what FastStream leaves out
        read_by: dict[str, list[str]] = {}       # topic → its readers in this service
        documented: list[Any] = [models.events(registry)]  # every message model
        events = events_topic(spec.name).name
        if events not in carries:
            raise ContractError(f"{spec.name}: its events topic {events} is not in `owns`")

        readers = [(f"{spec.name}.{c.name}", f"{spec.name}.{c.name}",
                    f"consumer `{c.name}` (consumer group `{spec.name}.{c.name}`)",
                    c.topics, _consumer_reads(c, models))
                   for c in spec.consumers]
        for make in spec.projections:
            p = make()
            readers.append((f"projection:{p.name}", None, f"projection `{p.name}` (no "
                            f"consumer group: it assigns itself every partition and keeps "
                            f"its offsets with its read model)", p.topics,
                            _projection_reads(p, models)))
        for title, group, who, topics, reads in readers:
            for topic in topics:
                key = title if len(topics) == 1 else f"{title}:{topic}"
                about = f" The topic carries {carries[topic]}." if topic in carries else ""
                broker.subscriber(
                    topic, group_id=group, title=key,
                    description=f"The {spec.name} service's {who} reads {reads.what}.{about} "
                                f"What it cannot decode or apply goes to "
                                f"`{dead_letter_topic(topic)}` with the reason.",
                )(_reader(reads.model))
                documented.append(reads.model)
                extras[key] = _message_extras(reads.kind)
                read_by.setdefault(topic, []).append(title)

        broker.publisher(
            events, schema=models.events(registry), title=f"{events}:Publisher",
            description=f"Facts the {spec.name} service records, published by its outbox "
                        f"relay in stream order (key = stream id), each once its "
                        f"transaction committed; duplicates are possible, never gaps."
                        + _rejections(spec.name, registry))
        extras[f"{events}:Publisher"] = _message_extras("envelope", keyed=True)
        for topic in sorted(read_by):
            dlq = dead_letter_topic(topic)
            broker.publisher(
                dlq, schema=bytes, title=f"{dlq}:Publisher",
                description=f"Dead letters of `{topic}`: records that "
                            f"{', '.join(read_by[topic])} could not decode or apply, key "
                            f"and value unchanged, original headers kept, with `x-dlq-*` "
                            f"headers saying why.")
            extras[f"{dlq}:Publisher"] = _message_extras("dead-letter")

        spec_doc = AsyncAPI(
            broker, title=f"hyeopchi {spec.name} service", version=_project_version(),
            schema_version=ASYNCAPI_VERSION,
            description=f"What the {spec.name} service reads and writes on Kafka, "
                        f"generated from its ServiceSpec by `hyeopchi contracts`. Topic "
                        f"names carry the default prefix `{DEFAULT_PREFIX}`; a deployment's "
                        f"TOPIC_PREFIX replaces it.")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            doc = spec_doc.to_specification().to_jsonable()
        overwritten = [str(w.message) for w in caught if "Overwrit" in str(w.message)]
        if overwritten:
            raise ContractError(f"{spec.name}: names clash in the document: "
                                + "; ".join(overwritten))
        _check_schema_names(spec.name, documented)
    _apply_extras(doc, extras)
    return doc


def _check_schema_names(service: str, documented: list[Any]) -> None:
    """FastStream merges every message's schemas into one `components/schemas` and
    silently keeps the last of two same-named ones: refuse a document where two
    different models would share a name."""
    seen: dict[str, Any] = {}
    for model in documented:
        wrapper = create_model("_Message", message=(model, ...))
        for name, schema in wrapper.model_json_schema().get("$defs", {}).items():
            if seen.setdefault(name, schema) != schema:
                raise ContractError(f"{service}: two different schemas are named {name!r} "
                                    f"in one document; rename one of the models")


def _rejections(service: str, registry: EventRegistry) -> str:
    if registry.knows(f"{service}.CommandRejected"):
        return (f" A valid command the service refuses is recorded here as "
                f"`{service}.CommandRejected` (stream `command-<command id>`).")
    return ""


def _message_extras(kind: str, keyed: bool = False) -> dict[str, Any]:
    extras: dict[str, Any] = {}
    if kind in ("envelope", "command"):
        extras["correlationId"] = {
            "location": "$message.payload#/correlation_id",
            "description": "the correlation id of the request that caused it"
            + (" (absent: the command id)" if kind == "command" else "")}
    else:
        extras["correlationId"] = None
    if keyed:
        extras["bindings"] = {"kafka": {"bindingVersion": "0.4.0", "key": {
            "type": "string", "description": "the stream id: one stream, one partition, "
                                             "in stream order"}}}
    if kind == "dead-letter":
        extras["contentType"] = "application/octet-stream"
        extras["headers"] = {
            "type": "object", "additionalProperties": {"type": "string"},
            "required": sorted(DLQ_HEADERS),
            "properties": {k: {"type": "string", "description": v}
                           for k, v in DLQ_HEADERS.items()}}
    return extras


def _apply_extras(doc: dict[str, Any], extras: dict[str, dict[str, Any]]) -> None:
    messages = doc.get("components", {}).get("messages", {})
    for key, extra in extras.items():
        channel = doc["channels"][key]
        for ref in channel["messages"].values():
            message = messages[ref["$ref"].rsplit("/", 1)[1]]
            for field, value in extra.items():
                if value is None:
                    message.pop(field, None)
                else:
                    message[field] = value


def _project_version() -> str:
    with open(REPO / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["version"]


def default_topic_prefix():
    """Topic names as documented: the default prefix, whatever TOPIC_PREFIX says."""
    return prefixed(DEFAULT_PREFIX)


# --------------------------------------------------------------------------- files

def dumps(value: Any) -> str:
    """How every generated file is written: stable, readable, diff-friendly."""
    return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def load_service(name: str) -> tuple[ServiceSpec, EventRegistry]:
    """A service's spec and event registry, imported by name."""
    if name not in SERVICES:
        raise ContractError(f"unknown service {name!r} (known: {', '.join(SERVICES)})")
    with default_topic_prefix():
        spec = importlib.import_module(f"services.{name}.__main__").spec()
    registry = importlib.import_module(f"services.{name}.domain.events").registry
    return spec, registry


def service_files(name: str, spec: ServiceSpec, registry: EventRegistry) -> dict[str, str]:
    """Relative path → content of one service's generated contract files."""
    files = {f"{name}/asyncapi.json": dumps(asyncapi(spec, registry))}
    for key, schema in registry.json_schemas().items():
        files[f"{name}/events/{key}.schema.json"] = dumps(schema)
    return files


def generate(services: list[str] | None = None) -> dict[str, str]:
    files: dict[str, str] = {}
    for name in services or SERVICES:
        files.update(service_files(name, *load_service(name)))
    return files


def generated_files(out: Path) -> list[str]:
    """The files under `out` that this tool writes (what it may also remove)."""
    found = [*out.glob("*/asyncapi.json"), *out.glob("*/events/*.schema.json")]
    return sorted(p.relative_to(out).as_posix() for p in found if p.is_file())


def differences(wanted: dict[str, str], out: Path,
                services: list[str] | None = None) -> list[str]:
    """One line per file that is missing, differs, or would be removed."""
    lines = []
    for rel, text in sorted(wanted.items()):
        path = out / rel
        if not path.is_file():
            lines.append(f"missing: {path}")
        elif path.read_text(encoding="utf-8") != text:
            lines.append(f"differs: {path}")
    scope = set(services) if services else None
    for rel in generated_files(out):
        if rel not in wanted and (scope is None or rel.split("/", 1)[0] in scope):
            lines.append(f"would be removed: {out / rel}")
    return lines


def write(wanted: dict[str, str], out: Path) -> list[str]:
    changed = []
    for rel, text in sorted(wanted.items()):
        path = out / rel
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(f"wrote: {path}")
    for rel in generated_files(out):
        if rel not in wanted:
            (out / rel).unlink()
            changed.append(f"removed: {out / rel}")
            for parent in (out / rel).parents:
                if parent == out or any(parent.iterdir()):
                    break
                parent.rmdir()
    return changed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="hyeopchi contracts",
                                description="Write (or --check) the published contracts: "
                                            "AsyncAPI per service, JSON Schema per event "
                                            "version.")
    p.add_argument("--check", action="store_true",
                   help="write nothing; list what differs from the code, exit 1 if any")
    p.add_argument("--out", type=Path, default=CONTRACTS,
                   help=f"the contracts directory (default: {CONTRACTS})")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        wanted = generate()
    except ContractError as error:
        print(f"contracts: {error}", file=sys.stderr)
        return 2
    if args.check:
        lines = differences(wanted, args.out)
        for line in lines:
            print(f"contracts: {line}", file=sys.stderr)
        if lines:
            print(f"contracts: {len(lines)} file(s) out of date: {REGENERATE}",
                  file=sys.stderr)
            return 1
        print(f"contracts: {len(wanted)} files match the code ({args.out})")
        return 0
    for line in write(wanted, args.out):
        print(f"contracts: {line}")
    print(f"contracts: {len(wanted)} files up to date in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
