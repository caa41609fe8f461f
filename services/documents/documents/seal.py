"""Seal signed and voided IOUs with the platform certificate (PAdES, pyHanko).

A signed copy gets one *certification* seal (DocMDP level 2: form filling and
signing allowed) over the whole file, with an RFC 3161 timestamp. Before that
seal, an empty signature field is reserved over the document's 作废登记栏. The
voided copy is the stored signed copy plus one incremental update: a second seal
in that reserved field, whose appearance reads 作废 and carries the void details.
Signing a reserved field is a change DocMDP level 2 allows, so the first seal
stays intact and valid in the voided copy (``verify`` shows it).

Key material: the operator configures a certificate, its key and its chain
(``JIETIAO_SEAL_CERT`` / ``JIETIAO_SEAL_KEY`` / ``JIETIAO_SEAL_CHAIN``,
``JIETIAO_SEAL_KEY_PASSPHRASE``) and a timestamp authority (``JIETIAO_TSA_URL``).
Without them the service makes, on first start, a local test PKI in its data
folder (``JIETIAO_DATA_DIR``/seal): a CA (ECDSA P-256), a seal certificate it
issues (digitalSignature + nonRepudiation) and a *local* timestamp authority
(pyHanko's dummy timestamper with its own RSA key and certificate from the same
CA). The local TSA's times are only as good as this machine's clock.

Every seal is PAdES B-LT: the certificates of the seal's and the timestamp's
chains and a CRL for each are embedded in the document's security store (DSS),
so the seal can be checked years later without reaching any server. The local CA
issues a fresh CRL for each seal; with an operator certificate the CRLs come from
``JIETIAO_SEAL_CRLS`` or are fetched from the addresses in the certificates
(``JIETIAO_SEAL_FETCH_REVOCATION``).

A missing, unreadable, expired or not-yet-valid certificate, or (with
``JIETIAO_SEAL_LONG_TERM`` on, the default) no usable revocation data, makes every
seal raise :class:`SealUnavailable`: nothing is emitted unsealed.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import logging
import os
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
from asn1crypto import crl as asn1_crl
from asn1crypto import keys as asn1_keys
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.pdf_utils import content
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.layout import (
    AxisAlignment,
    BoxConstraints,
    InnerScaling,
    Margins,
    SimpleBoxLayoutRule,
)
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.signers.pdf_signer import DSSContentSettings, SigDSSPlacementPreference
from pyhanko.sign.timestamps import DummyTimeStamper, TimeStamper
from pyhanko.sign.timestamps.common_utils import (
    TimestampRequestError,
    handle_tsp_response,
    set_tsp_headers,
)
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.stamp import StaticStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import RevokedError
from pyhanko_certvalidator.registry import SimpleCertificateStore

from .render import SealBox

log = logging.getLogger(__name__)


class _KnownOfflineEmbedding(logging.Filter):
    """pyHanko warns on every seal that it may not fetch revocation data; we hand it
    the CRLs ourselves on purpose, so the warning says nothing to an operator."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "but fetching is not allowed" not in str(record.msg)


logging.getLogger("pyhanko.sign.signers.pdf_signer").addFilter(_KnownOfflineEmbedding())

SEAL_FIELD = "JietiaoSeal"
VOID_FIELD = "JietiaoVoidSeal"
EXPIRY_WARNING_DAYS = 30
LOCAL_FOLDER = "seal"
LOCAL_CRL_DAYS = 7


class SealUnavailable(RuntimeError):
    """No usable seal certificate: missing, unreadable, expired or not yet valid."""

    def __init__(self, state: str, detail: str) -> None:
        super().__init__(f"seal {state}: {detail}")
        self.state = state


class SealFailed(RuntimeError):
    """Sealing ran but did not finish (timestamp authority down, bad PDF...)."""


@dataclass(frozen=True)
class SealConfig:
    """Where the seal's key material comes from."""

    cert: Path | None = None
    key: Path | None = None
    chain: Path | None = None
    key_passphrase: str | None = None
    trust: Path | None = None
    tsa_url: str | None = None
    data_dir: Path | None = None
    crls: tuple[Path, ...] = ()
    fetch_revocation: bool = False
    long_term: bool = True

    @property
    def operator_managed(self) -> bool:
        """True when the operator named a certificate (no local PKI is made)."""
        return self.cert is not None or self.key is not None


