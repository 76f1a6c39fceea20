"""Gateway configuration from TOML or a dict, with ``${ENV}`` interpolation for secrets.

::

    [providers.ecommpay]
    project_id = 210
    secret_key = "${ECOMMPAY_SECRET_KEY}"

    [providers.omise]
    public_key = "${OMISE_PUBLIC_KEY}"
    secret_key = "${OMISE_SECRET_KEY}"

    [[routes]]                 # optional, tried in order
    method = "kakaopay"
    country = "KR"
    providers = ["ecommpay"]

    [http]
    timeout = 30               # seconds
    retries = 4                # attempts for requests that are safe to repeat
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from .errors import ConfigurationError
from .runner import DEFAULT_TIMEOUT, RetryPolicy

_VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def interpolate(value: Any, environ: Mapping[str, str] | None = None, *, path: str = "") -> Any:
    """Replace ``${NAME}`` in every string with the environment variable (``$$`` is a ``$``)."""
    env = os.environ if environ is None else environ
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name is None:
                return "$"
            if name not in env:
                raise ConfigurationError(
                    f"{path or 'config'}: environment variable {name} is not set"
                )
            return env[name]

        return _VARIABLE.sub(substitute, value)
    if isinstance(value, Mapping):
        return {
            k: interpolate(v, env, path=f"{path}.{k}" if path else str(k)) for k, v in value.items()
        }
    if isinstance(value, list):
        return [interpolate(v, env, path=f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def load(source: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(source, Mapping):
        raw: Mapping[str, Any] = source
    elif isinstance(source, str | Path):
        path = Path(source)
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigurationError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            # The decoder names a line and column, never the text there (which may be a key).
            raise ConfigurationError(f"config file {path} is not valid TOML: {exc}") from None
        except UnicodeDecodeError:
            raise ConfigurationError(f"config file {path} is not UTF-8 text") from None
        except OSError as exc:
            raise ConfigurationError(
                f"config file {path} cannot be read ({exc.strerror or type(exc).__name__})"
            ) from None
        except ValueError:
            # A NUL or a lone surrogate in the path: no file can have that name.
            raise ConfigurationError("the config file path is not a usable file name") from None
    else:
        raise ConfigurationError(
            f"expected a config file path or a mapping, got {type(source).__name__}"
        )
    if not all(isinstance(key, str) for key in raw):
        raise ConfigurationError("config section names must be text")
    unknown = set(raw) - {"providers", "routes", "http"}
    if unknown:
        raise ConfigurationError(
            f"unknown config section(s) {', '.join(sorted(unknown))}; expected providers, routes, http"
        )
    return interpolate(dict(raw))  # type: ignore[no-any-return]


def gateway_kwargs(source: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    config = load(source)
    providers = config.get("providers")
    if not isinstance(providers, Mapping) or not providers:
        raise ConfigurationError(
            "config needs a [providers.<name>] table for at least one provider"
        )
    http = config.get("http", {})
    if not isinstance(http, Mapping):
        raise ConfigurationError("[http] must be a table")
    kwargs: dict[str, Any] = {"providers": providers, "routes": config.get("routes")}
    timeout = http.get("timeout")
    if timeout is not None:
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not math.isfinite(timeout)
            or timeout <= 0
        ):
            raise ConfigurationError("http.timeout must be a positive number of seconds")
        kwargs["timeout"] = httpx.Timeout(
            timeout, connect=min(float(timeout), DEFAULT_TIMEOUT.connect or 5.0)
        )
    retries = http.get("retries")
    if retries is not None:
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 1:
            raise ConfigurationError("http.retries must be a whole number >= 1 (attempts)")
        kwargs["retry"] = RetryPolicy(attempts=retries)
    return kwargs
