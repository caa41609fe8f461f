"""``python -m documents verify FILE.pdf``: check a PDF's seals, trusting our CA.

Prints, for every signature, whether it is intact, cryptographically valid,
trusted (chains to the configured CA or ``--trust``), what it covers, the DocMDP
verdict, the timestamp's, and whether the document carries the data to validate
the seal on its own later (PAdES B-LT: certificates and CRLs in its DSS, checked
at the timestamp's time with nothing fetched). Exits 0 when every seal passes;
with ``--long-term``, each must also carry that data (copies sealed before seals
were long-term do not).
"""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .seal import Sealer, SealUnavailable, all_pass, asn1_cert, read_certs, validate
from .settings import DocumentsSettings


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m documents verify")
    parser.add_argument("pdf", type=Path)
    parser.add_argument(
        "--trust",
        type=Path,
        action="append",
        default=[],
        help="PEM file of a trusted root (repeatable); default: the configured seal CA",
    )
    parser.add_argument(
        "--long-term",
        action="store_true",
        help="also require each seal's long-term validation data (PAdES B-LT)",
    )
    args = parser.parse_args(argv)
    if args.trust:
        roots = [asn1_cert(c) for path in args.trust for c in read_certs(path)]
    else:
        try:
            roots = Sealer(DocumentsSettings().seal_config()).trust_roots()
        except SealUnavailable as exc:
            sys.stderr.write(f"no trust root: {exc}\n")
            return 2
    reports = validate(args.pdf.read_bytes(), roots)
    if not reports:
        sys.stdout.write("no signature found\n")
        return 1
    for report in reports:
        sys.stdout.write("\n".join(report.lines()) + "\n")
    ok = all_pass(reports, long_term=args.long_term)
    sys.stdout.write("result: PASS\n" if ok else "result: FAIL\n")
    return 0 if ok else 1
