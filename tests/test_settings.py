from pathlib import Path

import pytest

from hotline.settings import ConfigError, load_settings

CONFIG = Path(__file__).resolve().parent.parent / "config" / "hotline.yaml"


def test_shipped_config_is_valid_and_serves_ten_languages():
    settings = load_settings(CONFIG, environ={})
    assert settings.languages == ("de", "en", "ar", "tr", "uk", "ru", "es", "fr", "pl", "ro")
    assert settings.opening_hours.timezone == "Europe/Berlin"


def test_example_values_are_marked_so_the_operator_sees_them():
    settings = load_settings(CONFIG, environ={})
    assert {"address", "phone", "opening_hours"} <= set(settings.operator.example_values)


def test_environment_overrides_a_single_key():
    settings = load_settings(CONFIG, environ={"HOTLINE__SERVER__PORT": "9123", "DATABASE_URL": "sqlite:///x.db"})
    assert settings.server.port == 9123
    assert settings.database_url == "sqlite:///x.db"
    assert settings.server.host == "127.0.0.1"


@pytest.mark.parametrize(
    ("variable", "value", "key", "hint"),
    [
        ("HOTLINE__SERVER__PORT", "99999", "server.port", "less than or equal to 65535"),
        ("HOTLINE__LANGUAGES", "[de, xx]", "languages", "allowed: de, en"),
        ("HOTLINE__OPENING_HOURS__WEEKLY__MON", "['9-17']", "opening_hours.weekly", "HH:MM-HH:MM"),
        ("HOTLINE__OPENING_HOURS__TIMEZONE", "Mars/Olympus", "opening_hours.timezone", "IANA"),
        ("HOTLINE__TRANSFER__STAFF_NUMBER", "0641 123", "transfer.staff_number", "pattern"),
        ("HOTLINE__SERVER__COLOUR", "blue", "server.colour", "unknown key"),
    ],
)
def test_an_invalid_value_stops_with_the_key_and_what_is_allowed(variable, value, key, hint):
    with pytest.raises(ConfigError) as error:
        load_settings(CONFIG, environ={variable: value})
    assert key in str(error.value)
    assert hint in str(error.value)


def test_a_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.yaml", environ={})
