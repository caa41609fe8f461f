"""Settings of the documents service."""

from pathlib import Path

from jietiao_shared.settings import ServiceSettings
from pydantic import Field, SecretStr

from .seal import SealConfig


class DocumentsSettings(ServiceSettings):
    """Documents adds its CJK font and its seal.

    ``JIETIAO_CJK_FONT``: the TrueType CJK font to render with.
    ``JIETIAO_DATA_DIR``: the service's own folder (the local seal PKI lives there).
    ``JIETIAO_SEAL_CERT`` / ``JIETIAO_SEAL_KEY`` / ``JIETIAO_SEAL_CHAIN``: the
    operator's seal certificate, its private key and its chain up to the root (PEM
    or DER); ``JIETIAO_SEAL_KEY_PASSPHRASE`` decrypts the key;
    ``JIETIAO_SEAL_TRUST`` overrides the trusted root (default: the self-signed
    certificates of the chain). ``JIETIAO_TSA_URL``: the RFC 3161 timestamp
    authority; without it, only the local PKI's local TSA is available.

    Long-term validation (PAdES B-LT, on by default: ``JIETIAO_SEAL_LONG_TERM``):
    each seal embeds its chains' certificates and CRLs. The local CA issues its
    own; with an operator certificate, ``JIETIAO_SEAL_CRLS`` names CRL files
    (comma-separated, re-read when they change) and/or
    ``JIETIAO_SEAL_FETCH_REVOCATION=true`` lets sealing fetch CRLs and OCSP answers
    from the addresses in the certificates. With neither, sealing refuses.
    """

    service_name: str = "documents"
    http_port: int = 8105
    cjk_font: str | None = None
    data_dir: Path | None = None
    seal_cert: Path | None = None
    seal_key: Path | None = None
    seal_chain: Path | None = None
    seal_key_passphrase: SecretStr | None = Field(default=None, repr=False)
    seal_trust: Path | None = None
    tsa_url: str | None = None
    seal_crls: str = ""
    seal_fetch_revocation: bool = False
    seal_long_term: bool = True
    seal_expiry_warning_days: int = 30
    seal_check_interval_seconds: float = 86400.0

    def seal_config(self) -> SealConfig:
        """What the sealer is built from."""
        passphrase = self.seal_key_passphrase
        return SealConfig(
            cert=self.seal_cert,
            key=self.seal_key,
            chain=self.seal_chain,
            key_passphrase=passphrase.get_secret_value() if passphrase else None,
            trust=self.seal_trust,
            tsa_url=self.tsa_url or None,
            data_dir=self.data_dir,
            crls=tuple(Path(p.strip()) for p in self.seal_crls.split(",") if p.strip()),
            fetch_revocation=self.seal_fetch_revocation,
            long_term=self.seal_long_term,
        )
