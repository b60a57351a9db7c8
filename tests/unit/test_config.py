"""ServerConfig: defaults, validation, and clear messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from sluice.catalog.core.model import DEFAULT_CATALOG_ID
from sluice.control_plane.app import check_transport, describe_transport
from sluice.control_plane.config import MIB, ServerConfig, describe_validation_error
from sluice.control_plane.errors import StartupError

pytestmark = pytest.mark.unit


def _problem(**settings: object) -> str:
    with pytest.raises(ValidationError) as caught:
        ServerConfig(**settings)  # type: ignore[arg-type]
    return describe_validation_error(caught.value)


def test_defaults() -> None:
    config = ServerConfig()
    assert (config.host, config.port) == ("127.0.0.1", 50051)
    assert config.data_dir == Path.home() / ".sluice"
    assert config.db_url is None
    assert config.database_url == f"sqlite:///{Path.home() / '.sluice' / 'sluice.db'}"
    assert config.max_message_bytes == 16 * MIB
    assert config.default_catalog_id == DEFAULT_CATALOG_ID
    assert (config.log_level, config.log_format) == ("INFO", "json")
    assert config.address == "127.0.0.1:50051"


def test_data_dir_is_expanded_and_absolute(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert ServerConfig(data_dir=Path("~/d")).data_dir == tmp_path / "d"
    assert ServerConfig(data_dir=Path("rel")).data_dir == tmp_path / "rel"


def test_sqlite_file_lives_in_the_data_dir(tmp_path: Path) -> None:
    assert ServerConfig(data_dir=tmp_path).database_url == f"sqlite:///{tmp_path}/sluice.db"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres@127.0.0.1:5432/test",
        "postgres://u:p@db/x",
        "postgresql+psycopg://u@h/d",
        "sqlite:////tmp/x.db",
    ],
)
def test_accepted_database_urls(url: str) -> None:
    assert ServerConfig(db_url=url).database_url == url


def test_unsupported_database_is_named() -> None:
    assert "unsupported database 'mysql'" in _problem(db_url="mysql://u@h/d")


def test_garbage_database_url_is_explained() -> None:
    message = _problem(db_url="not a url")
    assert message.startswith("db_url: not a database URL")


def test_unknown_setting_is_an_error() -> None:
    assert _problem(prot=1) == "prot: unknown setting"


@pytest.mark.parametrize("port", [-1, 65536])
def test_port_out_of_range(port: int) -> None:
    assert _problem(port=port).startswith("port: Input should be")


def test_log_settings_are_case_insensitive_and_checked() -> None:
    config = ServerConfig(log_level="debug", log_format="TEXT")  # type: ignore[arg-type]
    assert (config.log_level, config.log_format) == ("DEBUG", "text")
    assert _problem(log_format="xml").startswith("log_format:")


def test_bad_default_catalog_id() -> None:
    assert "catalog_id 'a b' is not valid" in _problem(default_catalog_id="a b")


def test_several_problems_are_all_reported() -> None:
    message = _problem(port=0.5, max_workers=0)
    assert "port:" in message
    assert "max_workers:" in message


def test_config_is_frozen() -> None:
    config = ServerConfig()
    with pytest.raises(ValidationError):
        config.port = 1  # type: ignore[misc]


def test_ipv6_host_is_bracketed() -> None:
    assert ServerConfig(host="::1", port=5).address == "[::1]:5"


def test_spare_sandboxes_default_to_one_with_a_warm_pool_only() -> None:
    assert ServerConfig(pool_size=1).spares == 1
    assert ServerConfig(pool_size=0).spares == 0
    assert ServerConfig(pool_size=0, spare_sandboxes=2).spares == 2
    assert ServerConfig(pool_size=2, spare_sandboxes=0).spares == 0
    with pytest.raises(ValidationError):
        ServerConfig(spare_sandboxes=-1)


def test_transport_settings() -> None:
    # No flags: plaintext on the default loopback host.
    check_transport(ServerConfig())
    assert describe_transport(ServerConfig()) == "plaintext (loopback only)"
    assert ServerConfig(plaintext=True).insecure is True  # the old name still works
    with pytest.raises(StartupError, match=r"0\.0\.0\.0 is not a loopback address"):
        check_transport(ServerConfig(host="0.0.0.0"))
    open_plaintext = ServerConfig(host="0.0.0.0", insecure=True)
    check_transport(open_plaintext)
    assert describe_transport(open_plaintext) == "plaintext (--insecure: NOT encrypted)"
    tls = ServerConfig(host="0.0.0.0", tls_cert=Path("c"), tls_key=Path("k"))
    check_transport(tls)
    assert describe_transport(tls) == "TLS"
    assert "exclude each other" in _problem(insecure=True, tls_cert="c", tls_key="k")
    assert "only for plaintext servers on loopback" in _problem(
        host="0.0.0.0", insecure=True, insecure_no_auth=True
    )
    assert ServerConfig(insecure_no_auth=True).insecure_no_auth


def test_where_crawls_run() -> None:
    """auto: in the sandboxes with a warm pool, else in the server's worker processes."""
    assert ServerConfig().crawls_on_ray
    assert not ServerConfig(pool_size=0).crawls_on_ray
    assert ServerConfig(pool_size=0, crawls_in="sandbox").crawls_on_ray
    assert not ServerConfig(crawls_in="server").crawls_on_ray
    assert "crawls_in" in _problem(crawls_in="laptop")
