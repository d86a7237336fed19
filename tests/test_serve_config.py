"""Safe-by-default serving: loopback unless a login is set, valid ports and credentials."""

import pytest

from fintune.errors import FinTuneError
from ui.config import ServeConfig


def test_defaults_bind_loopback_without_login(monkeypatch):
    monkeypatch.delenv("FINTUNE_AUTH", raising=False)
    config = ServeConfig()
    assert (config.host, config.port, config.credentials) == ("127.0.0.1", 7860, None)


def test_exposing_the_app_requires_auth(monkeypatch):
    monkeypatch.delenv("FINTUNE_AUTH", raising=False)
    with pytest.raises(FinTuneError, match="--host 0.0.0.0 would expose.*--auth"):
        ServeConfig(host="0.0.0.0")
    assert ServeConfig(host="0.0.0.0", auth="ana:s3cret").credentials == ("ana", "s3cret")


def test_auth_from_environment(monkeypatch):
    monkeypatch.setenv("FINTUNE_AUTH", "bob:pw")
    assert ServeConfig(host="0.0.0.0").credentials == ("bob", "pw")


@pytest.mark.parametrize("kwargs, message", [
    (dict(port=0), "not a valid TCP port"),
    (dict(auth="nocolon"), "USER:PASSWORD"),
    (dict(max_upload_mb=0), "max-upload-mb"),
])
def test_bad_settings_are_explained(kwargs, message):
    with pytest.raises(FinTuneError, match=message):
        ServeConfig(**kwargs)


def test_chat_thread_settings_from_the_environment(monkeypatch):
    from fintune.engine import ServingConfig
    from fintune.errors import ModelError

    monkeypatch.setenv("FINTUNE_CHAT_THREADS", "1")
    monkeypatch.setenv("FINTUNE_CHAT_BATCH_THREADS", "2")
    config = ServingConfig.from_env()
    assert (config.threads, config.batch_threads) == (1, 2)
    monkeypatch.setenv("FINTUNE_CHAT_THREADS", "two")
    with pytest.raises(ModelError, match="FINTUNE_CHAT_THREADS='two'"):
        ServingConfig.from_env()
