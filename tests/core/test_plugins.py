from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from plugin_dist import installed

import paymux
from paymux import Gateway, plugins
from paymux.errors import ConfigurationError

ROOT = Path(__file__).resolve().parents[2]


def test_installed_plugin_is_discovered(fakepay_installed: None) -> None:
    assert "fakepay" in paymux.available_providers()
    gw = Gateway(providers={"fakepay": {"api_key": "k_test_1234"}})
    assert gw.providers == ["fakepay"]


def test_broken_plugin_is_reported_and_does_not_hide_others(tmp_path: Path) -> None:
    with installed(tmp_path, {"fakepay": "fakepay:FakePay", "broken": "no_such_module_xyz:Thing"}):
        report = plugins.discover()
        assert "fakepay" in report.loaded
        assert "ModuleNotFoundError" in report.failed["broken"]
        assert "broken" not in paymux.available_providers()
        with pytest.raises(ConfigurationError, match="broken"):
            Gateway(providers={"broken": {}})


def test_plugin_that_is_not_a_provider_is_refused(tmp_path: Path) -> None:
    with installed(tmp_path, {"odd": "fakepay:FakePaySettings"}):
        assert "not a paymux.provider.Provider" in plugins.discover().failed["odd"]


def test_unknown_provider_lists_the_available_ones(fakepay_installed: None) -> None:
    with pytest.raises(ConfigurationError, match=r"unknown provider 'nope' \(available: .*fakepay"):
        Gateway(providers={"nope": {}})


def test_settings_are_validated_by_the_provider_without_echoing_secrets(
    fakepay_installed: None,
) -> None:
    with pytest.raises(ConfigurationError) as info:
        Gateway(providers={"fakepay": {"api_key": "k_live_SECRET", "surprise": "x"}})
    assert "surprise" in str(info.value)
    assert "k_live_SECRET" not in str(info.value)
    with pytest.raises(ConfigurationError, match="api_key"):
        Gateway(providers={"fakepay": {}})


def test_two_accounts_of_one_plugin(fakepay_installed: None) -> None:
    gw = Gateway(
        providers={
            "fake_a": {"plugin": "fakepay", "api_key": "k_a_1234"},
            "fake_b": {"plugin": "fakepay", "api_key": "k_b_1234"},
        }
    )
    assert [c.provider for c in gw.capabilities()] == ["fake_a", "fake_a", "fake_b", "fake_b"]


def test_plugin_installed_after_first_scan_is_found_on_refresh(tmp_path: Path) -> None:
    plugins.discover(refresh=True)
    with installed(tmp_path, {"fakepay": "fakepay:FakePay"}):
        assert "fakepay" in plugins.discover().loaded


def _run_clean(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )


def test_unwritable_cache_and_read_only_home_do_not_break_discovery(tmp_path: Path) -> None:
    # A regular file where the cache directory should be makes every cache write fail, even as root.
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(stat.S_IRUSR | stat.S_IXUSR)
    env = {**os.environ, "XDG_CACHE_HOME": str(blocker), "HOME": str(home)}
    result = _run_clean("import paymux; print(paymux.available_providers())", env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("[")
    assert "Traceback" not in result.stderr


def test_core_only_install_has_no_providers() -> None:
    """DESIGN: installing only core/ leaves available_providers() empty.

    `make test` builds `.venv-core` with nothing but `pip install ./core`.
    """
    python = ROOT / ".venv-core" / "bin" / "python"
    if not python.exists():
        if os.environ.get("CI"):
            pytest.fail(".venv-core is missing: `make test` must build it in CI")
        pytest.skip("run `make test` (it builds .venv-core) to check the core-only install")
    result = subprocess.run(
        [str(python), "-c", "import paymux; print(paymux.available_providers())"],
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
