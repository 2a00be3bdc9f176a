"""Topic names carry the prefix of the process's settings (TOPIC_PREFIX, read by the
settings class once at start), never the environment read on the way; a tool names
another deployment's topics with `prefixed`."""
import pytest

from services.grants import __main__ as grants
from shared import runtime
from shared.settings import ServiceSettings
from shared.topics import DEFAULT_PREFIX, events_topic, prefix, prefixed, use_prefix


@pytest.fixture(autouse=True)
def process_prefix():
    """use_prefix sets the prefix for the whole process: put it back after each test."""
    before = prefix()
    yield
    use_prefix(before)


def test_the_environment_names_no_topic_the_settings_do(monkeypatch):
    monkeypatch.setenv("TOPIC_PREFIX", "staging")
    assert events_topic("grants").name == f"{DEFAULT_PREFIX}.grants.events"
    use_prefix(ServiceSettings().topic_prefix)
    monkeypatch.setenv("TOPIC_PREFIX", "elsewhere")  # read once, at start
    assert events_topic("grants").name == "staging.grants.events"


def test_prefixed_names_topics_for_a_while():
    use_prefix("staging")
    with prefixed("audit-copy"):
        assert events_topic("grants").name == "audit-copy.grants.events"
        with prefixed(None):
            assert prefix() == "staging"
    assert events_topic("grants").name == "staging.grants.events"


def test_a_service_makes_its_spec_under_its_settings_prefix(monkeypatch):
    started = []

    class Started:
        def __init__(self, spec, settings):
            started.append(spec)

        async def serve(self):
            pass

    monkeypatch.setattr(runtime, "Service", Started)
    monkeypatch.setattr(runtime.logs, "configure", lambda *_: None)
    monkeypatch.setattr(runtime.telemetry, "configure_tracing", lambda *_: None)
    monkeypatch.setattr(runtime.telemetry, "shutdown_tracing", lambda _: None)
    monkeypatch.setenv("TOPIC_PREFIX", "staging")
    runtime.main(grants.spec, grants.Settings())
    [spec] = started
    assert {t.name for t in spec.owns} == {"staging.grants.events", "staging.grants.commands"}
    assert spec.consumers[0].topics == ("staging.grants.commands",)
