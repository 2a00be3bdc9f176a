"""Published contracts (contracts/): generated from code, committed, and accepted by the
official AsyncAPI parser (@asyncapi/parser, installed by deploy/tools/asyncapi.sh)."""
from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from urllib.parse import unquote

import pytest
from pydantic import create_model

from tools import contracts
from shared.deadletter import DeadLetters, Delivery
from shared.registry import DomainEvent
from shared.topics import events_topic

SCRIPT = contracts.REPO / "deploy" / "tools" / "asyncapi.sh"
COMMITTED = contracts.CONTRACTS
SERVICES = contracts.SERVICES
FIX = f"contracts/ is out of date with the code: {contracts.REGENERATE}"


@pytest.fixture(scope="session")
def validate():
    """The official parser, installed by the script when missing (never skipped)."""
    done = subprocess.run(["bash", str(SCRIPT), "install"], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, f"installing @asyncapi/parser failed:\n{done.stderr}"

    def run(*paths) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(SCRIPT), "validate", *map(str, paths)],
                              capture_output=True, text=True, timeout=120)
    return run


@pytest.fixture(scope="module")
def loaded():
    return {name: contracts.load_service(name) for name in SERVICES}


def committed_doc(name: str) -> dict:
    return json.loads((COMMITTED / name / "asyncapi.json").read_text(encoding="utf-8"))


def test_every_service_has_a_contract():
    assert {"audit", "committee", "grants", "scoring", "submission"} <= set(SERVICES)
    missing = [n for n in SERVICES if not (COMMITTED / n / "asyncapi.json").is_file()]
    assert not missing, f"no committed AsyncAPI document for {missing}: {FIX}"


# (a) code == committed ---------------------------------------------------------------

@pytest.mark.parametrize("name", SERVICES)
def test_asyncapi_document_equals_the_code(loaded, name):
    spec, registry = loaded[name]
    assert contracts.asyncapi(spec, registry) == committed_doc(name), \
        f"contracts/{name}/asyncapi.json differs from the code. {FIX}"


@pytest.mark.parametrize("name", SERVICES)
def test_event_schemas_equal_the_registry(loaded, name):
    _, registry = loaded[name]
    schemas = registry.json_schemas()
    folder = COMMITTED / name / "events"
    on_disk = {p.name.removesuffix(".schema.json"): json.loads(p.read_text(encoding="utf-8"))
               for p in folder.glob("*.schema.json")}
    assert sorted(on_disk) == sorted(schemas), \
        f"contracts/{name}/events/ does not list the registry's event versions. {FIX}"
    for key, schema in schemas.items():
        assert on_disk[key] == schema, f"contracts/{name}/events/{key}.schema.json " \
                                       f"differs from the registry. {FIX}"


def test_committed_files_are_byte_for_byte_what_the_tool_writes(loaded):
    wanted = {}
    for name, (spec, registry) in loaded.items():
        wanted.update(contracts.service_files(name, spec, registry))
    lines = contracts.differences(wanted, COMMITTED)
    assert not lines, "\n".join([*lines, FIX])


