import subprocess
import sys

import pytest

from app.config import ConfigError, Settings, load_or_exit
from tests.support import ROOT, Certificates


def test_defaults_follow_the_seed():
    settings = Settings.from_env({})
    assert settings.name == "world"
    assert settings.redis_host == "redis"
    assert (settings.redis_port, settings.redis_db, settings.port) == (6379, 0, 8080)
    assert settings.redis_password is None


def test_values_are_read_from_the_environment(tmp_path):
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    settings = Settings.from_env({
        "NAME": "Docker", "REDIS_HOST": "redis-master.default.svc", "REDIS_PORT": "6380",
        "REDIS_DB": "3", "REDIS_PASSWORD_FILE": str(secret), "REDIS_SOCKET_TIMEOUT": "1.5",
        "PORT": "9000", "WEB_CONCURRENCY": "4", "GUNICORN_THREADS": "2",
        "GIT_REVISION": "abc123",
    })
    assert settings.name == "Docker"
    assert settings.redis_host == "redis-master.default.svc"
    assert (settings.redis_port, settings.redis_db, settings.port) == (6380, 3, 9000)
    assert settings.redis_password == "s3cret"
    assert settings.redis_socket_timeout == 1.5
    assert (settings.workers, settings.threads) == (4, 2)
    assert settings.git_revision == "abc123"


def test_tls_and_an_acl_user_are_read_from_the_environment(tmp_path):
    ca = Certificates(tmp_path / "tls", ["redis.example"]).ca
    settings = Settings.from_env({"REDIS_TLS": "true", "REDIS_TLS_CA_FILE": str(ca),
                                  "REDIS_USERNAME": "friendlyhello", "REDIS_PASSWORD": "s3cret"})
    assert (settings.redis_tls, settings.redis_tls_ca_file) == (True, str(ca))
    assert (settings.redis_username, settings.redis_password) == ("friendlyhello", "s3cret")
    assert Settings.from_env({}).redis_tls is False


def test_a_ca_file_without_tls_is_refused(tmp_path):
    ca = Certificates(tmp_path / "tls", ["redis.example"]).ca
    with pytest.raises(ConfigError, match=f"REDIS_TLS_CA_FILE='{ca}' is set but REDIS_TLS is not true"):
        Settings.from_env({"REDIS_TLS_CA_FILE": str(ca)})


BAD_ENVIRONMENTS = [
    ({"REDIS_PORT": "abc"}, "REDIS_PORT='abc' is not an integer"),
    ({"REDIS_PORT": "70000"}, "REDIS_PORT='70000' is out of range"),
    ({"REDIS_DB": "-1"}, "REDIS_DB='-1' is out of range"),
    ({"PORT": "0"}, "PORT='0' is out of range"),
    ({"REDIS_HOST": "bad host!"}, "REDIS_HOST='bad host!' is not a host name"),
    ({"REDIS_SOCKET_TIMEOUT": "-1"}, "REDIS_SOCKET_TIMEOUT='-1' must be greater than zero"),
    ({"REDIS_CONNECT_TIMEOUT": "0"}, "REDIS_CONNECT_TIMEOUT='0' must be greater than zero"),
    ({"REDIS_CONNECT_TIMEOUT": "nan"}, "REDIS_CONNECT_TIMEOUT='nan' must be greater than zero"),
    ({"REDIS_SOCKET_TIMEOUT": "soon"}, "REDIS_SOCKET_TIMEOUT='soon' is not a number of seconds"),
    ({"REDIS_PASSWORD_FILE": "/nonexistent/password"},
     "REDIS_PASSWORD_FILE='/nonexistent/password' does not exist"),
    ({"REDIS_PASSWORD": "a", "REDIS_PASSWORD_FILE": "/x"}, "are both set"),
    ({"WEB_CONCURRENCY": "many"}, "WEB_CONCURRENCY='many' is not an integer"),
    ({"GUNICORN_THREADS": "0"}, "GUNICORN_THREADS='0' is out of range"),
    ({"SHUTDOWN_DELAY": "30", "GRACEFUL_TIMEOUT": "10"}, "SHUTDOWN_DELAY=30 must leave at least 5s"),
    ({"SHUTDOWN_DELAY": "24.9", "GRACEFUL_TIMEOUT": "25"}, "SHUTDOWN_DELAY=24.9 must leave at least 5s"),
    ({"REDIS_BACKOFF_INITIAL": "5", "REDIS_BACKOFF_MAX": "1"}, "REDIS_BACKOFF_MAX=1 is smaller"),
    ({"NAME": "x" * 300}, "NAME='xxxxxxxxxxxxxxxxxxxx'... is longer than 256"),
    ({"GUNICORN_RELOAD": "sometimes"}, "GUNICORN_RELOAD='sometimes' is not a boolean"),
    ({"REDIS_TLS": "maybe"}, "REDIS_TLS='maybe' is not a boolean"),
    ({"REDIS_TLS": "true", "REDIS_TLS_CA_FILE": "/nonexistent/ca.crt"},
     "REDIS_TLS_CA_FILE='/nonexistent/ca.crt' does not exist"),
    ({"REDIS_TLS": "true", "REDIS_TLS_CA_FILE": str(ROOT / "README.md")}, "holds no PEM certificate"),
    ({"REDIS_USERNAME": "friendlyhello"}, "REDIS_USERNAME='friendlyhello' needs REDIS_PASSWORD"),
]


@pytest.mark.parametrize("raw,expected", [
    (None, False), ("", False), ("1", True), ("true", True), ("YES", True), ("on", True),
    ("0", False), ("false", False), ("No", False), ("off", False),
])
def test_reload_flag(raw, expected):
    environ = {} if raw is None else {"GUNICORN_RELOAD": raw}
    assert Settings.from_env(environ).reload is expected


@pytest.mark.parametrize("environ,message", BAD_ENVIRONMENTS, ids=[m for _, m in BAD_ENVIRONMENTS])
def test_bad_value_is_named(environ, message):
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(environ)
    assert message in str(raised.value)


def test_empty_password_file_is_refused(tmp_path):
    secret = tmp_path / "password"
    secret.write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        Settings.from_env({"REDIS_PASSWORD_FILE": str(secret)})


def test_load_or_exit_prints_one_line(capsys):
    with pytest.raises(SystemExit) as exited:
        load_or_exit({"REDIS_PORT": "abc"})
    assert exited.value.code == 2
    assert capsys.readouterr().err == (
        "friendlyhello: configuration error: REDIS_PORT='abc' is not an integer\n")


@pytest.mark.parametrize("environ,message", [
    ({"REDIS_PORT": "abc"}, "REDIS_PORT='abc'"),
    ({"REDIS_PASSWORD_FILE": "/nonexistent/password"}, "REDIS_PASSWORD_FILE='/nonexistent/password'"),
    ({"REDIS_SOCKET_TIMEOUT": "-3"}, "REDIS_SOCKET_TIMEOUT='-3'"),
])
def test_server_refuses_to_start(environ, message):
    """The real entry point: gunicorn stops with one line and a non-zero status."""
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
        cwd=ROOT, env={"PATH": "/usr/bin:/bin", **environ},
        capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    assert message in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("host", ["redis", "redis.ns.svc.cluster.local", "10.0.0.7", "::1", "fd00::7"])
def test_redis_host_takes_names_and_ip_addresses(host):
    assert Settings.from_env({"REDIS_HOST": host}).redis_host == host
