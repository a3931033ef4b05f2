"""Test certificates made on the spot (cryptography): a CA, server and client certificates
signed by it, an expired client certificate, one for the wrong host, and a second CA
nobody trusts. Nothing is committed; every file lands in the directory given.

``make_pki(directory)`` returns a :class:`Pki` of file paths (PEM).
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["CertPair", "Pki", "make_pki"]

HOST = "127.0.0.1"
CLIENT_NAME = "alice"


@dataclasses.dataclass(frozen=True)
class CertPair:
    cert: str
    key: str


@dataclasses.dataclass(frozen=True)
class Pki:
    ca: str  # the CA certificate clients and the server trust
    server: CertPair  # for 127.0.0.1 and localhost, signed by ca
    client: CertPair  # CN=alice, signed by ca
    expired_client: CertPair  # CN=alice, signed by ca, expired yesterday
    wrong_host: CertPair  # for other.example only, signed by ca
    other_ca: str  # a CA nobody trusts
    other_server: CertPair  # for 127.0.0.1, signed by other_ca
    other_client: CertPair  # CN=mallory, signed by other_ca


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "hypergraph tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


class _Authority:
    def __init__(self, common_name: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = _name(common_name)
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(self.name)
            .issuer_name(self.name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self.key, hashes.SHA256())
        )

    def issue(
        self,
        common_name: str,
        *,
        hosts: tuple[str, ...] = (),
        client: bool = False,
        expired: bool = False,
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=30)
        if expired:
            start, end = now - datetime.timedelta(days=30), now - datetime.timedelta(days=1)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self.name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH]
                ),
                critical=False,
            )
        )
        if hosts:
            names = [
                x509.IPAddress(ipaddress.ip_address(h)) if h[0].isdigit() else x509.DNSName(h)
                for h in hosts
            ]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return builder.sign(self.key, hashes.SHA256()), key


def _write(directory: Path, stem: str, cert: x509.Certificate, key=None) -> CertPair | str:
    cert_path = directory / f"{stem}.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is None:
        return str(cert_path)
    key_path = directory / f"{stem}.key"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return CertPair(str(cert_path), str(key_path))


def make_pki(directory: Path) -> Pki:
    """Every certificate the TLS tests need, written under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca, other = _Authority("hypergraph test CA"), _Authority("untrusted CA")
    server_hosts = (HOST, "localhost")
    return Pki(
        ca=_write(directory, "ca", ca.cert),
        server=_write(directory, "server", *ca.issue("server", hosts=server_hosts)),
        client=_write(directory, "client", *ca.issue(CLIENT_NAME, client=True)),
        expired_client=_write(
            directory, "expired-client", *ca.issue(CLIENT_NAME, client=True, expired=True)
        ),
        wrong_host=_write(directory, "wrong-host", *ca.issue("other", hosts=("other.example",))),
        other_ca=_write(directory, "other-ca", other.cert),
        other_server=_write(directory, "other-server", *other.issue("server", hosts=server_hosts)),
        other_client=_write(directory, "other-client", *other.issue("mallory", client=True)),
    )


if __name__ == "__main__":
    # Other languages' test suites: python -m tests.support.certificates DIR
    import sys

    print(make_pki(Path(sys.argv[1])))