def test_check_lists_each_differing_and_stale_file(tmp_path, capsys):
    out = tmp_path / "contracts"
    shutil.copytree(COMMITTED, out)
    assert contracts.main(["--check", "--out", str(out)]) == 0
    doc = out / "grants" / "asyncapi.json"
    doc.write_text(doc.read_text(encoding="utf-8").replace("grants", "grant"),
                   encoding="utf-8")
    (out / "submission" / "events" / "submission.CycleOpened.v1.schema.json").unlink()
    stale = out / "grants" / "events" / "grants.Gone.v1.schema.json"
    stale.write_text("{}\n", encoding="utf-8")
    capsys.readouterr()
    assert contracts.main(["--check", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"differs: {doc}" in err
    assert "missing: " in err and "submission.CycleOpened.v1.schema.json" in err
    assert f"would be removed: {stale}" in err
    assert "hyeopchi contracts" in err
    assert contracts.main(["--out", str(out)]) == 0  # rewrites and removes
    assert not stale.exists()
    assert contracts.main(["--check", "--out", str(out)]) == 0


# (b) + (c): one parser run over every committed document and three broken ones ------

@pytest.fixture(scope="module")
def parsed(validate, tmp_path_factory):
    """What the official parser said of each file (one run: node starts slowly)."""
    folder = tmp_path_factory.mktemp("negative")
    broken_ref = committed_doc("submission")
    message = next(iter(broken_ref["components"]["messages"].values()))
    message["payload"] = {"$ref": "#/components/schemas/NoSuchSchema"}
    no_info = committed_doc("audit")
    del no_info["info"]
    files = {name: COMMITTED / name / "asyncapi.json" for name in SERVICES}
    bad = {"broken-ref": json.dumps(broken_ref), "no-info": json.dumps(no_info),
           "not-asyncapi": '{"asyncapi": "3.0.0"}'}
    for name, text in bad.items():
        files[name] = folder / f"{name}.json"
        files[name].write_text(text, encoding="utf-8")
    done = validate(*files.values())
    said = {name: [line for line in done.stdout.splitlines()
                   if line.startswith(f"{path}: ")] for name, path in files.items()}
    return done, files, said


@pytest.mark.parametrize("name", SERVICES)
def test_official_parser_accepts_the_committed_document(parsed, name):
    _, files, said = parsed
    assert said[name][-1] == f"{files[name]}: valid AsyncAPI {contracts.ASYNCAPI_VERSION}", \
        "\n".join(said[name])
    assert not [line for line in said[name] if " error " in line or " warning " in line]


def test_parser_rejects_a_broken_ref(parsed):
    _, _, said = parsed
    assert any(" error invalid-ref " in line and "NoSuchSchema" in line
               for line in said["broken-ref"]), said["broken-ref"]
    assert said["broken-ref"][-1].endswith("INVALID (1 error(s))")


def test_parser_rejects_a_document_without_info(parsed):
    _, _, said = parsed
    assert any(" error " in line and '"info"' in line for line in said["no-info"]), \
        said["no-info"]
    assert "INVALID" in said["no-info"][-1]


def test_any_invalid_file_fails_the_run(parsed):
    done, _, said = parsed
    assert "INVALID" in said["not-asyncapi"][-1]
    assert done.returncode == 1, done.stdout + done.stderr


def test_an_extra_event_version_is_a_difference(loaded):
    spec, registry = loaded["submission"]

    class CycleOpenedV9(DomainEvent):
        event_type = "submission.CycleOpened"
        version = 9
        cycle_id: str

    extended = registry.merged()
    extended.register(CycleOpenedV9)
    lines = contracts.differences(contracts.service_files("submission", spec, extended),
                                  COMMITTED, ["submission"])
    assert f"differs: {COMMITTED / 'submission' / 'asyncapi.json'}" in lines
    assert (f"missing: {COMMITTED / 'submission' / 'events'}"
            f"/submission.CycleOpened.v9.schema.json") in lines
    assert contracts.asyncapi(spec, extended) != committed_doc("submission")


def test_a_consumer_that_does_not_say_what_it_reads_is_an_error(loaded):
    spec, registry = loaded["scoring"]
    external = next(c for c in spec.consumers if c.name == "external-facts")
    mute = type(external)(name="mute", topics=external.topics, decoder=external.decoder,
                          apply=external.apply)
    with pytest.raises(contracts.ContractError, match="ConsumerSpec.message"):
        contracts.asyncapi(dataclasses.replace(spec, consumers=[mute]),
                           registry)


def test_two_models_with_one_name_are_an_error(loaded):
    """FastStream would silently keep one of them in components/schemas."""
    spec, registry = loaded["scoring"]
    other_headcount = create_model("Headcount", people=(int, ...))
    census = create_model("Census", payload=(other_headcount, ...))
    clash = type(spec.consumers[0])(name="census", topics=("hyeopchi.ingress.census",),
                                    decoder=spec.consumers[0].decoder,
                                    apply=spec.consumers[0].apply, message=census)
    with pytest.raises(contracts.ContractError, match="'Headcount'"):
        contracts.asyncapi(dataclasses.replace(spec, consumers=[*spec.consumers, clash]),
                           registry)


# (d) every event version is in its service's document --------------------------------

def _resolve(doc: dict, ref: str) -> dict:
    node = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[unquote(part).replace("~1", "/").replace("~0", "~")]
    return node


def _event_versions(doc: dict, payload: dict) -> set[tuple[str, int]]:
    found = set()
    for alternative in payload.get("oneOf", [payload]):
        schema = _resolve(doc, alternative["$ref"]) if "$ref" in alternative else alternative
        props = schema["properties"]
        if "const" in props["event_type"]:
            found.add((props["event_type"]["const"], props["schema_version"]["const"]))
    return found


@pytest.mark.parametrize("name", SERVICES)
def test_every_event_version_is_in_the_document(loaded, name):
    _, registry = loaded[name]
    doc = committed_doc(name)
    with contracts.default_topic_prefix():
        address = events_topic(name).name
    [channel] = [c for c in doc["channels"].values()
                 if c["address"] == address and doc["operations"][_op(doc, c)]["action"]
                 == "send"]
    [ref] = channel["messages"].values()
    payload = _resolve(doc, _resolve(doc, ref["$ref"])["payload"]["$ref"])
    wanted = {(t, v) for t, v in registry._models}  # noqa: SLF001
    assert _event_versions(doc, payload) == wanted, \
        f"contracts/{name}/asyncapi.json does not carry every event version. {FIX}"
    for t, v in wanted:
        envelope = doc["components"]["schemas"][f"Envelope_{t.replace('.', '_')}_v{v}"]
        assert envelope["properties"]["payload"] == {
            "$ref": f"#/components/schemas/{registry._models[(t, v)].__name__}"}  # noqa: SLF001


def _op(doc: dict, channel: dict) -> str:
    key = next(k for k, c in doc["channels"].items() if c is channel)
    return next(k for k, op in doc["operations"].items()
                if op["channel"]["$ref"] == f"#/channels/{key}")


def test_consumers_read_their_own_contracts():
    doc = committed_doc("scoring")
    channels = doc["channels"]
    reads = {key: _resolve(doc, _resolve(doc, next(iter(c["messages"].values()))["$ref"])
                           ["payload"]["$ref"]) for key, c in channels.items()}
    submission = _event_versions(doc, reads["scoring.submission-facts"])
    assert ("submission.InstitutionRegistered", 1) in submission
    assert ("submission.InstitutionRegistered", 2) in submission
    assert ("submission.DeadlineSet", 1) not in submission  # scoring has no contract for it
    assert _event_versions(doc, reads["scoring.committee-facts"]) == {
        ("committee.MeetingHeld", 1)}
    hr = reads["scoring.external-facts:hyeopchi.ingress.hr"]
    assert {a["$ref"].rsplit("/", 1)[1] for a in hr["oneOf"]} == {
        "HeadcountReported", "CourseCompleted"}
    commands = committed_doc("grants")["channels"]["grants.commands"]
    assert commands["address"] == "hyeopchi.grants.commands"
    audit = committed_doc("audit")["channels"]
    followed = {c["address"] for k, c in audit.items() if k.startswith("projection:")}
    assert followed == {f"hyeopchi.{s}.events"
                        for s in ("submission", "scoring", "committee", "grants")}


async def test_dead_letter_headers_are_the_documented_ones():
    sent = []

    async def send(topic, value, key, headers):
        sent.append((topic, headers))

    await DeadLetters("c", send).park(Delivery("t", 0, 7, b"k", b"v", (("h", b"1"),)), "why")
    [(topic, headers)] = sent
    assert topic == "t.dlq"
    assert {k for k, _ in headers} - {"h"} == set(contracts.DLQ_HEADERS)
