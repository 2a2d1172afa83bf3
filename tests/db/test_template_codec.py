"""Templates as bytes: the plain float32 format, and AES-GCM sealing with key ids and rotation."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from app.db.template_codec import (
    MAGIC,
    SESSION_INFO_KEY,
    TemplateKeyError,
    TemplateKeyring,
    decode_template,
    encode_template,
    generate_key,
    is_sealed,
    key_id_of,
    parse_key,
    reseal,
    session_keyring,
)
from app.settings import Settings

MODEL = "dlib-resnet-v1@0123abcd"
KEY_A = bytes(range(32))
KEY_B = bytes(range(100, 132))


def _template(seed: int = 0) -> np.ndarray:
    vec = np.random.default_rng(seed).standard_normal(128).astype(np.float32)
    return vec / np.linalg.norm(vec)


def _keyring(active: str | None = "a") -> TemplateKeyring:
    return TemplateKeyring({"a": KEY_A, "b": KEY_B}, active)


def test_plain_template_is_raw_little_endian_float32() -> None:
    vec = _template()
    blob = encode_template(vec, model_id=MODEL)
    assert blob == vec.astype("<f4").tobytes()
    np.testing.assert_array_equal(decode_template(blob, model_id=MODEL), vec)


def test_sealed_template_round_trips_exactly() -> None:
    vec = _template()
    blob = encode_template(vec, model_id=MODEL, keyring=_keyring())
    np.testing.assert_array_equal(decode_template(blob, model_id=MODEL, keyring=_keyring()), vec)


def test_sealed_template_does_not_contain_the_plain_bytes() -> None:
    vec = _template()
    blob = encode_template(vec, model_id=MODEL, keyring=_keyring())
    plain = vec.astype("<f4").tobytes()
    assert plain[:16] not in blob and plain[-16:] not in blob


def test_sealed_template_names_its_key() -> None:
    blob = encode_template(_template(), model_id=MODEL, keyring=_keyring("b"))
    assert is_sealed(blob)
    assert key_id_of(blob) == "b"


def test_sealing_twice_gives_different_bytes() -> None:
    vec = _template()
    assert encode_template(vec, model_id=MODEL, keyring=_keyring()) != encode_template(
        vec, model_id=MODEL, keyring=_keyring()
    )


def test_sealed_template_is_bound_to_its_model_id() -> None:
    blob = encode_template(_template(), model_id=MODEL, keyring=_keyring())
    with pytest.raises(TemplateKeyError):
        decode_template(blob, model_id="another-model@ffffffff", keyring=_keyring())


def test_tampered_sealed_template_is_refused() -> None:
    blob = bytearray(encode_template(_template(), model_id=MODEL, keyring=_keyring()))
    blob[-20] ^= 0x01
    with pytest.raises(TemplateKeyError):
        decode_template(bytes(blob), model_id=MODEL, keyring=_keyring())


def test_rewritten_key_id_is_refused() -> None:
    blob = encode_template(_template(), model_id=MODEL, keyring=_keyring("a"))
    forged = blob.replace(b"\x01a", b"\x01b", 1)
    with pytest.raises(TemplateKeyError):
        decode_template(forged, model_id=MODEL, keyring=_keyring())


def test_template_under_an_unknown_key_is_refused() -> None:
    blob = encode_template(_template(), model_id=MODEL, keyring=_keyring("b"))
    only_a = TemplateKeyring({"a": KEY_A}, "a")
    with pytest.raises(TemplateKeyError, match="unknown key 'b'"):
        decode_template(blob, model_id=MODEL, keyring=only_a)


def test_sealed_template_without_a_keyring_is_refused() -> None:
    blob = encode_template(_template(), model_id=MODEL, keyring=_keyring())
    with pytest.raises(TemplateKeyError, match="no template key"):
        decode_template(blob, model_id=MODEL)


def test_plain_templates_stay_readable_once_encryption_is_on() -> None:
    vec = _template()
    plain = encode_template(vec, model_id=MODEL)
    np.testing.assert_array_equal(decode_template(plain, model_id=MODEL, keyring=_keyring()), vec)


def test_no_real_template_can_look_sealed() -> None:
    # MAGIC read as a float32 is a NaN; a unit vector's first component never is.
    assert np.isnan(np.frombuffer(MAGIC, dtype="<f4")[0])


def test_reseal_moves_a_retired_key_template_to_the_active_key() -> None:
    vec = _template()
    old = encode_template(vec, model_id=MODEL, keyring=_keyring("a"))
    new = reseal(old, model_id=MODEL, keyring=_keyring("b"))
    assert new is not None and key_id_of(new) == "b"
    np.testing.assert_array_equal(decode_template(new, model_id=MODEL, keyring=_keyring("b")), vec)


def test_reseal_encrypts_plain_templates() -> None:
    new = reseal(encode_template(_template(), model_id=MODEL), model_id=MODEL, keyring=_keyring())
    assert new is not None and key_id_of(new) == "a"


def test_reseal_leaves_templates_already_under_the_active_key() -> None:
    blob = encode_template(_template(), model_id=MODEL, keyring=_keyring("a"))
    assert reseal(blob, model_id=MODEL, keyring=_keyring("a")) is None


def test_reseal_without_an_active_key_decrypts_to_plain() -> None:
    vec = _template()
    blob = encode_template(vec, model_id=MODEL, keyring=_keyring("a"))
    plain = reseal(blob, model_id=MODEL, keyring=_keyring(None))
    assert plain == vec.astype("<f4").tobytes()


def test_keyring_from_settings_uses_active_and_retired_keys() -> None:
    settings = Settings(
        template_key=base64.b64encode(KEY_B).decode(),
        template_key_id="2026-11",
        template_retired_keys=f"2026-01:{KEY_A.hex()}",
    )
    keyring = TemplateKeyring.from_settings(settings)
    assert keyring.active_id == "2026-11"
    assert keyring.key_ids == {"2026-11", "2026-01"}


def test_keyring_from_default_settings_does_not_encrypt() -> None:
    assert not TemplateKeyring.from_settings(Settings(template_key=None)).encrypts


def test_keyring_refuses_a_key_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match="16, 24 or 32 bytes"):
        TemplateKeyring.from_settings(Settings(template_key=base64.b64encode(b"short").decode()))


def test_keyring_refuses_one_id_naming_two_keys() -> None:
    settings = Settings(
        template_key=KEY_A.hex(), template_key_id="k", template_retired_keys=f"k:{KEY_B.hex()}"
    )
    with pytest.raises(ValueError, match="two different keys"):
        TemplateKeyring.from_settings(settings)


def test_generated_key_parses_to_32_bytes() -> None:
    assert len(parse_key(generate_key())) == 32


def test_session_keyring_comes_from_the_session_factory() -> None:
    from sqlalchemy.orm import sessionmaker

    keyring = _keyring()
    with sessionmaker(info={SESSION_INFO_KEY: keyring})() as session:
        assert session_keyring(session) is keyring
    with sessionmaker()() as session:
        assert session_keyring(session) is None
