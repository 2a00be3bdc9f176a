"""The image, built and run on a real container engine (podman, through its
Docker-compatible API with testcontainers): deploy/Dockerfile built FROM the Debian
base, then each of the five services started from it in its own container, as an
operator runs it (read-only root filesystem, no capabilities, unprivileged user, the
JWKS and the KEK mounted read-only), against the real broker and a database of its
own, each ready, taking one command or event and publishing or projecting the result."""
from __future__ import annotations

import json
import os
import re
import shutil
import tomllib
import uuid
from pathlib import Path

import pytest

from scenarios.dev_kek import dev_kek
from scenarios.sso import dev_sso
from tests.conftest import free_port, fresh_postgres_db

from .conftest import podman
from .one_command import SERVICES, on_timeline, published, send_commands, wait_ready

pytestmark = [pytest.mark.integration, pytest.mark.containers]
REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = (REPO / "deploy" / "Dockerfile").read_text()
CONTAINER_UID = 10001
# Where each service keeps its data in this test: both backends the services support.
BACKEND = {"submission": "postgresql", "scoring": "sqlite", "committee": "postgresql",
           "grants": "sqlite", "audit": "postgresql"}


def test_the_recipe_keeps_build_tools_out_of_the_runtime_stage():
    final = DOCKERFILE.split("\nFROM ")[-1]
    assert "pip install" not in final, "build tools belong to the build stage"
    assert re.search(r"^ARG BASE=python:3\.11-slim$", DOCKERFILE, re.M), \
        "the public slim image stays the default base"
    assert "--require-hashes" in DOCKERFILE and "requirements/runtime.lock" in DOCKERFILE


def test_the_image_runs_as_an_unprivileged_user_with_hyeopchi_as_entry(app_image):
    [config] = json.loads(podman("image", "inspect", app_image).stdout)
    config = config["Config"]
    assert config["User"] not in ("", "root", "0")
    assert config["User"] == str(CONTAINER_UID)
    assert config["Entrypoint"] == ["hyeopchi"]


def test_the_image_holds_every_runtime_dependency_and_no_test_tool(app_image):
    listed = podman("run", "--rm", "--network", "none", "--entrypoint", "python",
                    app_image, "-c",
                    "import importlib.metadata as m, json; print(json.dumps("
                    "sorted(d.metadata['Name'].lower() for d in m.distributions())))")
    installed = set(json.loads(listed.stdout.strip().splitlines()[-1]))
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]

    def names(specs):
        return {re.split(r"[\[=<>]", d)[0].lower().replace("_", "-") for d in specs}
    runtime = names(project["dependencies"])
    tools = names(d for g in ("test", "bench") for d in project["optional-dependencies"][g])
    installed = {n.replace("_", "-") for n in installed}
    assert runtime | {"hyeopchi"} <= installed, f"missing: {runtime - installed}"
    assert not (tools - runtime) & installed, f"test tools in the image: {tools & installed}"


@pytest.fixture
def secrets_dir(tmp_path) -> Path:
    """The files the containers mount read-only: the development SSO's JWKS and the
    committee's KEK, readable by the container's user only (as a mounted secret)."""
    found = tmp_path / "secrets"
    found.mkdir()
    for source, name in ((dev_sso().jwks, "jwks.json"), (dev_kek(), "kek.json")):
        target = found / name
        shutil.copyfile(source, target)
        _own(target, 0o400)
    return found


def _own(path: Path, mode: int) -> None:
    try:
        os.chown(path, CONTAINER_UID, CONTAINER_UID)
        path.chmod(mode)
    except PermissionError:  # not root: readable by everyone instead
        path.chmod(mode | 0o044 | (0o011 if path.is_dir() else 0))


async def test_every_service_starts_from_the_image(app_image, kafka_bootstrap,
                                                   postgres_admin_url, secrets_dir,
                                                   docker_host, tmp_path):
    from testcontainers.core.container import DockerContainer  # noqa: PLC0415
    prefix = f"img{uuid.uuid4().hex[:8]}"
    data = tmp_path / "data"
    data.mkdir()
    _own(data, 0o700)
    containers: dict[str, tuple[DockerContainer, str]] = {}
    try:
        for service in SERVICES:
            port = free_port()
            url = (fresh_postgres_db(postgres_admin_url) if BACKEND[service] == "postgresql"
                   else f"sqlite:////data/{service}.db")
            container = (
                DockerContainer(app_image)
                .with_command(["run", service])
                .with_env("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
                .with_env("TOPIC_PREFIX", prefix)
                .with_env("HTTP_HOST", "127.0.0.1")
                .with_env("HTTP_PORT", str(port))
                .with_env("DATABASE_URL", url)
                .with_env("AUTH_JWKS_FILE", "/run/secrets/jwks.json")
                .with_volume_mapping(str(secrets_dir / "jwks.json"), "/run/secrets/jwks.json",
                                     "ro")
                .with_volume_mapping(str(data), "/data", "rw")
                # As in compose and deploy/k8s: read-only root, scratch /tmp, no
                # capabilities; the host's network reaches the jar broker and PostgreSQL.
                .with_tmpfs_mount("/tmp")
                .with_kwargs(network_mode="host", read_only=True,
                             cap_drop=["ALL"], security_opt=["no-new-privileges"]))
            if service == "committee":
                container = (container.with_env("PERSONAL_DATA_KEK_FILE", "/run/secrets/kek.json")
                             .with_volume_mapping(str(secrets_dir / "kek.json"),
                                                  "/run/secrets/kek.json", "ro"))
            container.start()
            containers[service] = (container, f"http://127.0.0.1:{port}")
        for service, (container, url) in containers.items():
            wait_ready(url, f"{service} (container)", timeout=180,
                       alive=lambda c=container: _gone(c))
        urls = {s: url for s, (_, url) in containers.items()}

        sent = send_commands(urls)
        found = await published(kafka_bootstrap, prefix, sent)
        ids = {e.event_id for events in found.values() for e in events}
        rows = await on_timeline(urls["audit"], ids)
        assert {r["service"] for r in rows if r["event_id"] in ids} == set(sent.expected)

        for service, (container, _) in containers.items():  # SIGTERM is a clean stop
            wrapped = container.get_wrapped_container()
            wrapped.stop(timeout=30)
            wrapped.reload()
            assert wrapped.attrs["State"]["ExitCode"] == 0, (service, _logs(container))
    finally:
        for container, _ in containers.values():
            try:
                container.stop()
            except Exception:  # noqa: BLE001 — teardown stops what it can
                pass


def _logs(container) -> str:
    out, err = container.get_logs()
    return (out + err).decode(errors="replace")[-3000:]


def _gone(container) -> str | None:
    wrapped = container.get_wrapped_container()
    wrapped.reload()
    if wrapped.status in ("exited", "dead", "stopped"):
        return f"{wrapped.status} ({wrapped.attrs['State'].get('ExitCode')}): {_logs(container)}"
    return None
