"""VerifyingReader: every byte counted and hashed, in order, whatever the read sizes."""

from __future__ import annotations

import hashlib
import io
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ckos.domain.errors import TransferMismatch
from ckos.domain.model import ImageFacts, ImageFormat
from ckos.domain.transfer import VerifyingReader


def facts(data: bytes, *, size: int | None = None, checksum: str | None = None) -> ImageFacts:
    return ImageFacts(
        uri="https://images.example.org/image.qcow2",
        checksum=checksum or hashlib.sha512(data).hexdigest(),
        size=len(data) if size is None else size,
        format=ImageFormat.QCOW2,
        digest="d",
    )


def hashing_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("ckos-hash")]


@settings(max_examples=50, deadline=None)
@given(data=st.binary(max_size=20_000), sizes=st.lists(st.integers(1, 9000), min_size=1, max_size=6))
def test_the_bytes_pass_through_unchanged_and_are_hashed_in_order(data: bytes, sizes: list[int]) -> None:
    passed: list[bytes] = []
    with VerifyingReader(io.BytesIO(data), facts(data), "image") as reader:
        for n in range(10_000):
            chunk = reader.read(sizes[n % len(sizes)])
            if not chunk:
                break
            passed.append(chunk)
    assert b"".join(passed) == data
    assert reader.count == len(data)
    assert reader.checksum == hashlib.sha512(data).hexdigest()
    reader.verify()


def test_closing_lets_the_hashing_thread_go() -> None:
    before = hashing_threads()
    data = bytes(range(256)) * 4096
    reader = VerifyingReader(io.BytesIO(data), facts(data), "image")
    while reader.read(65536):
        pass
    reader.close()
    assert hashing_threads() == before
    reader.verify()  # the digest is still there after close


def test_more_bytes_than_announced_fail_at_once_naming_both_sizes() -> None:
    data = b"x" * 5000
    expected = r"larger than the announced 3000 bytes \(4096 read so far\)"
    with (
        VerifyingReader(io.BytesIO(data), facts(data, size=3000), "appliance a") as reader,
        pytest.raises(TransferMismatch, match=expected),
    ):
        reader.read(4096)


def test_fewer_bytes_or_other_bytes_fail_the_verification_naming_both_values() -> None:
    data = b"y" * 100
    with VerifyingReader(io.BytesIO(data), facts(data, size=101), "appliance a") as short:
        short.read()
    with pytest.raises(TransferMismatch, match="expected 101 bytes, read 100"):
        short.verify()
    wrong = hashlib.sha512(b"z").hexdigest()
    with VerifyingReader(io.BytesIO(data), facts(data, checksum=wrong), "appliance a") as other:
        other.read()
    actual = hashlib.sha512(data).hexdigest()
    with pytest.raises(TransferMismatch, match=f"expected SHA-512 {wrong}, got {actual}"):
        other.verify()


def test_a_sha256_checksum_is_verified_with_sha256_and_spelled_as_announced() -> None:
    data = b"oci layer" * 1000
    announced = "sha256:" + hashlib.sha256(data).hexdigest()
    with VerifyingReader(io.BytesIO(data), facts(data, checksum=announced), "layer") as reader:
        while reader.read(4096):
            pass
    reader.verify()
    assert reader.checksum == announced

    wrong = "sha256:" + hashlib.sha256(b"other").hexdigest()
    with VerifyingReader(io.BytesIO(data), facts(data, checksum=wrong), "layer") as other:
        other.read()
    with pytest.raises(TransferMismatch, match=f"expected SHA-256 {wrong}, got {announced}"):
        other.verify()
