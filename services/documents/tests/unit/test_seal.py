"""Sealing with pyHanko: seals validate, tampering shows, voiding keeps the first seal."""

import io
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from documents import seal
from documents.render import render_iou_layout, render_void_stamp
from documents.seal import (
    SEAL_FIELD,
    VOID_FIELD,
    SealConfig,
    Sealer,
    SealUnavailable,
    all_pass,
    ensure_local_pki,
    validate,
)
from pypdf import PdfReader

ARTIFACTS = Path(__file__).resolve().parents[4] / "artifacts" / "documents"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("documents-data")


@pytest.fixture(scope="module")
def sealer(data_dir: Path) -> Sealer:
    return Sealer(SealConfig(data_dir=data_dir))


@pytest.fixture
def signed_pdf(sealer, terms, signatures, audit, rendered_at) -> bytes:
    rendered = render_iou_layout(
        terms, kind="signed", signatures=signatures, audit=audit, rendered_at=rendered_at
    )
    assert rendered.void_box is not None and rendered.void_box.page == 0
    return sealer.seal_signed(rendered.pdf, rendered.void_box)


@pytest.fixture
def voided_pdf(sealer, signed_pdf, terms, voided) -> bytes:
    stamp = render_void_stamp(terms, voided)
    return sealer.seal_voided(signed_pdf, stamp, voided["reason"])


def test_local_pki_is_made_once_with_private_keys_kept_private(data_dir, sealer):
    sealer.material()
    pki = ensure_local_pki(data_dir)
    first = pki.cert.read_bytes()

    assert ensure_local_pki(data_dir).cert.read_bytes() == first
    for key in (pki.key, pki.ca_key, pki.tsa_key):
        assert key.stat().st_mode & 0o077 == 0
    cert = x509.load_pem_x509_certificate(first)
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.public_key().curve.name == "secp256r1"


def test_signed_copy_carries_a_valid_intact_trusted_timestamped_seal(sealer, signed_pdf):
    [report] = validate(signed_pdf, sealer.trust_roots())

    assert report.field == SEAL_FIELD
    assert report.intact and report.valid and report.trusted
    assert report.coverage == "ENTIRE_FILE"
    assert report.timestamp_ok is True
    assert report.bottom_line


def test_flipping_one_byte_in_the_signed_range_breaks_the_seal(sealer, signed_pdf):
    index = signed_pdf.index(b"ReportLab Generated")  # inside the first signed byte range
    tampered = bytearray(signed_pdf)
    tampered[index] ^= 0x01

    [report] = validate(bytes(tampered), sealer.trust_roots())

    assert not report.intact
    assert not report.bottom_line


def test_a_seal_from_another_ca_is_not_trusted(tmp_path, signed_pdf):
    stranger = Sealer(SealConfig(data_dir=tmp_path))

    [report] = validate(signed_pdf, stranger.trust_roots())

    assert report.intact and not report.trusted and not all_pass([report])


def test_voided_copy_keeps_the_original_seal_valid(sealer, signed_pdf, voided_pdf):
    reports = validate(voided_pdf, sealer.trust_roots())

    assert [r.field for r in reports] == [SEAL_FIELD, VOID_FIELD]
    original, void = reports
    assert original.intact and original.valid and original.trusted
    assert original.docmdp_ok is True
    assert original.coverage == "ENTIRE_REVISION"
    assert original.modification_level in ("NONE", "FORM_FILLING")
    assert void.coverage == "ENTIRE_FILE" and void.bottom_line
    assert all_pass(reports)
    # The voided copy is the signed copy plus one incremental update.
    assert voided_pdf.startswith(signed_pdf)


def test_voided_copy_shows_void_and_its_details(voided_pdf, terms, voided):
    reader = PdfReader(io.BytesIO(voided_pdf))
    widget = next(
        annot.get_object()
        for annot in reader.pages[0]["/Annots"]
        if annot.get_object().get("/T") == VOID_FIELD
    )
    appearance = widget["/AP"]["/N"]
    assert appearance["/BBox"][2] > 100  # a visible stamp, not an empty box
    stamp = PdfReader(io.BytesIO(render_void_stamp(terms, voided)))
    text = stamp.pages[0].extract_text()
    assert "作废" in text and "已作废" in text
    assert voided["reason"] in text and "2026-12-05 10:00:00 +08:00" in text
    assert "借款人 李四" in text


