from __future__ import annotations

from pathlib import Path

import pytest

from paymux import Gateway
from paymux.config import interpolate
from paymux.errors import ConfigurationError

pytestmark = pytest.mark.usefixtures("fakepay_installed")

TOML = """
[providers.fakepay]
api_key = "${FAKEPAY_KEY}"
base_url = "https://fakepay.test/$${literal}"

[[routes]]
method = "kakaopay"
providers = ["fakepay"]

[http]
timeout = 12
retries = 2
"""


def test_toml_with_environment_interpolation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "paymux.toml"
    path.write_text(TOML)
    monkeypatch.setenv("FAKEPAY_KEY", "k_from_env_1234")
    gw = Gateway.from_config(path)
    provider = gw.provider("fakepay")
    assert provider.settings.api_key.get_secret_value() == "k_from_env_1234"  # type: ignore[attr-defined]
    assert provider.settings.base_url == "https://fakepay.test/${literal}"  # type: ignore[attr-defined]
    assert gw.retry.attempts == 2
    assert "k_from_env_1234" not in repr(provider.settings)
    assert "k_from_env_1234" not in str(provider.settings.model_dump())


def test_missing_variable_names_the_variable_and_the_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "paymux.toml"
    path.write_text(TOML)
    monkeypatch.delenv("FAKEPAY_KEY", raising=False)
    with pytest.raises(
        ConfigurationError, match=r"providers\.fakepay\.api_key: environment variable FAKEPAY_KEY"
    ):
        Gateway.from_config(path)


def test_dict_config_and_bad_sections() -> None:
    gw = Gateway.from_config({"providers": {"fakepay": {"api_key": "k_dict_1234"}}})
    assert gw.providers == ["fakepay"]
    with pytest.raises(ConfigurationError, match="unknown config section"):
        Gateway.from_config({"providers": {"fakepay": {"api_key": "k"}}, "provider": {}})
    with pytest.raises(ConfigurationError, match="at least one provider"):
        Gateway.from_config({"routes": []})
    with pytest.raises(ConfigurationError, match=r"http\.retries"):
        Gateway.from_config({"providers": {"fakepay": {"api_key": "k"}}, "http": {"retries": 0}})


def test_broken_or_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        Gateway.from_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[providers\n")
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        Gateway.from_config(bad)


def test_interpolation_walks_lists_and_leaves_other_values() -> None:
    env = {"A": "1"}
    assert interpolate({"x": ["${A}", 2, {"y": "a${A}b"}], "n": 5}, env) == {
        "x": ["1", 2, {"y": "a1b"}],
        "n": 5,
    }
