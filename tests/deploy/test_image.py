"""The image recipe (no Docker engine here to build it): what it installs and who
it runs as, checked against the project's own pins."""
import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = (REPO / "deploy" / "Dockerfile").read_text()


def _final_stage() -> str:
    return DOCKERFILE.split("\nFROM ")[-1]


def _runtime_lock() -> set[str]:
    excluded = re.search(r"grep -v -E '\^\((.*)\)==' ", DOCKERFILE).group(1) \
        .replace("\\", "").split("|")
    pins = [line.split("==")[0] for line in (REPO / "requirements.lock").read_text()
            .splitlines() if "==" in line and not line.startswith("#")]
    return {p.split("[")[0] for p in pins if p not in excluded}


def test_the_runtime_stage_runs_as_an_unprivileged_user_with_hyeopchi_as_entry():
    final = _final_stage()
    user = re.findall(r"^USER (\S+)", final, re.M)
    assert user and user[-1] not in ("root", "0"), "the service must not run as root"
    assert 'ENTRYPOINT ["hyeopchi"]' in final
    assert "pip install" not in final, "build tools belong to the build stage"


def test_the_image_installs_every_runtime_dependency_and_no_test_tool():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    runtime = {d.split("==")[0].split("[")[0] for d in project["dependencies"]}
    tests = {d.split("==")[0].split("[")[0] for group in ("test", "bench")
             for d in project["optional-dependencies"][group]}
    installed = _runtime_lock()
    assert runtime <= installed, f"missing from the image: {runtime - installed}"
    assert not (tests - runtime - {"httpx"}) & installed, "test tools in the image"
