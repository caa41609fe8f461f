"""QR codes drawn locally (segno), for the embedded stack without WeChat."""

import io

import segno

MAX_SCENE_LENGTH = 32


def png(content: str) -> bytes:
    """A PNG QR code of ``content`` with medium error correction."""
    buffer = io.BytesIO()
    segno.make(content, error="m").save(buffer, kind="png", scale=6, border=2)
    return buffer.getvalue()
