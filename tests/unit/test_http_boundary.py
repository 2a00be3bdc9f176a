"""The HTTP trust boundary in-process (shared/http_boundary.py): a command's caller
is judged before its body is read, and bodies are bounded. A tiny service app built
the way the services build theirs (install_problem_handlers + command_router), on a
fake database; raw ASGI calls show which `receive` calls the app made."""
from __future__ import annotations

import json

import httpx
import pytest
from fastapi import FastAPI

from scenarios.sso import DevSSO
from shared.auth import Policy
from shared.command_routes import command_router
from shared.http import install_problem_handlers
from shared.http_boundary import HttpBoundary
from tests.support.edge import FakeDb, Ping
from tests.support.memory import application_of

LIMIT = 4096
OFFICER = {"id": "officer-1", "role": "governance_officer"}
EXPERT = {"id": "expert-1", "role": "external_expert"}


@pytest.fixture(scope="module")
def sso(tmp_path_factory):
    return DevSSO(tmp_path_factory.mktemp("sso"))


@pytest.fixture
def service(sso, monkeypatch):
    """The app and the commands it executed."""
    monkeypatch.setenv("AUTH_JWKS_FILE", str(sso.jwks))
    monkeypatch.setenv("MAX_BODY_BYTES", str(LIMIT))
    executed = []

    async def ping(command, uow):
        executed.append((command, uow.actor))
    app = FastAPI()
    install_problem_handlers(app)
    commands = application_of({"Ping": ping},
                              Policy(commands={"Ping": frozenset({OFFICER["role"]})}))
    app.include_router(command_router(FakeDb(), commands, [("/pings", Ping)], ()))

    @app.post("/echo")
    async def echo(body: dict) -> dict:
        return body

    @app.get("/things")
    async def things() -> list:
        return []
    return app, executed


def _bearer(sso, actor) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {sso.issue(actor)}".encode())] if actor else []


async def _raw(app, path: str, headers: list[tuple[bytes, bytes]], chunks: list[bytes]):
    """Call the app as a server would; return (status, headers, body, chunks read)."""
    pending, sent = list(chunks), []

    async def receive():
        if not pending:
            return {"type": "http.disconnect"}
        chunk = pending.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message):
        sent.append(message)
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
             "root_path": "", "query_string": b"", "headers": headers,
             "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 5000), "state": {}}
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), json.loads(body), \
        len(chunks) - len(pending)


def _client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc")


async def test_an_anonymous_command_is_refused_before_its_body_is_read(service):
    app, executed = service
    declared = [(b"content-length", b"31457280"), (b"content-type", b"application/json")]
    status, headers, body, read = await _raw(app, "/pings", declared, [b"{" * 65536])
    assert (status, read) == (401, 0)
    assert headers[b"www-authenticate"] == b'Bearer realm="hyeopchi"'
    assert headers[b"content-type"] == b"application/problem+json"
    assert body["type"] == "urn:hyeopchi:problem:unauthenticated"
    assert "Ping needs a bearer token" in body["detail"]
    assert executed == []


async def test_an_invalid_token_is_refused_before_the_body(service):
    app, _ = service
    for value in (b"Bearer not-a-token", b"Basic b2ZmaWNlcjpzZWNyZXQ="):
        status, _, body, read = await _raw(
            app, "/pings", [(b"authorization", value), (b"content-length", b"10")],
            [b"not json!!"])
        assert (status, read, body["type"]) == (401, 0,
                                                "urn:hyeopchi:problem:unauthenticated")


async def test_a_role_not_allowed_is_refused_before_the_body(service, sso):
    app, executed = service
    status, _, body, read = await _raw(
        app, "/pings", _bearer(sso, EXPERT) + [(b"content-length", b"31457280")],
        [b" " * 65536])
    assert (status, read) == (403, 0)
    assert body["type"] == "urn:hyeopchi:problem:forbidden"
    assert body["detail"] == "role external_expert may not Ping"
    assert executed == []


