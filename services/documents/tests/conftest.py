"""What the unit and integration tests of documents share: operator seal certificates."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from documents.seal import SealConfig, ensure_local_pki, issue_certificate


@dataclass(frozen=True)
class OperatorSeal:
    """An operator's seal certificate and key on disk, and the CA that issued them."""

    config: SealConfig
    cert: x509.Certificate
    ca: x509.Certificate
    ca_key: ec.EllipticCurvePrivateKey

    def crl(
        self, path: Path, *, issued: datetime, revoked: bool = False, der: bool = False
    ) -> Path:
        """Write a CRL of the CA (valid 7 days from ``issued``), listing the seal's
        certificate when ``revoked``; PEM, or DER as CAs publish them."""
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.ca.subject)
            .last_update(issued)
            .next_update(issued + timedelta(days=7))
        )
        if revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(self.cert.serial_number)
                .revocation_date(issued)
                .build()
            )
        crl = builder.sign(self.ca_key, hashes.SHA256())
        encoding = serialization.Encoding.DER if der else serialization.Encoding.PEM
        path.write_bytes(crl.public_bytes(encoding))
        return path


MakeOperatorSeal = Callable[..., OperatorSeal]


@pytest.fixture
def operator_seal() -> MakeOperatorSeal:
    """Issue an operator seal certificate into ``folder / "operator"``.

    The CA is the local PKI of ``ca_folder`` (default: ``folder``, whose local TSA
    then stamps the time); ``subject`` defaults to the CA's name.
    """

    def make(
        folder: Path,
        *,
        ca_folder: Path | None = None,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        subject: str | None = None,
        passphrase: str | None = None,
        crl_url: str | None = None,
    ) -> OperatorSeal:
        pki = ensure_local_pki(ca_folder or folder)
        ca = x509.load_pem_x509_certificate(pki.ca.read_bytes())
        ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), None)
        assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        name = (
            x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, subject)])
            if subject
            else ca.subject
        )
        cert = issue_certificate(
            ca,
            ca_key,
            name,
            key.public_key(),
            not_before=not_before or now - timedelta(days=1),
            not_after=not_after or now + timedelta(days=365),
            crl_url=crl_url,
        )
        own = folder / "operator"
        own.mkdir(parents=True, exist_ok=True)
        cert_path, key_path = own / "cert.pem", own / "key.pem"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(passphrase.encode())
            if passphrase
            else serialization.NoEncryption()
        )
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
            )
        )
        config = SealConfig(
            cert=cert_path,
            key=key_path,
            chain=pki.ca,
            key_passphrase=passphrase,
            data_dir=folder / "data" if ca_folder else folder,
        )
        return OperatorSeal(config=config, cert=cert, ca=ca, ca_key=ca_key)

    return make
