"""``keystream certs dev``: a local CA and node/client certificates for trying TLS (not production)."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

import click
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@click.group()
def certs() -> None:
    """Certificates for TLS."""


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    path.chmod(0o600)


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Keystream dev"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common)])  # fmt: skip


def _sans(hosts: list[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def make_dev_certs(out: Path, hosts: list[str], nodes: int, days: int) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = _key()
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Keystream dev CA"))
        .issuer_name(_name("Keystream dev CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    written = [out / "ca.pem", out / "ca-key.pem"]
    written[0].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    _write_key(written[1], ca_key)

    def leaf(name: str, sans: list[str], usage: list[x509.ObjectIdentifier]) -> None:
        key = _key()
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(_sans(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage(usage), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        (out / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(out / f"{name}-key.pem", key)
        written.extend([out / f"{name}.pem", out / f"{name}-key.pem"])

    both = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    leaf("node", hosts, both)  # one certificate every local node can use
    for i in range(1, nodes + 1):
        leaf(f"node{i}", [*hosts, f"node{i}"], both)
    leaf("client", ["client"], [ExtendedKeyUsageOID.CLIENT_AUTH])
    return written


@certs.command("dev")
@click.option("--out", type=click.Path(path_type=Path), default=Path("./certs"), show_default=True)
@click.option("--hosts", default="localhost,127.0.0.1", show_default=True, help="Names/IPs in the node certificates.")
@click.option("--nodes", type=click.IntRange(0, 64), default=3, show_default=True, help="Also node1..nodeN certs.")
@click.option("--days", type=click.IntRange(1, 3650), default=30, show_default=True)
def dev(out: Path, hosts: str, nodes: int, days: int) -> None:
    """Make a dev CA, node certificates and a client certificate in OUT."""
    written = make_dev_certs(out, [h.strip() for h in hosts.split(",") if h.strip()], nodes, days)
    for path in written:
        click.echo(str(path))
    click.echo(
        f"use: keystream node --set tls.listeners=default --set tls.cert={out}/node.pem "
        f"--set tls.key={out}/node-key.pem --set tls.ca={out}/ca.pem ...; clients: --tls-ca {out}/ca.pem"
    )
