"""TLS and mutual TLS on the real server: certificates made in the test with `cryptography`."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sluice import sdk
from tests.integration.conftest import (
    OPERATOR_TOKEN,
    ServerProcess,
    free_port,
    start_server,
    stop_server,
)

pytestmark = pytest.mark.integration


@dataclass
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    operator_cert: Path
    operator_key: Path
    alice_cert: Path
    alice_key: Path


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name | None,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer or name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _write_cert(cert: x509.Certificate, path: Path) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    ca_key = _key()
    ca = _cert("sluice test CA", ca_key, None, ca_key, ca=True)
    files: dict[str, Path] = {"ca": _write_cert(ca, folder / "ca.pem")}
    for who, server in (("server", True), ("operator", False), ("alice", False)):
        key = _key()
        cert = _cert(f"{who}-cert", key, ca.subject, ca_key, server=server)
        files[f"{who}_cert"] = _write_cert(cert, folder / f"{who}.pem")
        files[f"{who}_key"] = _write_key(key, folder / f"{who}-key.pem")
    return Pki(**files)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[ServerProcess]:
    running = start_server(
        tmp_path_factory.mktemp("tls-server"),
        # The Glue door serves HTTPS with the same certificate.
        "--glue-port",
        str(free_port()),
        "--tls-cert",
        str(pki.server_cert),
        "--tls-key",
        str(pki.server_key),
        "--client-ca",
        str(pki.ca),
        plaintext=False,
        health_credentials=grpc.ssl_channel_credentials(
            pki.ca.read_bytes(),
            pki.operator_key.read_bytes(),
            pki.operator_cert.read_bytes(),
        ),
    )
    yield running
    stop_server(running.process)


def _client(server: ServerProcess, pki: Pki, who: str | None, token: str = "") -> sdk.Client:
    options = sdk.ClientOptions(
        token=token,
        tls_ca_file=str(pki.ca),
        tls_cert_file=str(getattr(pki, f"{who}_cert")) if who else None,
        tls_key_file=str(getattr(pki, f"{who}_key")) if who else None,
        timeout_s=10,
    )
    return sdk.connect(server.address, options=options)


def test_a_client_certificate_authenticates_its_principal(
    tls_server: ServerProcess, pki: Pki
) -> None:
    with _client(tls_server, pki, "operator", OPERATOR_TOKEN) as operator:
        operator.iam.create_principal(
            "alice",
            account="333344445555",
            roles=["admin"],
            certificate_subject="alice-cert",
        )
    with _client(tls_server, pki, "alice") as alice:
        alice.catalog.create_database({"name": "by_certificate"})
        names = [d.name for d in alice.catalog.get_databases()]
    assert names == ["by_certificate"]


def test_without_a_client_certificate_there_is_no_connection(
    tls_server: ServerProcess, pki: Pki
) -> None:
    with (
        _client(tls_server, pki, None, OPERATOR_TOKEN) as anonymous,
        pytest.raises(sdk.Unavailable),
    ):
        list(anonymous.catalog.get_databases())


def test_plaintext_clients_cannot_talk_to_a_tls_server(tls_server: ServerProcess) -> None:
    options = sdk.ClientOptions(token=OPERATOR_TOKEN, timeout_s=5)
    with sdk.connect(tls_server.address, options=options) as plain, pytest.raises(sdk.Unavailable):
        list(plain.catalog.get_databases())


def test_an_unknown_certificate_subject_is_unauthenticated(
    tls_server: ServerProcess, pki: Pki
) -> None:
    # The operator's certificate names no principal; without its token it is nobody.
    with _client(tls_server, pki, "operator") as nobody, pytest.raises(sdk.Unauthenticated):
        list(nobody.catalog.get_databases())


def test_the_glue_door_serves_https_with_the_servers_certificate(
    tls_server: ServerProcess, pki: Pki
) -> None:
    import boto3

    glue_port = tls_server.args[tls_server.args.index("--glue-port") + 1]
    with _client(tls_server, pki, "operator", OPERATOR_TOKEN) as operator:
        operator.iam.create_principal("glue-tls", roles=["admin"])
        key = operator.iam.create_access_key("glue-tls")
    glue = boto3.client(
        "glue",
        endpoint_url=f"https://127.0.0.1:{glue_port}",
        region_name="us-east-1",
        aws_access_key_id=key.access_key_id,
        aws_secret_access_key=key.secret_access_key,
        verify=str(pki.ca),
    )
    glue.create_database(DatabaseInput={"Name": "over_tls"})
    assert glue.get_database(Name="over_tls")["Database"]["Name"] == "over_tls"
