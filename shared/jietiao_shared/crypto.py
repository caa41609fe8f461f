"""Personal data at rest: authenticated encryption with key rotation, keyed lookups.

A :class:`FieldCipher` holds one or more AES-256-GCM data keys, each named by a
key id (``kid``), and one HMAC-SHA256 lookup key. The configuration is text:

* data keys (``JIETIAO_DATA_KEYS``): ``kid:base64key[,kid:base64key...]``; each key
  is 32 random bytes. The **first** key encrypts every new value; all of them
  decrypt, so a new key is rotated in by putting it first and keeping the old
  ones after it until nothing written with them is left.
* lookup key (``JIETIAO_LOOKUP_KEY``): base64 of at least 32 random bytes. It is
  separate from the data keys and does not rotate by configuration: every stored
  lookup hash would have to be recomputed.

A stored value reads ``<kid>:<base64url(nonce || ciphertext || tag)>`` with a fresh
96-bit nonce per value. The key id and a caller-chosen ``context`` (for instance
the table, column and row the value belongs to) are the associated data, so a
value copied to another column or row, or relabelled with another key id, no
longer decrypts.

:meth:`FieldCipher.lookup_hash` is a keyed hash for equality searches (find the
IOUs of a phone number) that cannot be reversed by trying every phone number or
ID number without the key; ``kind`` separates the kinds of values hashed.
"""

import base64
import binascii
import hashlib
import hmac
import os
import re
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
MIN_LOOKUP_KEY_BYTES = 32
_KID = re.compile(r"[A-Za-z0-9_.-]{1,32}")


class CryptoError(ValueError):
    """Bad key configuration, or a stored value that cannot be decrypted."""


def _b64decode(text: str) -> bytes:
    padded = text.strip() + "=" * (-len(text.strip()) % 4)
    try:
        return base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise CryptoError("not valid base64") from None


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def parse_data_keys(config: str) -> list[tuple[str, bytes]]:
    """``kid:base64key,...`` as (kid, key) pairs, first first; raises CryptoError."""
    keys: list[tuple[str, bytes]] = []
    for entry in (part.strip() for part in config.split(",")):
        if not entry:
            continue
        kid, sep, encoded = entry.partition(":")
        if not sep or not _KID.fullmatch(kid):
            raise CryptoError("a data key must read kid:base64key (kid: letters, digits, _.-)")
        key = _b64decode(encoded)
        if len(key) != KEY_BYTES:
            raise CryptoError(f"data key {kid} must be {KEY_BYTES} bytes, not {len(key)}")
        if any(kid == known for known, _ in keys):
            raise CryptoError(f"data key id {kid} is given twice")
        keys.append((kid, key))
    if not keys:
        raise CryptoError("no data key configured")
    return keys


def parse_lookup_key(config: str) -> bytes:
    """The lookup key from its base64 text; raises CryptoError when missing or short."""
    key = _b64decode(config)
    if len(key) < MIN_LOOKUP_KEY_BYTES:
        raise CryptoError(f"the lookup key must be at least {MIN_LOOKUP_KEY_BYTES} bytes")
    return key


def new_data_key(kid: str) -> str:
    """A fresh ``kid:base64key`` entry for ``JIETIAO_DATA_KEYS``."""
    if not _KID.fullmatch(kid):
        raise CryptoError("kid: 1-32 letters, digits, _ . or -")
    return f"{kid}:{base64.b64encode(os.urandom(KEY_BYTES)).decode('ascii')}"


def new_lookup_key() -> str:
    """A fresh base64 value for ``JIETIAO_LOOKUP_KEY``."""
    return base64.b64encode(os.urandom(MIN_LOOKUP_KEY_BYTES)).decode("ascii")


class FieldCipher:
    """Encrypts and decrypts single values, and hashes them for lookups."""

    def __init__(self, keys: Sequence[tuple[str, bytes]], lookup_key: bytes) -> None:
        if not keys:
            raise CryptoError("no data key configured")
        if len(lookup_key) < MIN_LOOKUP_KEY_BYTES:
            raise CryptoError(f"the lookup key must be at least {MIN_LOOKUP_KEY_BYTES} bytes")
        self._keys = {kid: AESGCM(key) for kid, key in keys}
        self.current_kid = keys[0][0]
        self._lookup_key = lookup_key

    @classmethod
    def from_config(cls, data_keys: str, lookup_key: str) -> "FieldCipher":
        """Build from the text of ``JIETIAO_DATA_KEYS`` and ``JIETIAO_LOOKUP_KEY``."""
        return cls(parse_data_keys(data_keys), parse_lookup_key(lookup_key))

    @property
    def kids(self) -> tuple[str, ...]:
        """The key ids this cipher can decrypt with, the current one first."""
        return tuple(self._keys)

    def encrypt(self, plaintext: str, *, context: str = "") -> str:
        """``kid:base64url(nonce || ciphertext || tag)`` under the current key."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._keys[self.current_kid].encrypt(
            nonce, plaintext.encode("utf-8"), self._aad(self.current_kid, context)
        )
        return f"{self.current_kid}:{_b64encode(nonce + sealed)}"

    def decrypt(self, token: str, *, context: str = "") -> str:
        """The plaintext of a stored value; CryptoError if unknown key or tampered."""
        kid, sep, body = token.partition(":")
        if not sep or kid not in self._keys:
            raise CryptoError(
                f"no key {kid!r} to decrypt with" if sep else "not an encrypted value"
            )
        raw = _b64decode(body)
        if len(raw) < NONCE_BYTES + 16:
            raise CryptoError("encrypted value too short")
        try:
            plain = self._keys[kid].decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], self._aad(kid, context)
            )
        except InvalidTag:
            raise CryptoError("encrypted value fails authentication") from None
        return plain.decode("utf-8")

    def needs_reencryption(self, token: str) -> bool:
        """Whether a stored value was written with a key other than the current one."""
        return token.partition(":")[0] != self.current_kid

    def lookup_hash(self, value: str, *, kind: str) -> str:
        """HMAC-SHA256 of ``value`` (hex) for equality lookups, separated by ``kind``."""
        message = kind.encode("utf-8") + b"\x00" + value.encode("utf-8")
        return hmac.new(self._lookup_key, message, hashlib.sha256).hexdigest()

    @staticmethod
    def _aad(kid: str, context: str) -> bytes:
        return f"jietiao-field-v1\x00{kid}\x00{context}".encode()