@dataclass(frozen=True)
class SealStatus:
    """What readiness and the expiry check report."""

    # ok | missing | unreadable | expired | not_yet_valid | no_revocation_data | revoked
    state: str
    detail: str
    not_after: datetime | None = None
    subject: str = ""

    @property
    def ok(self) -> bool:
        """True when seals can be made."""
        return self.state == "ok"

    def days_left(self, now: datetime | None = None) -> float | None:
        """Days until the certificate expires."""
        if self.not_after is None:
            return None
        return (self.not_after - (now or datetime.now(UTC))).total_seconds() / 86400


@dataclass(frozen=True)
class _Material:
    signer: signers.SimpleSigner
    cert: x509.Certificate
    trust_roots: tuple[asn1_x509.Certificate, ...]
    other_certs: tuple[asn1_x509.Certificate, ...]
    timestamper: TimeStamper
    crls: tuple[x509.CertificateRevocationList, ...]  # the operator's CRL files
    crl_issuer: tuple[x509.Certificate, Any] | None  # the local CA, when in use
    # the seal's certificate and the intermediate and TSA certificates under it:
    # a long-term seal needs a CRL from the issuer of each
    needs_revocation: tuple[x509.Certificate, ...]
    stamp: tuple[tuple[str, float], ...]  # the files and their mtimes it was read from


@dataclass(frozen=True)
class SealReport:
    """pyHanko's judgement of one signature in a PDF."""

    field: str
    signer: str
    signed_at: datetime | None
    intact: bool
    valid: bool
    trusted: bool
    coverage: str
    modification_level: str
    docmdp_ok: bool | None
    timestamp_ok: bool | None
    long_term: bool | None  # valid from the document's own DSS, at the timestamp's time
    bottom_line: bool

    def lines(self) -> Iterator[str]:
        """Human-readable lines for the command line."""
        yield f"signature {self.field}: {self.signer}"
        yield f"  signed at: {self.signed_at.isoformat() if self.signed_at else '-'}"
        yield f"  intact: {self.intact}"
        yield f"  valid: {self.valid}"
        yield f"  trusted: {self.trusted}"
        yield f"  coverage: {self.coverage}"
        yield f"  modification level: {self.modification_level}"
        yield f"  docmdp ok: {self.docmdp_ok}"
        yield f"  timestamp ok: {self.timestamp_ok}"
        yield f"  long-term validation data (PAdES B-LT): {self.long_term}"
        yield f"  bottom line: {'PASS' if self.bottom_line else 'FAIL'}"


# --- local PKI --------------------------------------------------------------------


