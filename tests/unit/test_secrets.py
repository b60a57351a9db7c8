"""SecretBox and its key: the key file's creation and mode, the environment key, rotation,
the ciphertext prefix, and tampering."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from sluice.common.errors import InternalError
from sluice.common.secrets import (
    ENCRYPTED_PREFIX,
    SECRET_KEY_ENV,
    SECRET_KEY_FILE,
    SecretBox,
    SecretDecryptError,
    SecretKeyError,
    load_secret_box,
    without_server_secrets,
)

pytestmark = pytest.mark.unit

NO_ENV: dict[str, str] = {}


def _key() -> str:
    return Fernet.generate_key().decode()


def test_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    box = load_secret_box(tmp_path, NO_ENV)
    key_file = tmp_path / SECRET_KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    ciphertext = box.encrypt("hunter2")
    # A restarted server reads the same key, so what it stored stays readable.
    assert load_secret_box(tmp_path, NO_ENV).decrypt(ciphertext) == "hunter2"
    assert [p.name for p in tmp_path.iterdir()] == [SECRET_KEY_FILE]


def test_key_file_is_private_even_under_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        load_secret_box(tmp_path, NO_ENV)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / SECRET_KEY_FILE).stat().st_mode) == 0o600


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o666])
def test_key_file_open_to_group_or_others_is_refused(tmp_path: Path, mode: int) -> None:
    load_secret_box(tmp_path, NO_ENV)
    key_file = tmp_path / SECRET_KEY_FILE
    key_file.chmod(mode)
    with pytest.raises(SecretKeyError, match="group or others") as caught:
        load_secret_box(tmp_path, NO_ENV)
    assert "chmod 600" in caught.value.message
    assert key_file.read_text().strip() not in caught.value.message


def test_damaged_or_empty_key_file_is_a_clear_error(tmp_path: Path) -> None:
    key_file = tmp_path / SECRET_KEY_FILE
    key_file.write_text("not-a-fernet-key\n")
    key_file.chmod(0o600)
    with pytest.raises(SecretKeyError, match="is damaged") as caught:
        load_secret_box(tmp_path, NO_ENV)
    assert "not-a-fernet-key" not in caught.value.message
    key_file.write_text("\n")
    with pytest.raises(SecretKeyError, match="is empty"):
        load_secret_box(tmp_path, NO_ENV)


def test_key_file_that_is_not_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / SECRET_KEY_FILE).mkdir(mode=0o700)
    with pytest.raises(SecretKeyError, match="not a regular file"):
        load_secret_box(tmp_path, NO_ENV)


def test_missing_data_dir_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SecretKeyError, match="cannot be created"):
        load_secret_box(tmp_path / "absent", NO_ENV)


def test_concurrent_first_starts_agree_on_one_key(tmp_path: Path) -> None:
    boxes: list[SecretBox] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            boxes.append(load_secret_box(tmp_path, NO_ENV))
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    ciphertext = boxes[0].encrypt("same")
    assert all(box.decrypt(ciphertext) == "same" for box in boxes)
    assert [p.name for p in tmp_path.iterdir()] == [SECRET_KEY_FILE]


def test_environment_key_wins_and_no_key_file_is_made(tmp_path: Path) -> None:
    key = _key()
    box = load_secret_box(tmp_path, {SECRET_KEY_ENV: key})
    assert not (tmp_path / SECRET_KEY_FILE).exists()
    ciphertext = box.encrypt("hunter2")
    assert SecretBox([key]).decrypt(ciphertext) == "hunter2"
    assert repr(box) == "SecretBox(keys=1)"
    assert key not in repr(box)


def test_environment_key_takes_precedence_over_key_file(tmp_path: Path) -> None:
    from_file = load_secret_box(tmp_path, NO_ENV)
    from_env = load_secret_box(tmp_path, {SECRET_KEY_ENV: _key()})
    with pytest.raises(SecretDecryptError):
        from_env.decrypt(from_file.encrypt("x"))


@pytest.mark.parametrize("value", ["not-a-key", f"{'A' * 43}=,", "short,"])
def test_bad_environment_key_is_refused_without_echoing_it(tmp_path: Path, value: str) -> None:
    with pytest.raises(SecretKeyError, match=SECRET_KEY_ENV) as caught:
        load_secret_box(tmp_path, {SECRET_KEY_ENV: value})
    for part in value.split(","):
        if part:
            assert part not in caught.value.message
    assert not (tmp_path / SECRET_KEY_FILE).exists()


def test_blank_environment_key_means_the_key_file(tmp_path: Path) -> None:
    load_secret_box(tmp_path, {SECRET_KEY_ENV: "  "})
    assert (tmp_path / SECRET_KEY_FILE).exists()


def test_rotation_first_key_encrypts_all_decrypt(tmp_path: Path) -> None:
    old, new = _key(), _key()
    before = load_secret_box(tmp_path, {SECRET_KEY_ENV: old}).encrypt("hunter2")
    rotated = load_secret_box(tmp_path, {SECRET_KEY_ENV: f" {new} , {old} "})
    assert repr(rotated) == "SecretBox(keys=2)"
    assert rotated.decrypt(before) == "hunter2"
    after = rotated.encrypt("hunter2")
    # Written after the rotation: the new key alone opens it, the old alone does not.
    assert SecretBox([new]).decrypt(after) == "hunter2"
    with pytest.raises(SecretDecryptError):
        SecretBox([old]).decrypt(after)
    assert SecretBox([new]).decrypt(rotated.rotate(before)) == "hunter2"


def test_key_file_may_list_several_keys(tmp_path: Path) -> None:
    old, new = _key(), _key()
    key_file = tmp_path / SECRET_KEY_FILE
    key_file.write_text(f"{new}\n{old}\n")
    key_file.chmod(0o600)
    box = load_secret_box(tmp_path, NO_ENV)
    assert box.decrypt(SecretBox([old]).encrypt("a")) == "a"
    assert SecretBox([new]).decrypt(box.encrypt("b")) == "b"


def test_ciphertext_carries_the_prefix_and_differs_each_time() -> None:
    box = SecretBox([_key()])
    first, second = box.encrypt("hunter2"), box.encrypt("hunter2")
    assert first.startswith(ENCRYPTED_PREFIX)
    assert SecretBox.is_encrypted(first)
    assert "hunter2" not in first
    assert first != second
    assert box.decrypt(first) == box.decrypt(second) == "hunter2"
    assert box.decrypt(box.encrypt("")) == ""
    assert box.decrypt(box.encrypt("päss wörd ✓")) == "päss wörd ✓"


def test_plaintext_from_before_is_read_as_it_is_and_rotated_to_ciphertext() -> None:
    box = SecretBox([_key()])
    assert not SecretBox.is_encrypted("hunter2")
    assert box.decrypt("hunter2") == "hunter2"
    rotated = box.rotate("hunter2")
    assert SecretBox.is_encrypted(rotated)
    assert box.decrypt(rotated) == "hunter2"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda c: c[:-4] + ("AAAA" if not c.endswith("AAAA") else "BBBB"),
        # One character changed: to "x", or to "y" where it already is an "x".
        lambda c: (
            c[: len(ENCRYPTED_PREFIX) + 20]
            + ("y" if c[len(ENCRYPTED_PREFIX) + 20] == "x" else "x")
            + c[len(ENCRYPTED_PREFIX) + 21 :]
        ),
        lambda c: ENCRYPTED_PREFIX,
        lambda c: ENCRYPTED_PREFIX + "not base64 at all ✗",
        lambda c: c[: len(c) // 2],
    ],
)
def test_tampered_ciphertext_is_a_clear_internal_error(tamper: object) -> None:
    box = SecretBox([_key()])
    ciphertext = box.encrypt("hunter2")
    damaged = tamper(ciphertext)  # type: ignore[operator]
    assert damaged != ciphertext
    with pytest.raises(SecretDecryptError, match="cannot be decrypted") as caught:
        box.decrypt(damaged)
    assert isinstance(caught.value, InternalError)
    assert "hunter2" not in str(caught.value)
    # Nothing from cryptography is chained on: the traceback a server logs stays clean.
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_wrong_key_is_the_same_clear_error() -> None:
    ciphertext = SecretBox([_key()]).encrypt("hunter2")
    with pytest.raises(SecretDecryptError, match="SLUICE_SECRET_KEY"):
        SecretBox([_key()]).decrypt(ciphertext)


def test_secret_box_needs_a_key() -> None:
    with pytest.raises(SecretKeyError):
        SecretBox([])
    with pytest.raises(SecretKeyError, match="key 2 of 2"):
        SecretBox([_key(), "nope"])


def test_environment_for_job_code_leaves_out_the_server_secrets() -> None:
    environ = {
        SECRET_KEY_ENV: _key(),
        "SLUICE_TOKEN": "slk_x",
        "SLUICE_BOOTSTRAP_TOKEN": "slk_y",
        "SLUICE_ADDRESS": "127.0.0.1:50051",
        "PATH": "/usr/bin",
    }
    assert without_server_secrets(environ) == {
        "SLUICE_ADDRESS": "127.0.0.1:50051",
        "PATH": "/usr/bin",
    }
    assert SECRET_KEY_ENV in environ


def test_derived_keys_follow_the_first_key_and_the_purpose() -> None:
    first, second = Fernet.generate_key(), Fernet.generate_key()
    box = SecretBox([first, second])
    key = box.derive_key("page-tokens")
    assert len(key) == 32
    # Another server holding the same first key (as str or bytes) derives the same key.
    assert SecretBox([first.decode()]).derive_key("page-tokens") == key
    assert box.derive_key("something-else") != key
    assert SecretBox([second, first]).derive_key("page-tokens") != key
    assert first not in key and key not in first