async def test_a_malformed_anonymous_body_gets_401_not_422(service, sso):
    app, _ = service
    async with _client(app) as client:
        anonymous = await client.post("/pings", content=b'{"text": ', headers={
            "content-type": "application/json"})
        allowed = await client.post("/pings", content=b'{"text": ', headers={
            "content-type": "application/json",
            "authorization": f"Bearer {sso.issue(OFFICER)}"})
    assert anonymous.status_code == 401
    assert allowed.status_code == 422  # a caller who may send it learns what is wrong


async def test_a_declared_length_over_the_limit_is_refused_unread(service, sso):
    app, executed = service
    status, _, body, read = await _raw(
        app, "/pings", _bearer(sso, OFFICER) + [(b"content-length", str(LIMIT + 1).encode())],
        [b" " * (LIMIT + 1)])
    assert (status, read) == (413, 0)
    assert body["type"] == "urn:hyeopchi:problem:too-large"
    assert f"{LIMIT} bytes" in body["detail"]
    assert executed == []


async def test_whitespace_counts_toward_the_limit(service, sso):
    app, executed = service
    command = json.dumps({"command_type": "Ping", "text": "hi"}).encode()
    headers = {"content-type": "application/json",
               "authorization": f"Bearer {sso.issue(OFFICER)}"}
    async with _client(app) as client:
        padded = await client.post("/pings", content=command + b" " * (LIMIT - len(command)
                                                                       + 1), headers=headers)
        at_limit = await client.post("/pings", content=command + b" " * (LIMIT - len(command)),
                                     headers=headers)
    assert padded.status_code == 413
    assert at_limit.status_code == 201
    [(ping, actor)] = executed
    assert (ping.text, actor.id) == ("hi", OFFICER["id"])  # the token's subject acts


async def test_a_chunked_body_is_cut_at_the_limit(service, sso):
    """No Content-Length: counted as it streams; the chunk that passes the limit is
    never handed to the app, and whatever the app answers becomes a 413."""
    app, executed = service
    head = json.dumps({"command_type": "Ping", "text": "hi"}).encode()
    chunks = [head] + [b" " * 1024] * 8
    status, _, body, read = await _raw(app, "/pings", _bearer(sso, OFFICER), chunks)
    assert status == 413 and body["type"] == "urn:hyeopchi:problem:too-large"
    assert read == 1 + (LIMIT - len(head)) // 1024 + 1  # up to the chunk that passed it
    assert read < len(chunks)
    assert executed == []


async def test_a_chunked_body_within_the_limit_is_executed(service, sso):
    app, executed = service

    async def stream():
        yield json.dumps({"command_type": "Ping", "text": "hi"}).encode()
        yield b" " * 1000
    async with _client(app) as client:
        answer = await client.post("/pings", content=stream(), headers={
            "authorization": f"Bearer {sso.issue(OFFICER)}",
            "content-type": "application/json"})
    assert answer.status_code == 201, answer.text
    assert len(executed) == 1


async def test_other_routes_are_bounded_but_not_authenticated(service):
    app, _ = service
    async with _client(app) as client:
        small = await client.post("/echo", json={"a": 1})
        big = await client.post("/echo", content=b" " * (LIMIT + 1))
        read = await client.get("/things")
    assert (small.status_code, small.json()) == (200, {"a": 1})
    assert big.status_code == 413
    assert read.status_code == 200


async def test_the_router_chooses_the_command_route(sso, monkeypatch):
    """A command router included under a prefix is guarded at its real path, and a
    POST that the router answers without a body (404, 405) is not judged."""
    monkeypatch.setenv("AUTH_JWKS_FILE", str(sso.jwks))
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(command_router(FakeDb(), application_of({}, Policy(commands={})),
                                      [("/pings", Ping)], ()), prefix="/v1")
    async with _client(app) as client:
        guarded = await client.post("/v1/pings", json={"text": "hi"})
        unknown = await client.post("/pings", json={"text": "hi"})
        wrong_method = await client.put("/v1/pings", json={"text": "hi"})
    assert guarded.status_code == 401
    assert (unknown.status_code, wrong_method.status_code) == (404, 405)


async def test_an_explicit_limit_wins_over_the_setting(monkeypatch):
    monkeypatch.setenv("MAX_BODY_BYTES", "5000")
    assert HttpBoundary(None).limit == 5000
    assert HttpBoundary(None, max_body_bytes=2048).limit == 2048
