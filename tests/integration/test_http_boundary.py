"""The HTTP side of the trust boundary, against a real service process: a command's
caller is judged before its body is read, and bodies are bounded (MAX_BODY_BYTES,
1 MiB by default; whitespace counts)."""
from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from scenarios import seeds, y2021
from scenarios.client import auth_headers
from shared.db import Database
from shared.tables import backbone, events
from tests.conftest import free_port
from tests.integration.helpers import ServiceProcess

pytestmark = pytest.mark.integration
LIMIT = 1_048_576          # the default MAX_BODY_BYTES
HUGE = 30 * 1024 * 1024    # what the client announces
SENT = 64 * 1024           # what it actually sends of that
MB = 1024 * 1024


@pytest.fixture(scope="module")
def submission(kafka_bootstrap, tmp_path_factory):
    """One submission service process for the module."""
    where = tmp_path_factory.mktemp("http-boundary")
    svc = ServiceProcess("submission", database_url=f"sqlite:///{where / 'db.sqlite'}",
                         bootstrap=kafka_bootstrap, port=free_port(),
                         topic_prefix=f"t{time.time_ns() % 10**8}",
                         log_path=where / "submission.log")
    svc.start()
    yield svc
    svc.stop()


OPEN_CYCLE = {"command_type": "OpenCycle", "year": 2021,  # the year with a rulebook
              "deadline": "2031-01-01T00:00:00+09:00"}


def rss_bytes(svc: ServiceProcess) -> int:
    status = Path(f"/proc/{svc.proc.pid}/status").read_text()
    [line] = [x for x in status.splitlines() if x.startswith("VmRSS:")]
    return int(line.split()[1]) * 1024


async def stored(svc: ServiceProcess) -> int:
    db = Database(svc.env["DATABASE_URL"], backbone)
    try:
        async with db.reading() as conn:
            return await conn.scalar(select(func.count()).select_from(events))
    finally:
        await db.dispose()


def raw_post(svc: ServiceProcess, path: str, headers: dict[str, str | int],
             body_start: bytes) -> tuple[int, dict[str, str], dict]:
    """POST with a Content-Length that the body never reaches: send the head and
    `body_start`, then read the answer. A server that waits for the whole body never
    answers (the socket times out)."""
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{svc.port}\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    with socket.create_connection(("127.0.0.1", svc.port), timeout=20) as sock:
        sock.sendall(head.encode() + body_start)
        try:
            return parse_response(read_response(sock))
        except TimeoutError:
            pytest.fail(f"no answer in 20 s to a POST whose body was cut after "
                        f"{len(body_start)} bytes: the service is waiting for the rest")


