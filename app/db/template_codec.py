"""The one place templates become bytes and back: float32 little-endian, optionally AES-GCM sealed.

A plain blob is the raw float32 vector. A sealed blob is

    MAGIC (4) | version (1) | key-id length (1) | key id (ASCII) | nonce (12) | ciphertext+tag (16)

with the header and the model id as associated data, so a blob cannot be moved to another model's
rows or have its key id rewritten without failing authentication. MAGIC read as a float32 is a NaN,
which no unit template holds, so plain and sealed blobs never collide and one column can hold both
while encryption is being switched on or a key is being rotated.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import struct
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

if TYPE_CHECKING:
    from app.settings import Settings

MAGIC = b"FM\xc1\x7f"  # little-endian float32 0x7fc14d46: a quiet NaN
VERSION = 1
NONCE_BYTES = 12
TAG_BYTES = 16
KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Sessions carry the keyring in `Session.info`, so repositories reach it without a global.
SESSION_INFO_KEY = "template_keyring"


class TemplateKeyError(ValueError):
    """A sealed template that cannot be opened: unknown key id, wrong key or tampered bytes."""


def parse_key(text: str) -> bytes:
    """An AES key written as base64 (standard or URL-safe) or hex; 16, 24 or 32 bytes."""
    text = text.strip()
    candidates: list[bytes] = []
    if re.fullmatch(r"[0-9a-fA-F]{32}|[0-9a-fA-F]{48}|[0-9a-fA-F]{64}", text):
        candidates.append(bytes.fromhex(text))
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            candidates.append(decode(text + "=" * (-len(text) % 4)))
        except (binascii.Error, ValueError):
            continue
    for key in candidates:
        if len(key) in (16, 24, 32):
            return key
    raise ValueError("a template key must be 16, 24 or 32 bytes, written as base64 or hex")


def generate_key() -> str:
    """A fresh AES-256 key as URL-safe base64, ready for FACEMATCH_TEMPLATE_KEY."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def parse_keyring_text(text: str) -> dict[str, bytes]:
    """`id:key,id:key` (the retired-keys setting) → {id: key bytes}."""
    keys: dict[str, bytes] = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        key_id, sep, key = entry.partition(":")
        if not sep or not KEY_ID_PATTERN.fullmatch(key_id.strip()):
            raise ValueError("retired template keys are written as id:key pairs, comma-separated")
        keys[key_id.strip()] = parse_key(key)
    return keys


class TemplateKeyring:
    """The active key (templates are sealed with it) and retired keys (still opened, never used)."""

    __slots__ = ("_ciphers", "active_id")

    def __init__(self, keys: Mapping[str, bytes], active_id: str | None) -> None:
        for key_id, key in keys.items():
            if not KEY_ID_PATTERN.fullmatch(key_id):
                raise ValueError(f"template key id {key_id!r} must match {KEY_ID_PATTERN.pattern}")
            if len(key) not in (16, 24, 32):
                raise ValueError(f"template key {key_id!r} must be 16, 24 or 32 bytes")
        if active_id is not None and active_id not in keys:
            raise ValueError(f"the active template key {active_id!r} is not in the keyring")
        self.active_id = active_id
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}

    @classmethod
    def from_settings(cls, settings: Settings) -> TemplateKeyring:
        """From `template_key`, `template_key_id` and `template_retired_keys` on Settings."""
        keys: dict[str, bytes] = {}
        retired = settings.template_retired_keys
        if retired is not None:
            keys.update(parse_keyring_text(retired.get_secret_value()))
        active = settings.template_key
        active_id = None
        if active is not None:
            active_id = settings.template_key_id
            key = parse_key(active.get_secret_value())
            if keys.get(active_id, key) != key:
                raise ValueError(f"template key id {active_id!r} names two different keys")
            keys[active_id] = key
        return cls(keys, active_id)

    @property
    def encrypts(self) -> bool:
        return self.active_id is not None

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._ciphers)

    def seal(self, plain: bytes, *, model_id: str) -> bytes:
        if self.active_id is None:
            raise TemplateKeyError("no active template key to seal with")
        header = _header(self.active_id)
        nonce = os.urandom(NONCE_BYTES)  # random 96-bit nonces: safe far beyond 2^32 templates/key
        sealed = self._ciphers[self.active_id].encrypt(nonce, plain, header + model_id.encode())
        return header + nonce + sealed

    def open(self, blob: bytes, *, model_id: str) -> bytes:
        key_id, header_len = _parse_header(blob)
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise TemplateKeyError(f"template sealed with unknown key {key_id!r}")
        nonce = blob[header_len : header_len + NONCE_BYTES]
        try:
            return cipher.decrypt(
                nonce, blob[header_len + NONCE_BYTES :], blob[:header_len] + model_id.encode()
            )
        except InvalidTag as exc:
            raise TemplateKeyError(
                f"template sealed with key {key_id!r} failed authentication"
            ) from exc


def _header(key_id: str) -> bytes:
    raw = key_id.encode("ascii")
    return MAGIC + struct.pack("BB", VERSION, len(raw)) + raw


def _parse_header(blob: bytes) -> tuple[str, int]:
    if len(blob) < len(MAGIC) + 2 or not blob.startswith(MAGIC):
        raise TemplateKeyError("not a sealed template")
    version, id_len = blob[len(MAGIC)], blob[len(MAGIC) + 1]
    if version != VERSION:
        raise TemplateKeyError(f"sealed template version {version} is not supported")
    header_len = len(MAGIC) + 2 + id_len
    if len(blob) < header_len + NONCE_BYTES + TAG_BYTES:
        raise TemplateKeyError("sealed template is truncated")
    return blob[len(MAGIC) + 2 : header_len].decode("ascii", errors="replace"), header_len


def session_keyring(session: Any) -> TemplateKeyring | None:
    """The keyring a session factory was given: `sessionmaker(info={SESSION_INFO_KEY: keyring})`."""
    keyring: TemplateKeyring | None = session.info.get(SESSION_INFO_KEY)
    return keyring


def is_sealed(blob: bytes) -> bool:
    return blob.startswith(MAGIC)


def key_id_of(blob: bytes) -> str | None:
    """The id of the key a blob is sealed with; None for a plain blob."""
    return _parse_header(blob)[0] if is_sealed(blob) else None


def encode_template(
    vec: np.ndarray, *, model_id: str, keyring: TemplateKeyring | None = None
) -> bytes:
    """A unit float32 template → bytes for `faces.template`, sealed when a key is active."""
    plain = np.ascontiguousarray(vec, dtype="<f4").tobytes()
    if keyring is not None and keyring.encrypts:
        return keyring.seal(plain, model_id=model_id)
    return plain


def decode_template(
    blob: bytes, *, model_id: str, keyring: TemplateKeyring | None = None
) -> np.ndarray:
    """Bytes from `faces.template` → float32 template (a fresh, writable array)."""
    if is_sealed(blob):
        if keyring is None:
            raise TemplateKeyError("template is encrypted but no template key is configured")
        blob = keyring.open(blob, model_id=model_id)
    return np.frombuffer(blob, dtype="<f4").astype(np.float32)


def reseal(blob: bytes, *, model_id: str, keyring: TemplateKeyring) -> bytes | None:
    """The blob re-encoded under the keyring's active key (or plain when there is none).

    None when it already is: a rotation rewrites only the rows it has to, and can be re-run.
    """
    current = key_id_of(blob)
    if current == keyring.active_id:
        return None
    vec = decode_template(blob, model_id=model_id, keyring=keyring)
    return encode_template(vec, model_id=model_id, keyring=keyring)
