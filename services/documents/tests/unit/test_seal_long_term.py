"""Long-term seals (PAdES B-LT): a seal carries what it takes to check it later.

Each seal embeds its chains' certificates and CRLs in the document security store,
so a verifier with nothing but the file and the root certificate can still tell,
years on and with the CA's servers gone, that the seal was valid when it was made.
"""

import http.server
import io
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from documents.render import render_iou_layout, render_void_stamp
from documents.seal import (
    SealConfig,
    Sealer,
    SealUnavailable,
    all_pass,
    validate,
)
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.validation.dss import DocumentSecurityStore


@pytest.fixture
def layout(terms, signatures, audit, rendered_at):
    return render_iou_layout(
        terms, kind="signed", signatures=signatures, audit=audit, rendered_at=rendered_at
    )


@pytest.fixture(scope="module")
def sealer(tmp_path_factory: pytest.TempPathFactory) -> Sealer:
    return Sealer(SealConfig(data_dir=tmp_path_factory.mktemp("long-term")))


def _dss(pdf: bytes) -> DocumentSecurityStore:
    return DocumentSecurityStore.read_dss(PdfFileReader(io.BytesIO(pdf), strict=False))


def test_a_signed_copy_carries_its_certificates_and_crls_in_one_revision(sealer, layout):
    pdf = sealer.seal_signed(layout.pdf, layout.void_box)

    [report] = validate(pdf, sealer.trust_roots())
    dss = _dss(pdf)
    subjects = {c.subject.human_friendly for c in dss.load_certs()}

    assert report.long_term is True and all_pass([report], long_term=True)
    assert report.coverage == "ENTIRE_FILE"  # seal and DSS are one revision
    assert len(dss.crls) >= 1
    assert any("Jietiao platform seal" in s for s in subjects)
    assert any("Jietiao local TSA" in s for s in subjects)
    assert "long-term validation data (PAdES B-LT): True" in "\n".join(report.lines())


def test_the_voided_copy_keeps_both_seals_long_term_valid(sealer, layout, terms, voided):
    signed = sealer.seal_signed(layout.pdf, layout.void_box)
    voided_pdf = sealer.seal_voided(signed, render_void_stamp(terms, voided), voided["reason"])

    reports = validate(voided_pdf, sealer.trust_roots())

    assert [r.long_term for r in reports] == [True, True]
    assert reports[0].docmdp_ok is True and all_pass(reports, long_term=True)


def test_a_seal_without_embedded_revocation_data_is_not_long_term(sealer, layout):
    material = sealer.material()
    writer = IncrementalPdfFileWriter(io.BytesIO(layout.pdf), strict=False)
    meta = signers.PdfSignatureMetadata(field_name="Plain", md_algorithm="sha256")
    out = io.BytesIO()
    signers.PdfSigner(meta, material.signer, timestamper=material.timestamper).sign_pdf(
        writer, output=out
    )

    [report] = validate(out.getvalue(), sealer.trust_roots())

    assert report.bottom_line and report.timestamp_ok  # valid today...
    assert report.long_term is not True  # ...but nothing to check it with later
    assert all_pass([report]) and not all_pass([report], long_term=True)


@pytest.fixture
def operator(operator_seal):
    """An operator seal certificate from a CA of its own, with a CRL file from that CA;
    the timestamps still come from the local TSA of ``tmp_path / "data"``."""

    def make(tmp_path: Path, *, revoked: bool = False, crl_age: timedelta | None = None):
        seal = operator_seal(tmp_path, ca_folder=tmp_path / "operator-ca", subject="Operator seal")
        issued = datetime.now(UTC) - (crl_age or timedelta(minutes=1))
        crl = seal.crl(tmp_path / "operator" / "crl.pem", issued=issued, revoked=revoked)
        return SealConfig(**{**seal.config.__dict__, "crls": (crl,)})

    return make


def test_an_operator_certificate_with_its_crl_file_seals_long_term(tmp_path, layout, operator):
    sealer = Sealer(operator(tmp_path))

    pdf = sealer.seal_signed(layout.pdf, layout.void_box)

    [report] = validate(pdf, sealer.trust_roots())
    assert report.signer.endswith("Operator seal")
    assert report.long_term is True and all_pass([report], long_term=True)


def test_a_revoked_seal_certificate_refuses_to_seal(tmp_path, layout, operator):
    sealer = Sealer(operator(tmp_path, revoked=True))

    with pytest.raises(SealUnavailable, match="revoked") as raised:
        sealer.seal_signed(layout.pdf, layout.void_box)

    assert raised.value.state == "revoked"
    assert sealer.status().state == "revoked"  # readiness says so until the files change


def test_a_stale_crl_file_makes_the_seal_unavailable(tmp_path, layout, operator):
    sealer = Sealer(operator(tmp_path, crl_age=timedelta(days=8)))

    with pytest.raises(SealUnavailable) as raised:
        sealer.seal_signed(layout.pdf, layout.void_box)

    assert raised.value.state == "no_revocation_data"
    assert sealer.status().state == "no_revocation_data" and not sealer.status().ok


def test_an_operator_seal_without_any_revocation_source_is_refused(tmp_path, layout, operator):
    config = operator(tmp_path)
    no_source = SealConfig(**{**config.__dict__, "crls": (), "tsa_url": "http://127.0.0.1:9/"})

    with pytest.raises(SealUnavailable, match="JIETIAO_SEAL_CRLS"):
        Sealer(no_source).seal_signed(layout.pdf, layout.void_box)
    # Turning long-term seals off is the operator's explicit choice.
    assert Sealer(SealConfig(**{**no_source.__dict__, "long_term": False})).status().ok


def test_a_crl_of_another_ca_does_not_cover_the_operator_certificate(tmp_path, layout, operator):
    # The local TSA's CA issues its own CRL, but none comes from the operator's CA.
    config = SealConfig(**{**operator(tmp_path).__dict__, "crls": ()})
    sealer = Sealer(config)

    with pytest.raises(SealUnavailable, match="Operator seal") as raised:
        sealer.seal_signed(layout.pdf, layout.void_box)

    assert raised.value.state == "no_revocation_data"
    assert sealer.status().state == "no_revocation_data"


def test_with_fetching_on_the_crl_is_fetched_from_the_certificate_address(
    tmp_path, layout, operator_seal
):
    published = tmp_path / "published"
    published.mkdir()
    fetched: list[str] = []

    class CrlServer(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(published), **kwargs)

        def log_message(self, *args):
            fetched.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), CrlServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/ca.crl"
        seal = operator_seal(
            tmp_path, ca_folder=tmp_path / "operator-ca", subject="Operator seal", crl_url=url
        )
        seal.crl(published / "ca.crl", issued=datetime.now(UTC), der=True)
        sealer = Sealer(SealConfig(**{**seal.config.__dict__, "fetch_revocation": True}))

        pdf = sealer.seal_signed(layout.pdf, layout.void_box)
    finally:
        server.shutdown()

    assert any(path.endswith("/ca.crl") for path in fetched)
    [report] = validate(pdf, sealer.trust_roots())
    assert report.long_term is True and all_pass([report], long_term=True)