@dataclass(frozen=True)
class LocalPki:
    """The files of the embedded stack's local PKI."""

    folder: Path

    @property
    def ca(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca.key.pem"

    @property
    def cert(self) -> Path:
        return self.folder / "seal.pem"

    @property
    def key(self) -> Path:
        return self.folder / "seal.key.pem"

    @property
    def tsa_cert(self) -> Path:
        return self.folder / "tsa.pem"

    @property
    def tsa_key(self) -> Path:
        return self.folder / "tsa.key.pem"

    def files(self) -> tuple[Path, ...]:
        return (self.ca, self.ca_key, self.cert, self.key, self.tsa_cert, self.tsa_key)

    def complete(self) -> bool:
        return all(path.is_file() for path in self.files())


def ensure_local_pki(data_dir: Path, *, valid_days: int = 825) -> LocalPki:
    """Make the local CA, seal certificate and TSA once; later calls reuse them.

    Safe for several processes sharing the folder: one makes it under a lock.
    """
    pki = LocalPki(data_dir / LOCAL_FOLDER)
    if pki.complete():
        return pki
    pki.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _locked(pki.folder / ".lock"):
        if not pki.complete():
            _make_local_pki(pki, valid_days)
            log.warning(
                "made a local seal CA, seal certificate and local timestamp authority in %s;"
                " configure JIETIAO_SEAL_CERT/KEY/CHAIN and JIETIAO_TSA_URL in production",
                pki.folder,
            )
    return pki


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _make_local_pki(pki: LocalPki, valid_days: int) -> None:
    now = datetime.now(UTC) - timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("Jietiao local seal CA")
    ca = (
        _builder(ca_name, ca_name, ca_key.public_key(), now, now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    seal_key = ec.generate_private_key(ec.SECP256R1())
    seal = issue_certificate(
        ca,
        ca_key,
        _name("Jietiao platform seal (local)"),
        seal_key.public_key(),
        not_before=now,
        not_after=now + timedelta(days=valid_days),
    )
    tsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tsa = (
        _builder(
            _name("Jietiao local TSA"),
            ca.subject,
            tsa_key.public_key(),
            now,
            ca.not_valid_after_utc,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(_aki(ca), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write(pki.ca, ca.public_bytes(serialization.Encoding.PEM))
    _write(pki.ca_key, _pem_key(ca_key), secret=True)
    _write(pki.tsa_cert, tsa.public_bytes(serialization.Encoding.PEM))
    _write(pki.tsa_key, _pem_key(tsa_key), secret=True)
    _write(pki.key, _pem_key(seal_key), secret=True)
    _write(pki.cert, seal.public_bytes(serialization.Encoding.PEM))  # last: marks complete


def issue_certificate(
    ca: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    *,
    not_before: datetime,
    not_after: datetime,
    crl_url: str | None = None,
) -> x509.Certificate:
    """A seal certificate (digitalSignature + nonRepudiation) issued by ``ca``;
    ``crl_url`` is where verifiers fetch the CA's CRL."""
    builder = (
        _builder(subject, ca.subject, public_key, not_before, not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True, non_repudiation=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(_aki(ca), critical=False)
    )
    if crl_url:
        point = x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(crl_url)],
            relative_name=None,
            reasons=None,
            crl_issuer=None,
        )
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Jietiao"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: Any,
    not_before: datetime,
    not_after: datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )


def _key_usage(
    *,
    digital_signature: bool = False,
    non_repudiation: bool = False,
    cert_sign: bool = False,
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=non_repudiation,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _aki(ca: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _pem_key(key: Any) -> bytes:
    data: bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return data


def _write(path: Path, data: bytes, *, secret: bool = False) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if secret else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    tmp.replace(path)


# --- loading ----------------------------------------------------------------------


def asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _asn1_key(key: Any) -> asn1_keys.PrivateKeyInfo:
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return asn1_keys.PrivateKeyInfo.load(der)


def read_certs(path: Path) -> list[x509.Certificate]:
    data = path.read_bytes()
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_certificates(data)
    return [x509.load_der_x509_certificate(data)]


def _read_key(path: Path, passphrase: str | None) -> Any:
    data = path.read_bytes()
    secret = passphrase.encode() if passphrase else None
    if b"-----BEGIN" in data:
        return serialization.load_pem_private_key(data, secret)
    return serialization.load_der_private_key(data, secret)


def read_crl(path: Path) -> x509.CertificateRevocationList:
    data = path.read_bytes()
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_crl(data)
    return x509.load_der_x509_crl(data)


DER = serialization.Encoding.DER


def local_crl(
    ca: x509.Certificate, ca_key: Any, now: datetime | None = None
) -> asn1_crl.CertificateList:
    """A fresh, empty CRL from the local CA: nothing it issued is revoked."""
    now = now or datetime.now(UTC)
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.subject)
        .last_update(now - timedelta(minutes=5))
        .next_update(now + timedelta(days=LOCAL_CRL_DAYS))
        .add_extension(x509.CRLNumber(int(now.timestamp() * 1000)), critical=False)
        .add_extension(_aki(ca), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return asn1_crl.CertificateList.load(crl.public_bytes(DER))


def _check_revocation_sources(config: SealConfig, material: _Material, now: datetime) -> None:
    """Refuse to seal when a long-term (B-LT) seal could not be completed."""
    stale = [c for c in material.crls if c.next_update_utc and c.next_update_utc <= now]
    if stale:
        raise SealUnavailable(
            "no_revocation_data",
            f"{len(stale)} CRL(s) in JIETIAO_SEAL_CRLS are past their next update",
        )
    if config.fetch_revocation:
        return
    sources = [(c.issuer, _key_id(c, x509.AuthorityKeyIdentifier)) for c in material.crls]
    if material.crl_issuer is not None:
        ca = material.crl_issuer[0]
        sources.append((ca.subject, _key_id(ca, x509.SubjectKeyIdentifier)))

    def covered(cert: x509.Certificate) -> bool:
        wanted = _key_id(cert, x509.AuthorityKeyIdentifier)
        return any(
            name == cert.issuer and (key is None or wanted is None or key == wanted)
            for name, key in sources
        )

    uncovered = [c for c in material.needs_revocation if not covered(c)]
    if uncovered:
        names = "; ".join(c.subject.rfc4514_string() for c in uncovered)
        raise SealUnavailable(
            "no_revocation_data",
            f"no CRL from the issuer of {names}: set JIETIAO_SEAL_CRLS or"
            " JIETIAO_SEAL_FETCH_REVOCATION=true (or JIETIAO_SEAL_LONG_TERM=false)",
        )


def _key_id(obj: Any, kind: type[Any]) -> bytes | None:
    """The key identifier of a certificate's or CRL's AKI or SKI extension, if any:
    two CAs may share a name, never a key."""
    try:
        value = obj.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None
    if kind is x509.AuthorityKeyIdentifier:
        return cast(bytes | None, value.key_identifier)
    return cast(bytes, value.digest)


def _spki(public_key: Any) -> bytes:
    der: bytes = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return der


def _self_signed(cert: x509.Certificate) -> bool:
    return cert.issuer == cert.subject


class HttpTimeStamper(TimeStamper):
    """An RFC 3161 client for the operator's timestamp authority (httpx)."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.url = url
        self.timeout = timeout

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        headers = set_tsp_headers({})
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            answer = await client.post(self.url, content=req.dump(), headers=headers)
        if answer.status_code != 200:
            raise TimestampRequestError(f"timestamp authority answered {answer.status_code}")
        return tsp.TimeStampResp.load(answer.content)

    async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> Any:
        req = self.request_cms(message_digest, md_algorithm)  # type: ignore[no-untyped-call]
        nonce = req["nonce"].native if self.include_nonce else None
        response = await self.async_request_tsa_response(req)
        return handle_tsp_response(response, nonce.to_bytes(8, "big") if nonce else None)


class Sealer:
    """Seals PDFs with the configured (or local) certificate; thread-safe.

    Key material is read when first needed and read again when its files change,
    so an operator can replace an expired certificate without a restart.
    """

    def __init__(self, config: SealConfig) -> None:
        self.config = config
        self._material: _Material | None = None
        self._revoked: tuple[tuple[tuple[str, float], ...], str] | None = None
        self._lock = threading.Lock()

    # -- material

    def _paths(self) -> tuple[Path, Path, Path | None, LocalPki | None]:
        """cert, key, chain, and the local PKI when its CA and TSA are in use."""
        c = self.config
        if c.operator_managed:
            if c.cert is None or c.key is None:
                raise SealUnavailable("missing", "set both JIETIAO_SEAL_CERT and JIETIAO_SEAL_KEY")
            if c.tsa_url or c.data_dir is None:
                return c.cert, c.key, c.chain, None
            # No TSA configured: the local TSA of the data folder stamps the time.
            return c.cert, c.key, c.chain, ensure_local_pki(c.data_dir)
        if c.data_dir is None:
            raise SealUnavailable(
                "missing", "set JIETIAO_DATA_DIR (local seal) or JIETIAO_SEAL_CERT/KEY"
            )
        pki = ensure_local_pki(c.data_dir)
        return pki.cert, pki.key, pki.ca, pki

    def _load(self) -> _Material:
        cert_path, key_path, chain_path, pki = self._paths()
        local = (pki.tsa_cert, pki.tsa_key, pki.ca, pki.ca_key) if pki else ()
        files = [p for p in (cert_path, key_path, chain_path, *local, *self.config.crls) if p]
        missing = [str(p) for p in files if not p.is_file()]
        if missing:
            raise SealUnavailable("missing", f"file(s) not found: {', '.join(missing)}")
        stamp = tuple((str(p), p.stat().st_mtime) for p in files)
        if self._material is not None and self._material.stamp == stamp:
            return self._material
        try:
            cert = read_certs(cert_path)[0]
            key = _read_key(key_path, self.config.key_passphrase)
            chain = read_certs(chain_path) if chain_path else []
            crls = tuple(read_crl(path) for path in self.config.crls)
            crl_issuer = (read_certs(pki.ca)[0], _read_key(pki.ca_key, None)) if pki else None
        except (ValueError, TypeError, OSError) as exc:
            raise SealUnavailable("unreadable", f"{type(exc).__name__}: {exc}") from exc
        if _spki(key.public_key()) != _spki(cert.public_key()):
            raise SealUnavailable("unreadable", "the seal key does not match the certificate")
        registry = SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]
            [asn1_cert(c) for c in chain]
        )
        signer = signers.SimpleSigner(asn1_cert(cert), _asn1_key(key), registry)
        roots = self._trust(cert, chain)
        others = list(chain)
        if pki is not None:
            # The local TSA's certificate chains to the local CA.
            roots += [c for c in read_certs(pki.ca) if c not in roots]
            others += read_certs(pki.tsa_cert)
        material = _Material(
            signer=signer,
            cert=cert,
            trust_roots=tuple(asn1_cert(c) for c in roots),
            other_certs=tuple(asn1_cert(c) for c in others),
            timestamper=self._timestamper(pki, chain),
            crls=crls,
            crl_issuer=crl_issuer,
            needs_revocation=(cert, *(c for c in others if not _self_signed(c))),
            stamp=stamp,
        )
        self._material = material
        return material

    def _trust(
        self, cert: x509.Certificate, chain: Sequence[x509.Certificate]
    ) -> list[x509.Certificate]:
        if self.config.trust is not None:
            return read_certs(self.config.trust)
        roots = [c for c in chain if _self_signed(c)]
        return roots or ([cert] if _self_signed(cert) else list(chain[-1:]))

    def _timestamper(self, pki: LocalPki | None, chain: Sequence[x509.Certificate]) -> TimeStamper:
        if self.config.tsa_url:
            return HttpTimeStamper(self.config.tsa_url)
        if pki is None:
            raise SealUnavailable("missing", "no timestamp authority: set JIETIAO_TSA_URL")
        tsa_cert = read_certs(pki.tsa_cert)[0]
        tsa_key = _read_key(pki.tsa_key, None)
        embed = SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]
            [asn1_cert(c) for c in chain]
        )
        return DummyTimeStamper(asn1_cert(tsa_cert), _asn1_key(tsa_key), certs_to_embed=embed)

    def material(self, now: datetime | None = None) -> _Material:
        """Key material good for sealing now; raises :class:`SealUnavailable`."""
        with self._lock:
            material = self._load()
        now = now or datetime.now(UTC)
        cert = material.cert
        if now >= cert.not_valid_after_utc:
            raise SealUnavailable("expired", f"certificate expired {cert.not_valid_after_utc}")
        if now < cert.not_valid_before_utc:
            raise SealUnavailable("not_yet_valid", f"valid from {cert.not_valid_before_utc}")
        if self.config.long_term:
            _check_revocation_sources(self.config, material, now)
        if self._revoked is not None and self._revoked[0] == material.stamp:
            raise SealUnavailable("revoked", self._revoked[1])
        return material

    def _refuse_if_revoked(self, material: _Material, exc: BaseException) -> None:
        """A seal or TSA certificate found revoked while sealing makes the seal
        unavailable (readiness reports it) until its files change."""
        cause: BaseException | None = exc
        while cause is not None and not isinstance(cause, RevokedError):
            cause = cause.__cause__ or cause.__context__
        if cause is None:
            return
        self._revoked = (material.stamp, str(cause))
        log.error("seal refused: a certificate of the seal is revoked (%s)", cause)
        raise SealUnavailable("revoked", str(cause)) from exc

    def _validation_context(self, material: _Material) -> ValidationContext:
        """What pyHanko checks the seal's chains with and embeds in the DSS (B-LT)."""
        crls = [asn1_crl.CertificateList.load(c.public_bytes(DER)) for c in material.crls]
        if material.crl_issuer is not None:
            crls.append(local_crl(*material.crl_issuer))
        return ValidationContext(
            trust_roots=list(material.trust_roots),
            other_certs=list(material.other_certs),
            crls=crls,
            allow_fetching=self.config.fetch_revocation,
            revocation_mode="require" if self.config.long_term else "soft-fail",
        )

    def _meta(self, material: _Material, **kwargs: Any) -> signers.PdfSignatureMetadata:
        return signers.PdfSignatureMetadata(
            md_algorithm="sha256",
            subfilter=fields.SigSeedSubFilter.PADES,
            name="Jietiao",
            embed_validation_info=True,
            validation_context=self._validation_context(material),
            # One revision holds the seal and its DSS: the seal covers the whole file.
            dss_settings=DSSContentSettings(
                placement=SigDSSPlacementPreference.TOGETHER_WITH_SIGNATURE,
                include_vri=False,
            ),
            **kwargs,
        )

    def status(self, now: datetime | None = None) -> SealStatus:
        """The seal's state for readiness and the expiry check; never raises."""
        try:
            material = self.material(now)
        except SealUnavailable as exc:
            not_after = self._material.cert.not_valid_after_utc if self._material else None
            return SealStatus(exc.state, str(exc), not_after)
        cert = material.cert
        return SealStatus("ok", "ok", cert.not_valid_after_utc, cert.subject.rfc4514_string())

    def trust_roots(self) -> list[asn1_x509.Certificate]:
        """The certificates a seal of this platform chains to (loading if needed)."""
        with self._lock:
            return list(self._load().trust_roots)

    # -- sealing

    def seal_signed(self, pdf: bytes, void_box: SealBox | None) -> bytes:
        """Reserve the void field, then certify the whole file (DocMDP: fill forms)."""
        material = self.material()
        try:
            writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
            if void_box is not None:
                box = (void_box.x1, void_box.y1, void_box.x2, void_box.y2)
                spec = fields.SigFieldSpec(VOID_FIELD, on_page=void_box.page, box=_ints(box))
                fields.append_signature_field(writer, spec)
            meta = self._meta(
                material,
                field_name=SEAL_FIELD,
                certify=True,
                docmdp_permissions=fields.MDPPerm.FILL_FORMS,
                reason="借条已由双方签署；平台电子签章",
            )
            signer = signers.PdfSigner(meta, material.signer, timestamper=material.timestamper)
            out = _run(signer, writer, existing_fields_only=False)
        except SealUnavailable:
            raise
        except Exception as exc:
            self._refuse_if_revoked(material, exc)
            raise SealFailed(f"sealing the signed copy failed: {type(exc).__name__}") from exc
        return out

    def seal_voided(self, signed_pdf: bytes, stamp_pdf: bytes, reason: str) -> bytes:
        """Sign the reserved void field of a sealed copy with a 作废 appearance."""
        material = self.material()
        try:
            writer = IncrementalPdfFileWriter(io.BytesIO(signed_pdf), strict=False)
            meta = self._meta(material, field_name=VOID_FIELD, reason=f"已作废：{reason}"[:200])
            style = StaticStampStyle(
                background=_PdfPage(stamp_pdf),
                background_opacity=1.0,
                border_width=0,
                background_layout=SimpleBoxLayoutRule(
                    x_align=AxisAlignment.ALIGN_MID,
                    y_align=AxisAlignment.ALIGN_MID,
                    margins=Margins(0, 0, 0, 0),
                    inner_content_scaling=InnerScaling.STRETCH_TO_FIT,
                ),
            )
            signer = signers.PdfSigner(
                meta, material.signer, timestamper=material.timestamper, stamp_style=style
            )
            out = _run(signer, writer, existing_fields_only=True)
        except SealUnavailable:
            raise
        except Exception as exc:
            self._refuse_if_revoked(material, exc)
            raise SealFailed(f"sealing the voided copy failed: {type(exc).__name__}") from exc
        return out


def _ints(box: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = box
    return round(x1), round(y1), round(x2), round(y2)


def _run(signer: signers.PdfSigner, writer: IncrementalPdfFileWriter, **kwargs: Any) -> bytes:
    out = io.BytesIO()
    # pyHanko's sync API runs its own event loop; we are in a worker thread.
    signer.sign_pdf(writer, output=out, **kwargs)
    return out.getvalue()


class _PdfPage(content.PdfContent):
    """The first page of an in-memory PDF, as content of a signature appearance."""

    def __init__(self, pdf: bytes) -> None:
        super().__init__()
        self.pdf = pdf

    def render(self) -> bytes:
        writer = self._ensure_writer
        xobject = writer.import_page_as_xobject(PdfFileReader(io.BytesIO(self.pdf)), page_ix=0)
        name = f"/Void{uuid.uuid4().hex}"
        self.resources.xobject[name] = xobject
        x1, y1, x2, y2 = xobject.get_object()["/BBox"]
        self.box = BoxConstraints(width=abs(x2 - x1), height=abs(y2 - y1))
        return f"{name} Do".encode()


# --- validation -------------------------------------------------------------------


def validate(pdf: bytes, trust_roots: Sequence[asn1_x509.Certificate]) -> list[SealReport]:
    """Validate every signature of ``pdf`` offline against ``trust_roots``."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    dss = DocumentSecurityStore.read_dss(reader) if "/DSS" in reader.root else None
    reports = []
    for embedded in reader.embedded_signatures:
        context = ValidationContext(trust_roots=list(trust_roots), allow_fetching=False)
        status = validate_pdf_signature(embedded, context, ts_validation_context=context)
        ts = status.timestamp_validity
        long_term = None
        if ts is not None and dss is not None:
            long_term = _valid_from_dss(embedded, dss, trust_roots, ts.timestamp)
        reports.append(
            SealReport(
                field=embedded.field_name,
                signer=status.signing_cert.subject.human_friendly,
                signed_at=status.signer_reported_dt,
                intact=status.intact,
                valid=status.valid,
                trusted=status.trusted,
                coverage=status.coverage.name if status.coverage else "-",
                modification_level=(
                    status.modification_level.name if status.modification_level else "-"
                ),
                docmdp_ok=status.docmdp_ok,
                timestamp_ok=None if ts is None else bool(ts.intact and ts.valid and ts.trusted),
                long_term=long_term,
                bottom_line=bool(status.bottom_line and status.docmdp_ok is not False),
            )
        )
    return reports


def _valid_from_dss(
    embedded: Any,
    dss: DocumentSecurityStore,
    trust_roots: Sequence[asn1_x509.Certificate],
    moment: datetime,
) -> bool:
    """Whether the seal validates, at its timestamp's time, with revocation data
    required and taken only from the document itself: what a verifier can still
    do once the CA's servers are gone."""
    settings = {
        "trust_roots": list(trust_roots),
        "allow_fetching": False,
        "revocation_mode": "require",
        "moment": moment,
    }
    try:
        context = dss.as_validation_context(settings)
        status = validate_pdf_signature(embedded, context, ts_validation_context=context)
    except Exception:  # any failure means "not long-term valid"
        log.info("long-term validation failed", exc_info=True)
        return False
    return bool(status.bottom_line)


def all_pass(reports: Sequence[SealReport], *, long_term: bool = False) -> bool:
    """True when there is a seal and every one passes; with ``long_term``, each must
    also carry its long-term validation data (copies sealed before seals were B-LT,
    or with ``JIETIAO_SEAL_LONG_TERM=false``, do not)."""
    return bool(reports) and all(
        r.bottom_line and (r.long_term is True or not long_term) for r in reports
    )


def sealed_field_names(pdf: bytes) -> list[str]:
    """The names of signed signature fields, in signing order."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    return [s.field_name for s in reader.embedded_signatures]


__all__ = [
    "SEAL_FIELD",
    "VOID_FIELD",
    "LocalPki",
    "SealConfig",
    "SealFailed",
    "SealReport",
    "SealStatus",
    "SealUnavailable",
    "Sealer",
    "all_pass",
    "ensure_local_pki",
    "issue_certificate",
    "local_crl",
    "read_crl",
    "validate",
]
