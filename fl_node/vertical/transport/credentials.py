"""Per-role TLS identities: a throw-away certificate authority and one certificate per party.

Every party (guest, host, arbiter) holds an X.509 certificate whose common name (and DNS
subject alternative name) is its role, issued by a CA that exists only for one run
(:func:`make_credentials`, EC P-256 keys via ``cryptography``); the CA key is discarded once
the certificates are issued. :func:`tls_context` turns a party's identity into a TLS 1.3
context that presents its certificate and requires a CA-signed peer.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fl_node.vertical.transport._errors import PeerAuthenticationError, TransportUsageError

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

LOCALHOST = "127.0.0.1"
"""The only address the parties listen on and certify."""


@dataclass(frozen=True, repr=False)
class PartyCredentials:
    """One party's TLS identity: its certificate and key, and the CA certificate.

    Attributes
    ----------
    role : str
        The role named in the certificate.
    cert_pem, key_pem, ca_pem : bytes
        PEM encodings (the private key is unencrypted PKCS#8; keep it in memory).
    """

    role: str
    cert_pem: bytes
    key_pem: bytes
    ca_pem: bytes

    def __repr__(self) -> str:
        return f"PartyCredentials(role={self.role!r})"


def make_credentials(
    roles: Sequence[str], *, valid_for: dt.timedelta = dt.timedelta(days=1)
) -> dict[str, PartyCredentials]:
    """Mint a throw-away CA and one certificate per role (EC P-256, SHA-256).

    Each leaf has ``CN = role``, subject alternative names ``DNS:role`` and
    ``IP:127.0.0.1``, and both the server and client extended key usages. The CA key is
    discarded on return, so no further certificate can be issued.

    Parameters
    ----------
    roles : sequence of str
        Distinct role names (letters, digits, ``-``).
    valid_for : timedelta, default 1 day
        Validity period.

    Returns
    -------
    dict
        ``role -> PartyCredentials``.

    Raises
    ------
    TransportUsageError
        When the roles are empty, repeated or not plain names.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    _check_roles(roles)
    now = dt.datetime.now(dt.UTC)
    validity = (now - dt.timedelta(minutes=5), now + valid_for)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _ca_certificate(ca_key, validity)
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    out: dict[str, PartyCredentials] = {}
    for role in roles:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _leaf_certificate(role, key, ca_key, ca_cert.subject, validity)
        out[role] = PartyCredentials(
            role=role,
            cert_pem=cert.public_bytes(serialization.Encoding.PEM),
            key_pem=key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            ca_pem=ca_pem,
        )
    return out


def _check_roles(roles: Sequence[str]) -> None:
    if len(set(roles)) != len(roles) or not roles:
        raise TransportUsageError("roles must be distinct and non-empty")
    for role in roles:
        if not role or not all(ch.isalnum() or ch == "-" for ch in role):
            raise TransportUsageError(f"invalid role name {role!r}")


def _ca_certificate(
    ca_key: ec.EllipticCurvePrivateKey, validity: tuple[dt.datetime, dt.datetime]
) -> x509.Certificate:
    """The self-signed CA certificate (may sign leaves only, no intermediate CAs)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fedmarket vfl session CA")])
    usage = x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .sign(ca_key, hashes.SHA256())
    )


def _leaf_certificate(
    role: str,
    key: ec.EllipticCurvePrivateKey,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_name: x509.Name,
    validity: tuple[dt.datetime, dt.datetime],
) -> x509.Certificate:
    """A party's certificate: ``CN = role``, SAN ``DNS:role`` and ``IP:127.0.0.1``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    names = [x509.DNSName(role), x509.IPAddress(ipaddress.ip_address(LOCALHOST))]
    usages = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, role)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def tls_context(creds: PartyCredentials, *, server: bool) -> ssl.SSLContext:
    """A TLS 1.3 context that presents ``creds`` and requires a CA-signed peer.

    Parameters
    ----------
    creds : PartyCredentials
        This party's identity.
    server : bool
        ``True`` for the listening side (no session tickets), ``False`` for the connecting
        side (host name checked against the expected role).
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.verify_mode = ssl.CERT_REQUIRED
    if server:
        ctx.num_tickets = 0  # no session tickets: nothing but frames ever arrives
    else:
        ctx.check_hostname = True
    ctx.load_verify_locations(cadata=creds.ca_pem.decode("ascii"))
    # load_cert_chain only reads files: write them to a private temporary folder.
    with tempfile.TemporaryDirectory(prefix="fedmarket-tls-") as folder:
        cert_path = Path(folder) / "cert.pem"
        key_path = Path(folder) / "key.pem"
        cert_path.write_bytes(creds.cert_pem)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(creds.key_pem)
        ctx.load_cert_chain(str(cert_path), str(key_path))
    return ctx


def certificate_role(sock: ssl.SSLSocket) -> str:
    """The role (common name) in the certificate the peer presented.

    Parameters
    ----------
    sock : ssl.SSLSocket
        A socket whose handshake is complete.

    Raises
    ------
    PeerAuthenticationError
        When the peer presented no certificate, or one without a common name.
    """
    cert = sock.getpeercert()
    if not cert:
        raise PeerAuthenticationError("the peer presented no certificate")
    subject: Any = cert.get("subject", ())
    for rdn in subject:
        for name, value in rdn:
            if name == "commonName":
                return str(value)
    raise PeerAuthenticationError("the peer certificate has no common name")
