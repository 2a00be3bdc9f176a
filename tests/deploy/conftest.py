"""The container engine for the deploy tests: podman (runc) with the Debian base made by
deploy/containers/engine.sh, its Docker-compatible socket for testcontainers, and the
application image built once per session and shared by test_image and test_compose."""
from __future__ import annotations

import os
import subprocess
import time

import pytest

from scenarios.processes import REPO

ENGINE_SH = REPO / "deploy" / "containers" / "engine.sh"
CONTAINERS_CONF = REPO / "deploy" / "containers" / "containers.conf"
BASE_IMAGE = os.environ.get("HYEOPCHI_BASE_IMAGE", "localhost/hyeopchi-base:bookworm")
APP_IMAGE = "localhost/hyeopchi:test"


def podman(*args, check: bool = True, timeout: float = 900,
           **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(["podman", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, **kwargs)
    if check and done.returncode != 0:
        raise RuntimeError(f"podman {' '.join(map(str, args))} failed ({done.returncode}):\n"
                           f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def build_args() -> list[str]:
    """How pip reaches the package index during a build here: the host's network, its
    CA bundle and its pip settings (../shared/containers.md)."""
    args = ["--network", "host", "--build-arg", f"BASE={BASE_IMAGE}"]
    if os.path.isdir("/etc/ssl/certs"):
        args += ["-v", "/etc/ssl/certs:/etc/ssl/certs:ro"]
    for name in ("PIP_CERT", "PIP_DEFAULT_TIMEOUT", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"):
        if os.environ.get(name):
            args += ["--env", name]
    return args


@pytest.fixture(scope="session")
def container_engine():
    """podman, the Debian base image (cached by podman between runs) and the API socket;
    the environment testcontainers and podman-compose need."""
    os.environ["CONTAINERS_CONF"] = str(CONTAINERS_CONF)
    started = time.monotonic()
    for step in ("install", "base"):
        done = subprocess.run([str(ENGINE_SH), step], capture_output=True, text=True,
                              timeout=1200)
        if done.returncode != 0:
            pytest.fail(f"engine.sh {step} failed:\n{done.stderr[-3000:]}")
    running_before = _service_pids()
    socket = subprocess.run([str(ENGINE_SH), "socket"], capture_output=True, text=True,
                            check=True, timeout=60).stdout.strip().splitlines()[-1]
    # Ryuk (the reaper) is an image from a registry: off; the fixtures stop what they
    # start. DOCKER_HOST is set only around the tests that use testcontainers
    # (`docker_host`): set for the whole session, it would make tests/conftest.py's
    # kafka_bootstrap take podman for a Docker engine and pull apache/kafka.
    os.environ["TESTCONTAINERS_RYUK_DISABLED"] = "true"
    yield {"docker_host": socket, "base": BASE_IMAGE,
           "seconds": round(time.monotonic() - started, 1)}
    for pid in _service_pids() - running_before:  # the API service this session started
        os.kill(pid, 15)


def _service_pids() -> set[int]:
    found = subprocess.run(["pgrep", "-f", "podman system service"], capture_output=True,
                           text=True)
    return {int(pid) for pid in found.stdout.split()}


@pytest.fixture
def docker_host(container_engine, monkeypatch) -> str:
    """testcontainers pointed at podman's socket for one test."""
    from testcontainers.core.config import testcontainers_config  # noqa: PLC0415
    monkeypatch.setenv("DOCKER_HOST", container_engine["docker_host"])
    monkeypatch.setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
    monkeypatch.setattr(testcontainers_config, "ryuk_disabled", True)
    return container_engine["docker_host"]


@pytest.fixture(scope="session")
def app_image(container_engine) -> str:
    """localhost/hyeopchi:test from deploy/Dockerfile, built FROM the Debian base once
    per session (layers cached by podman: an unchanged tree rebuilds in seconds)."""
    started = time.monotonic()
    podman("build", *build_args(), "-f", REPO / "deploy" / "Dockerfile", "-t", APP_IMAGE,
           REPO, cwd=REPO, timeout=1800)
    print(f"\nimage {APP_IMAGE} built in {time.monotonic() - started:.0f} s")
    return APP_IMAGE