def test_tampering_with_the_voided_copy_is_detected(sealer, voided_pdf):
    index = voided_pdf.index(b"ReportLab Generated")
    tampered = bytearray(voided_pdf)
    tampered[index] ^= 0x01

    reports = validate(bytes(tampered), sealer.trust_roots())

    assert not reports[0].intact and not all_pass(reports)


def test_an_expired_certificate_refuses_to_seal(
    tmp_path, terms, signatures, rendered_at, operator_seal
):
    now = datetime.now(UTC)
    config = operator_seal(
        tmp_path, not_before=now - timedelta(days=400), not_after=now, passphrase="s3cret"
    ).config
    sealer = Sealer(config)
    rendered = render_iou_layout(
        terms, kind="signed", signatures=signatures, rendered_at=rendered_at
    )

    with pytest.raises(SealUnavailable, match="expired") as raised:
        sealer.seal_signed(rendered.pdf, rendered.void_box)

    assert raised.value.state == "expired"
    assert sealer.status().state == "expired" and not sealer.status().ok


def test_a_missing_certificate_refuses_to_seal(tmp_path):
    sealer = Sealer(SealConfig(cert=tmp_path / "none.pem", key=tmp_path / "none.key"))

    with pytest.raises(SealUnavailable, match="missing"):
        sealer.seal_signed(b"%PDF-1.4", None)
    assert sealer.status().state == "missing"


def test_an_operator_certificate_with_passphrase_seals_and_reports_expiry(
    tmp_path, terms, signatures, rendered_at, operator_seal
):
    now = datetime.now(UTC)
    config = operator_seal(tmp_path, not_after=now + timedelta(days=10), passphrase="s3cret").config
    sealer = Sealer(config)
    rendered = render_iou_layout(
        terms, kind="signed", signatures=signatures, rendered_at=rendered_at
    )

    sealed = sealer.seal_signed(rendered.pdf, rendered.void_box)

    assert all_pass(validate(sealed, sealer.trust_roots()))
    status = sealer.status()
    assert status.ok and status.days_left() is not None and status.days_left() < 30


def test_a_wrong_passphrase_makes_the_seal_unreadable(tmp_path, operator_seal):
    now = datetime.now(UTC)
    config = operator_seal(tmp_path, not_after=now + timedelta(days=10), passphrase="s3cret").config
    sealer = Sealer(SealConfig(**{**config.__dict__, "key_passphrase": "wrong"}))

    assert sealer.status().state == "unreadable"


def test_verify_command_passes_a_sealed_copy_and_fails_a_tampered_one(
    tmp_path, data_dir, signed_pdf
):
    good, bad = tmp_path / "good.pdf", tmp_path / "bad.pdf"
    good.write_bytes(signed_pdf)
    tampered = bytearray(signed_pdf)
    tampered[signed_pdf.index(b"ReportLab Generated")] ^= 0x01
    bad.write_bytes(bytes(tampered))
    env = {"JIETIAO_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin"}

    def verify(path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "documents", "verify", str(path), *flags],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )

    passed, failed = verify(good, "--long-term"), verify(bad)

    assert passed.returncode == 0, passed.stderr
    for line in (
        "intact: True",
        "valid: True",
        "trusted: True",
        "coverage: ENTIRE_FILE",
        "long-term validation data (PAdES B-LT): True",
    ):
        assert line in passed.stdout
    assert failed.returncode != 0
    assert "intact: False" in failed.stdout


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) absent")
def test_signed_and_voided_copies_render_to_png(signed_pdf, voided_pdf):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for name, pdf in (("signed", signed_pdf), ("voided", voided_pdf)):
        path = ARTIFACTS / f"{name}.pdf"
        path.write_bytes(pdf)
        subprocess.run(
            ["pdftoppm", "-png", "-r", "80", str(path), str(ARTIFACTS / name)],
            check=True,
            capture_output=True,
        )
        pages = sorted(ARTIFACTS.glob(f"{name}-*.png"))
        assert pages and all(p.stat().st_size > 10_000 for p in pages)


def test_module_exports_the_seal_api():
    assert seal.Sealer is Sealer
