"""Test certificates made with `cryptography`: a CA, server certificates for 127.0.0.1 and
client certificates with a chosen subject."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

_NOW = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)


@dataclass
class Pair:
    cert: Path
    key: Path


def _name(attrs: list[tuple[x509.ObjectIdentifier, str]]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in attrs])


def _write(folder: Path, stem: str, cert: x509.Certificate,
           key: ec.EllipticCurvePrivateKey) -> Pair:
    c, k = folder / f"{stem}-cert.pem", folder / f"{stem}-key.pem"
    c.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    k.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    return Pair(c, k)


class Ca:
    def __init__(self, folder: Path, name: str = "roost test CA") -> None:
        self.folder = folder
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = _name([(NameOID.COMMON_NAME, name)])
        self.cert = (
            x509.CertificateBuilder().subject_name(self.name).issuer_name(self.name)
            .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(_NOW).not_valid_after(_NOW + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256()))
        self.pem = folder / f"{name.replace(' ', '-')}.pem"
        self.pem.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, stem: str, subject: list[tuple[x509.ObjectIdentifier, str]],
              server: bool = False) -> Pair:
        key = ec.generate_private_key(ec.SECP256R1())
        b = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(self.name)
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(_NOW).not_valid_after(_NOW + datetime.timedelta(days=3650)))
        if server:
            b = b.add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
        return _write(self.folder, stem, b.sign(self.key, hashes.SHA256()), key)

    def server(self, stem: str = "server", cn: str = "roost server") -> Pair:
        return self.issue(stem, [(NameOID.COMMON_NAME, cn)], server=True)


CLIENT_SUBJECT = [(NameOID.COUNTRY_NAME, "DE"), (NameOID.ORGANIZATION_NAME, "Example, Inc"),
                  (NameOID.ORGANIZATIONAL_UNIT_NAME, "ops"), (NameOID.COMMON_NAME, "app1")]
#: CLIENT_SUBJECT as Java's X500Principal.getName() prints it
CLIENT_DN = "CN=app1,OU=ops,O=Example\\, Inc,C=DE"