def read_response(sock: socket.socket) -> bytes:
    """One HTTP/1.1 response with a Content-Length, however the server then closes."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += _recv(sock)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:")))
    while len(body) < length:
        body += _recv(sock)
    return head + b"\r\n\r\n" + body[:length]


def _recv(sock: socket.socket) -> bytes:
    chunk = sock.recv(65536)
    if not chunk:
        raise AssertionError("the service closed the connection without an answer")
    return chunk


def parse_response(raw: bytes) -> tuple[int, dict[str, str], dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (x.split(":", 1) for x in lines)}
    return int(status_line.split()[1]), headers, json.loads(body)


def padded(command: dict, size: int) -> bytes:
    """A valid command followed by whitespace up to `size` bytes (still valid JSON)."""
    text = json.dumps(command).encode()
    return text + b" " * (size - len(text))


async def test_an_anonymous_30_mb_command_is_refused_before_its_body_is_read(submission):
    start = padded(OPEN_CYCLE, SENT)
    before = rss_bytes(submission)
    began = time.monotonic()
    status, headers, body = raw_post(submission, "/cycles", {
        "Content-Type": "application/json", "Content-Length": HUGE}, start)
    elapsed = time.monotonic() - began
    after = rss_bytes(submission)
    print(f"anonymous {HUGE} byte POST (sent {SENT}): {status} in {elapsed * 1000:.1f} ms, "
          f"VmRSS {before / MB:.1f} → {after / MB:.1f} MiB")
    assert status == 401, body
    assert headers["content-type"] == "application/problem+json"
    assert headers["www-authenticate"] == 'Bearer realm="hyeopchi"'
    assert body["type"] == "urn:hyeopchi:problem:unauthenticated"
    assert "OpenCycle needs a bearer token" in body["detail"]
    assert after - before < 10 * MB
    assert httpx.get(f"{submission.url}/health/live", timeout=10).status_code == 200


async def test_a_malformed_anonymous_body_gets_401_not_422(submission):
    broken = b'{"command_type": "OpenCycle", "year": '
    anonymous = httpx.post(f"{submission.url}/cycles", content=broken, timeout=30,
                           headers={"Content-Type": "application/json"})
    assert anonymous.status_code == 401, anonymous.text
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="hyeopchi"'
    assert anonymous.json()["type"] == "urn:hyeopchi:problem:unauthenticated"
    # Whoever may send the command is told what is wrong with the body.
    officer = httpx.post(f"{submission.url}/cycles", content=broken, timeout=30,
                         headers={"Content-Type": "application/json",
                                  **auth_headers(y2021.OFFICER)})
    assert officer.status_code == 422, officer.text


async def test_a_valid_command_padded_to_2_1_mb_is_refused_and_stores_nothing(submission):
    headers = {"Content-Type": "application/json", **auth_headers(y2021.OFFICER)}
    before = await stored(submission)
    big = httpx.post(f"{submission.url}/cycles", content=padded(OPEN_CYCLE, 2_100_000),
                     headers=headers, timeout=60)
    assert big.status_code == 413, big.text
    assert big.headers["content-type"] == "application/problem+json"
    assert big.json()["type"] == "urn:hyeopchi:problem:too-large"
    assert f"{LIMIT} bytes" in big.json()["detail"]
    assert await stored(submission) == before
    # The same command within the limit is stored: the count above would have seen it.
    small = httpx.post(f"{submission.url}/cycles", content=padded(OPEN_CYCLE, 4096),
                       headers=headers, timeout=60)
    assert small.status_code == 201, small.text
    assert await stored(submission) > before


async def test_a_chunked_body_past_the_limit_is_refused_and_stores_nothing(submission):
    register = y2021.institution_commands()[0]

    def chunks(size: int):
        body = padded(register, size)
        for at in range(0, len(body), SENT):
            yield body[at:at + SENT]
    headers = {"Content-Type": "application/json", **auth_headers(y2021.OFFICER)}
    before = await stored(submission)
    big = httpx.post(f"{submission.url}/institutions", content=chunks(2_100_000),
                     headers=headers, timeout=60)
    assert "content-length" not in big.request.headers
    assert big.request.headers["transfer-encoding"] == "chunked"
    assert big.status_code == 413, big.text
    assert big.json()["type"] == "urn:hyeopchi:problem:too-large"
    assert await stored(submission) == before
    # Chunked and within the limit, the same command is stored.
    small = httpx.post(f"{submission.url}/institutions", content=chunks(3 * SENT),
                       headers=headers, timeout=60)
    assert small.status_code == 201, small.text
    assert await stored(submission) > before


async def test_a_role_not_allowed_is_refused_before_the_body_is_read(submission):
    before = rss_bytes(submission)
    status, headers, body = raw_post(submission, "/cycles", {
        "Content-Type": "application/json", "Content-Length": HUGE,
        **auth_headers(seeds.SECRETARY)}, padded(OPEN_CYCLE, SENT))
    after = rss_bytes(submission)
    assert status == 403, body
    assert headers["content-type"] == "application/problem+json"
    assert body["type"] == "urn:hyeopchi:problem:forbidden"
    assert body["detail"] == "role committee_secretary may not OpenCycle"
    assert after - before < 10 * MB
