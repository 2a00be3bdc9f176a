"""The committed configuration reference is the one the settings classes generate."""
from tools import config_reference
from shared.settings import ServiceSettings


def test_committed_reference_matches_the_settings_classes():
    assert config_reference.TARGET.read_text() == config_reference.render(), \
        "deploy/CONFIGURATION.md is out of date: run `hyeopchi config`"


def test_every_setting_of_every_service_is_documented():
    text = config_reference.render()
    for service in config_reference.SERVICES:
        for name, field in config_reference.settings_of(service).model_fields.items():
            assert f"`{name.upper()}`" in text
            assert field.description or ServiceSettings.model_fields[name].description, \
                f"{service}: setting {name} has no description"


def test_check_fails_on_a_stale_file(tmp_path, monkeypatch, capsys):
    stale = tmp_path / "CONFIGURATION.md"
    stale.write_text(config_reference.render().replace("READY_MAX_LAG", "READY_LAG"))
    monkeypatch.setattr(config_reference, "TARGET", stale)
    monkeypatch.setattr(config_reference, "REPO", tmp_path)
    assert config_reference.main(["--check"]) == 1
    assert "hyeopchi config" in capsys.readouterr().err
