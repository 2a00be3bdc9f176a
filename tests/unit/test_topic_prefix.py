"""A tool names another deployment's topics with `prefixed`, without touching the
process environment; outside it, TOPIC_PREFIX (the settings) decides."""
import os

from shared.topics import DEFAULT_PREFIX, events_topic, prefix, prefixed


def test_prefixed_names_topics_for_a_while_and_leaves_the_environment_alone(monkeypatch):
    monkeypatch.setenv("TOPIC_PREFIX", "staging")
    with prefixed("audit-copy"):
        assert events_topic("grants").name == "audit-copy.grants.events"
        assert os.environ["TOPIC_PREFIX"] == "staging"
        with prefixed(None):
            assert prefix() == "staging"
    assert events_topic("grants").name == "staging.grants.events"
    monkeypatch.delenv("TOPIC_PREFIX")
    assert prefix() == DEFAULT_PREFIX
