"""Settings read from the environment once, at start.

Every value is validated here so that a bad deployment fails at start with one
line naming the variable, instead of failing later on the first request.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import ssl
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class ConfigError(ValueError):
    """A setting in the environment is missing or malformed."""


# The least time gunicorn's graceful stop must leave for in-flight requests.
MIN_DRAIN_SECONDS = 5


@dataclass(frozen=True)
class Settings:
    name: str = "world"
    redis_host: str = "redis"
    redis_port: int = 6379
    redis_db: int = 0
    redis_password: str | None = None
    # An ACL user (AUTH username password); None: the default user.
    redis_username: str | None = None
    # TLS to Redis (managed services require it): the server's certificate is
    # checked against REDIS_HOST, trusting the system's CAs and REDIS_TLS_CA_FILE's.
    redis_tls: bool = False
    redis_tls_ca_file: str | None = None
    redis_connect_timeout: float = 0.2
    redis_socket_timeout: float = 0.5
    # How long the counter stops calling Redis after a failure, doubling up to
    # the maximum; the maximum bounds how late recovery is noticed.
    redis_backoff_initial: float = 0.25
    redis_backoff_max: float = 2.0
    port: int = 8080
    # gunicorn: worker processes, threads per worker, seconds to finish
    # in-flight requests after SIGTERM, seconds an idle connection is kept.
    workers: int = 2
    threads: int = 8
    graceful_timeout: int = 25
    keepalive: int = 5
    # Restart workers when a source file or template changes (the dev loop).
    reload: bool = False
    # Reverse proxies in front of the app whose X-Forwarded-* headers are trusted.
    proxy_hops: int = 0
    # Seconds /readyz answers 503 after SIGTERM before the server stops accepting.
    shutdown_delay: float = 5.0
    max_content_length: int = 16 * 1024
    version: str | None = None
    git_revision: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        reader = _Reader(env)
        settings = cls(
            name=reader.text("NAME", cls.name, max_length=256),
            redis_host=reader.hostname("REDIS_HOST", cls.redis_host),
            redis_port=reader.integer("REDIS_PORT", cls.redis_port, low=1, high=65535),
            redis_db=reader.integer("REDIS_DB", cls.redis_db, low=0, high=15),
            redis_password=reader.password(),
            redis_username=reader.optional_text("REDIS_USERNAME"),
            redis_tls=reader.boolean("REDIS_TLS", cls.redis_tls),
            redis_tls_ca_file=reader.certificates("REDIS_TLS_CA_FILE"),
            redis_connect_timeout=reader.seconds("REDIS_CONNECT_TIMEOUT", cls.redis_connect_timeout),
            redis_socket_timeout=reader.seconds("REDIS_SOCKET_TIMEOUT", cls.redis_socket_timeout),
            redis_backoff_initial=reader.seconds("REDIS_BACKOFF_INITIAL", cls.redis_backoff_initial),
            redis_backoff_max=reader.seconds("REDIS_BACKOFF_MAX", cls.redis_backoff_max),
            port=reader.integer("PORT", cls.port, low=1, high=65535),
            workers=reader.integer("WEB_CONCURRENCY", cls.workers, low=1, high=64),
            threads=reader.integer("GUNICORN_THREADS", cls.threads, low=1, high=256),
            graceful_timeout=reader.integer("GRACEFUL_TIMEOUT", cls.graceful_timeout, low=1, high=3600),
            keepalive=reader.integer("KEEPALIVE", cls.keepalive, low=1, high=300),
            reload=reader.boolean("GUNICORN_RELOAD", cls.reload),
            proxy_hops=reader.integer("PROXY_HOPS", cls.proxy_hops, low=0, high=10),
            shutdown_delay=reader.seconds("SHUTDOWN_DELAY", cls.shutdown_delay, allow_zero=True),
            max_content_length=reader.integer(
                "MAX_CONTENT_LENGTH", cls.max_content_length, low=0, high=1024 * 1024
            ),
            version=reader.optional_text("APP_VERSION"),
            git_revision=reader.optional_text("GIT_REVISION"),
        )
        if settings.redis_username and not settings.redis_password:
            raise ConfigError(f"REDIS_USERNAME={settings.redis_username!r} needs REDIS_PASSWORD or REDIS_PASSWORD_FILE")
        if settings.redis_tls_ca_file and not settings.redis_tls:
            raise ConfigError(f"REDIS_TLS_CA_FILE={settings.redis_tls_ca_file!r} is set but REDIS_TLS is not true")
        if settings.redis_backoff_max < settings.redis_backoff_initial:
            raise ConfigError(
                f"REDIS_BACKOFF_MAX={settings.redis_backoff_max:g} is smaller than "
                f"REDIS_BACKOFF_INITIAL={settings.redis_backoff_initial:g}"
            )
        # gunicorn's master starts its kill clock at SIGTERM; the workers start
        # draining only after the delay. What is left must be a real window.
        if settings.graceful_timeout - settings.shutdown_delay < MIN_DRAIN_SECONDS:
            raise ConfigError(
                f"SHUTDOWN_DELAY={settings.shutdown_delay:g} must leave at least {MIN_DRAIN_SECONDS}s of "
                f"GRACEFUL_TIMEOUT={settings.graceful_timeout:g} to finish in-flight requests"
            )
        return settings


def load_or_exit(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment, or one line on stderr and exit status 2."""
    try:
        return Settings.from_env(environ)
    except ConfigError as error:
        print(f"friendlyhello: configuration error: {error}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None


class _Reader:
    """Reads one variable at a time; every error names the variable and its value."""

    def __init__(self, env: Mapping[str, str]):
        self.env = env

    def _get(self, key: str) -> str | None:
        value = self.env.get(key)
        return None if value is None or value.strip() == "" else value.strip()

    def _parse(self, key: str, default: T, parse: Callable[[str], T], what: str) -> T:
        raw = self._get(key)
        if raw is None:
            return default
        try:
            return parse(raw)
        except ValueError:
            raise ConfigError(f"{key}={raw!r} is not {what}") from None

    def text(self, key: str, default: str, max_length: int) -> str:
        # NAME is shown as typed, so surrounding spaces are kept; empty means default.
        value = self.env.get(key)
        if value is None or value == "":
            return default
        if len(value) > max_length:
            raise ConfigError(f"{key}={value[:20]!r}... is longer than {max_length} characters")
        return value

    def optional_text(self, key: str) -> str | None:
        return self._get(key)

    def hostname(self, key: str, default: str) -> str:
        raw = self._get(key)
        if raw is None:
            return default
        try:
            ipaddress.ip_address(raw)
            return raw
        except ValueError:
            pass
        if not _HOSTNAME.fullmatch(raw):
            raise ConfigError(f"{key}={raw!r} is not a host name or IP address")
        return raw

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        value = self._parse(key, default, int, "an integer")
        if not low <= value <= high:
            raise ConfigError(f"{key}={self._get(key)!r} is out of range {low}..{high}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        raw = self._get(key)
        if raw is None:
            return default
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise ConfigError(f"{key}={raw!r} is not a boolean (true/false, 1/0, yes/no)")

    def seconds(self, key: str, default: float, allow_zero: bool = False) -> float:
        value = self._parse(key, default, float, "a number of seconds")
        if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
            bound = "zero or more" if allow_zero else "greater than zero"
            raise ConfigError(f"{key}={self._get(key)!r} must be {bound} seconds")
        return value

    def certificates(self, key: str) -> str | None:
        """The path of a PEM bundle of CA certificates, loaded once here so
        that a wrong file fails at start rather than at the first connection."""
        path = self._get(key)
        if path is None:
            return None
        try:
            ssl.create_default_context(cafile=path)
        except FileNotFoundError:
            raise ConfigError(f"{key}={path!r} does not exist") from None
        except ssl.SSLError:
            raise ConfigError(f"{key}={path!r} holds no PEM certificate") from None
        except OSError as exc:
            raise ConfigError(f"{key}={path!r} cannot be read: {exc.strerror}") from None
        return path

    def password(self) -> str | None:
        inline = self.env.get("REDIS_PASSWORD")
        path = self._get("REDIS_PASSWORD_FILE")
        if inline and path:
            raise ConfigError("REDIS_PASSWORD and REDIS_PASSWORD_FILE are both set; set only one")
        if path is None:
            return inline or None
        try:
            secret = Path(path).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise ConfigError(f"REDIS_PASSWORD_FILE={path!r} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise ConfigError(f"REDIS_PASSWORD_FILE={path!r} cannot be read: {reason}") from None
        if not secret:
            raise ConfigError(f"REDIS_PASSWORD_FILE={path!r} is empty")
        return secret
