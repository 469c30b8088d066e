"""QemuConversion, the Conversion port, with the real qemu-img: what it yields, and that the work
directory is empty again after success, failure, interruption, and once leftovers are cleaned."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from attrs import evolve

from ckos.adapters.conversion.converter import QemuConversion
from ckos.adapters.conversion.work_dir import key
from ckos.domain.errors import ConversionFailed, SourceUnavailable, TransferMismatch
from ckos.domain.model import ImageFacts, ImageFormat, ImageSource, TransferMode
from ckos.domain.snapshot import Offer
from support.appliances import UBUNTU
from support.disk_images import CONTENT, OVF, DiskImages, listing, ova
from support.fakes import MemoryImageData

URI = "https://registry.egi.eu/ubuntu.qcow2"
LOCATION = "oci://registry.egi.eu/egi_vm_images/ubuntu@sha256:" + "ab" * 32
QCOW2, RAW, VMDK, OVA = ImageFormat.QCOW2, ImageFormat.RAW, ImageFormat.VMDK, ImageFormat.OVA


def sha512(data: bytes) -> str:
    return hashlib.sha512(data).hexdigest()


def offer_of(data: bytes, image_format: ImageFormat, *, checksum: str | None = None) -> Offer:
    facts = ImageFacts(
        uri=URI,
        checksum=checksum or sha512(data),
        size=len(data),
        format=image_format,
        digest="layer-digest",
    )
    return Offer(evolve(UBUNTU, image=facts), ImageSource(TransferMode.REMOTE, LOCATION))


@pytest.fixture
def images(tmp_path: Path) -> DiskImages:
    return DiskImages(tmp_path / "images")


@pytest.fixture
def work_dir(tmp_path: Path) -> Path:
    return tmp_path / "work"


def conversion_of(work_dir: Path, data: bytes, **options: Any) -> tuple[QemuConversion, MemoryImageData]:
    image_data = MemoryImageData(files={LOCATION: data})
    return QemuConversion(work_dir, image_data, **options), image_data


def test_a_qcow2_is_yielded_as_a_verified_raw_file_then_removed(images: DiskImages, work_dir: Path) -> None:
    data = images.made("disk.qcow2", "qcow2").read_bytes()
    conversion, image_data = conversion_of(work_dir, data)
    offer = offer_of(data, QCOW2)

    with conversion.converted(offer, RAW) as converted:
        path = Path(converted.source.location)
        assert converted.source == ImageSource(TransferMode.LOCAL, str(path))
        assert path.read_bytes() == CONTENT
        assert converted.appliance == evolve(
            offer.appliance,
            image=ImageFacts(URI, sha512(CONTENT), len(CONTENT), RAW, "layer-digest"),
        )
        assert path.parent == work_dir
        assert path.name.startswith(f"ckos-sha512-{sha512(data)}.")
        assert path.stat().st_mode & 0o777 == 0o600
        assert listing(work_dir) == sorted([path.name, path.with_suffix(".lock").name])  # no download kept
        assert image_data.open_streams == 0  # the source was read once, and closed

    assert listing(work_dir) == []
    assert image_data.opened == [LOCATION]


def test_a_blob_named_by_its_sha256_is_verified_as_such(images: DiskImages, work_dir: Path) -> None:
    data = images.made("disk.qcow2", "qcow2").read_bytes()
    layer = "sha256:" + hashlib.sha256(data).hexdigest()
    conversion, _ = conversion_of(work_dir, data)
    with conversion.converted(offer_of(data, QCOW2, checksum=layer), RAW) as converted:
        assert Path(converted.source.location).name.startswith(f"ckos-sha256-{layer[7:]}.")
        assert converted.appliance.image is not None
        assert converted.appliance.image.checksum == sha512(CONTENT)  # the converted file's own
    with (
        pytest.raises(TransferMismatch, match="expected SHA-256"),
        conversion.converted(offer_of(data, QCOW2, checksum="sha256:" + "0" * 64), RAW),
    ):
        pytest.fail("nothing to yield")
    with (
        pytest.raises(ConversionFailed, match="'md5:00' is no checksum"),
        conversion.converted(offer_of(data, QCOW2, checksum="md5:00"), RAW),
    ):
        pytest.fail("nothing to yield")
    assert listing(work_dir) == []


def test_raw_converts_to_a_qcow2_that_holds_the_same_bytes(work_dir: Path, tmp_path: Path) -> None:
    conversion, _ = conversion_of(work_dir, CONTENT)
    with conversion.converted(offer_of(CONTENT, RAW), QCOW2) as converted:
        qcow2 = Path(converted.source.location)
        assert converted.appliance.image == ImageFacts(
            URI,
            sha512(qcow2.read_bytes()),
            qcow2.stat().st_size,
            QCOW2,
            "layer-digest",
        )
        back, _ = conversion_of(tmp_path / "back", qcow2.read_bytes())
        with back.converted(offer_of(qcow2.read_bytes(), QCOW2), RAW) as raw:
            assert Path(raw.source.location).read_bytes() == CONTENT
    assert listing(work_dir) == []


def test_the_first_disk_of_an_ova_is_unpacked_from_the_stream_and_converted(
    images: DiskImages, work_dir: Path, tmp_path: Path
) -> None:
    vmdk = images.made("disk.vmdk", "vmdk", CONTENT, "-o", "subformat=streamOptimized").read_bytes()
    data = ova(
        ("appliance.ovf", OVF), ("../../escaped.vmdk", vmdk), ("second.vmdk", b"not read"), ("x.mf", b"m")
    )
    conversion, _ = conversion_of(work_dir, data)

    with conversion.converted(offer_of(data, OVA), RAW) as converted:
        assert Path(converted.source.location).read_bytes() == CONTENT
        assert converted.appliance.image is not None
        assert (converted.appliance.image.format, converted.appliance.image.size) == (RAW, len(CONTENT))

    assert listing(work_dir) == []
    assert not list(tmp_path.rglob("escaped.vmdk"))  # archive paths never reach the file system


def test_an_ova_wanted_as_vmdk_yields_its_disk(images: DiskImages, work_dir: Path) -> None:
    vmdk = images.made("disk.vmdk", "vmdk").read_bytes()
    data = ova(("appliance.ovf", OVF), ("disk1.vmdk", vmdk))
    conversion, _ = conversion_of(work_dir, data)
    with conversion.converted(offer_of(data, OVA), VMDK) as converted:
        assert Path(converted.source.location).read_bytes() == vmdk
        assert converted.appliance.image == offer_of(vmdk, VMDK).appliance.image
    assert listing(work_dir) == []


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ((("appliance.ovf", OVF), ("disk.img", b"raw")), "the OVA holds no VMDK disk"),
        (None, "not a readable OVA"),
    ],
)
def test_an_ova_without_a_disk_fails(
    work_dir: Path, members: tuple[tuple[str, bytes], ...] | None, message: str
) -> None:
    data = ova(*members) if members else b"\x01" * 2048
    conversion, _ = conversion_of(work_dir, data)
    with pytest.raises(ConversionFailed, match=message), conversion.converted(offer_of(data, OVA), RAW):
        pytest.fail("nothing to yield")
    assert listing(work_dir) == []


def test_a_damaged_ova_is_reported_as_a_mismatch_not_as_a_bad_archive(work_dir: Path) -> None:
    good = ova(("appliance.ovf", OVF), ("disk.vmdk", b"KDMV"))
    conversion, _ = conversion_of(work_dir, b"\x01" * len(good))
    with (
        pytest.raises(TransferMismatch, match="checksum mismatch"),
        conversion.converted(offer_of(good, OVA), RAW),
    ):
        pytest.fail("nothing to yield")
    assert listing(work_dir) == []


def test_the_same_format_is_verified_inspected_and_passed_through(images: DiskImages, work_dir: Path) -> None:
    data = images.made("disk.qcow2", "qcow2").read_bytes()
    conversion, _ = conversion_of(work_dir, data)
    offer = offer_of(data, QCOW2)
    with conversion.converted(offer, QCOW2) as passed:
        assert passed.appliance == offer.appliance
        assert Path(passed.source.location).read_bytes() == data
    assert listing(work_dir) == []


def test_bytes_that_do_not_match_the_checksum_are_never_converted(images: DiskImages, work_dir: Path) -> None:
    data = images.made("disk.qcow2", "qcow2").read_bytes()
    image_data = MemoryImageData(files={LOCATION: data})
    # qemu-img missing: had the bytes reached it, this would be a ConversionFailed
    conversion = QemuConversion(work_dir, image_data, qemu_img=str(images.directory / "absent"))
    with (
        pytest.raises(TransferMismatch, match="checksum mismatch"),
        conversion.converted(offer_of(data, QCOW2, checksum=sha512(b"other")), RAW),
    ):
        pytest.fail("nothing to yield")
    assert listing(work_dir) == []
    assert image_data.open_streams == 0


def test_a_source_failing_mid_stream_fails_the_conversion_and_leaves_nothing(
    images: DiskImages, work_dir: Path
) -> None:
    data = images.made("disk.qcow2", "qcow2").read_bytes()
    image_data = MemoryImageData(files={LOCATION: data}, break_after={LOCATION: len(data) // 2})
    conversion = QemuConversion(work_dir, image_data)
    with (
        pytest.raises(SourceUnavailable, match="connection lost mid-stream"),
        conversion.converted(offer_of(data, QCOW2), RAW),
    ):
        pytest.fail("nothing to yield")
    assert listing(work_dir) == []
    assert image_data.open_streams == 0


@pytest.mark.parametrize("image", ["with_backing_file", "with_data_file", "with_broken_l1_table"])
def test_an_unsafe_or_corrupt_image_fails_and_leaves_nothing(
    images: DiskImages, work_dir: Path, image: str
) -> None:
    data = getattr(images, image)().read_bytes()
    conversion, _ = conversion_of(work_dir, data)
    with (
        pytest.raises(ConversionFailed, match=r"download: refused|qemu-img failed"),
        conversion.converted(offer_of(data, QCOW2), RAW),
    ):
        pytest.fail("nothing to yield")
    assert listing(work_dir) == []


def test_a_virtual_size_above_the_bound_is_refused(images: DiskImages, work_dir: Path) -> None:
    data = images.empty("big.qcow2", "64M").read_bytes()
    conversion, _ = conversion_of(work_dir, data, max_virtual_size=32 << 20)
    with (
        pytest.raises(ConversionFailed, match="virtual size 67108864 bytes is above the bound of 33554432"),
        conversion.converted(offer_of(data, QCOW2), RAW),
    ):
        pytest.fail("nothing to yield")
    assert listing(work_dir) == []


def test_a_conversion_past_its_timeout_fails_and_leaves_nothing(images: DiskImages, work_dir: Path) -> None:
    slow = images.script("slow-qemu-img", 'if [ "$1" = convert ]; then exec sleep 30; fi\nexec qemu-img "$@"')
    data = images.made("disk.qcow2", "qcow2").read_bytes()
    conversion, _ = conversion_of(work_dir, data, qemu_img=str(slow), timeout=0.5)
    with (
        pytest.raises(ConversionFailed, match=r"timed out after 0\.5 s"),
        conversion.converted(offer_of(data, QCOW2), RAW),
    ):
        pytest.fail("nothing to yield")
    assert listing(work_dir) == []


@pytest.mark.parametrize("error", [KeyboardInterrupt, RuntimeError])
def test_an_interrupted_upload_leaves_nothing_and_its_error_passes_unchanged(
    images: DiskImages, work_dir: Path, error: type[BaseException]
) -> None:
    data = images.made("disk.qcow2", "qcow2").read_bytes()
    conversion, _ = conversion_of(work_dir, data)
    with pytest.raises(error), conversion.converted(offer_of(data, QCOW2), RAW):
        raise error("the upload stopped")
    assert listing(work_dir) == []


def test_a_conversion_it_cannot_do_fails_before_reading_anything(work_dir: Path) -> None:
    conversion, image_data = conversion_of(work_dir, b"iso")
    with (
        pytest.raises(ConversionFailed, match="cannot convert iso to raw"),
        conversion.converted(offer_of(b"iso", ImageFormat.ISO), RAW),
    ):
        pytest.fail("nothing to yield")
    assert image_data.opened == []
    assert listing(work_dir) == []


def test_clean_removes_what_a_killed_run_left_and_nothing_else(work_dir: Path) -> None:
    work_dir.mkdir()
    stem = f"ckos-{key(sha512(b'image'))}.0123456789abcdef"
    killed = [f"{stem}.lock", f"{stem}.download", f"{stem}.raw.part"]
    unlocked = [f"ckos-{key('sha256:' + 'ab' * 32)}.fedcba9876543210.qcow2"]  # its lock already gone
    foreign = ["notes.txt", "ckos-mine.download", f"{stem}.download.bak", f"{stem[:-1]}.raw", "ckos-x.lock"]
    for name in killed + unlocked + foreign:
        (work_dir / name).write_bytes(b"x")
    os.symlink("/etc/hostname", work_dir / f"ckos-{key('link')}.0000000000000000.raw")

    removed = QemuConversion(work_dir, MemoryImageData()).clean()

    assert sorted(path.name for path in removed) == sorted(killed + unlocked)
    assert listing(work_dir) == sorted([*foreign, f"ckos-{key('link')}.0000000000000000.raw"])


def test_clean_leaves_a_live_run_alone(images: DiskImages, work_dir: Path) -> None:
    data = images.made("disk.qcow2", "qcow2").read_bytes()
    conversion, _ = conversion_of(work_dir, data)
    with conversion.converted(offer_of(data, QCOW2), RAW) as converted:
        assert conversion.clean() == []
        assert Path(converted.source.location).read_bytes() == CONTENT
    assert conversion.clean() == []
    assert QemuConversion(work_dir / "missing", MemoryImageData()).clean() == []


def test_keys_are_file_name_safe_names_of_the_checksum() -> None:
    assert key("a" * 128) == "sha512-" + "a" * 128
    assert key("sha256:" + "0f" * 32) == "sha256-" + "0f" * 32
    assert key("../../etc/passwd").startswith("other-")
    assert key("../../etc/passwd") == key("../../etc/passwd") != key("../../etc/shadow")


def test_a_relative_work_directory_yields_an_absolute_location(
    work_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    conversion = QemuConversion(Path("work"), MemoryImageData(files={LOCATION: CONTENT}))
    with conversion.converted(offer_of(CONTENT, RAW), RAW) as passed:
        assert Path(passed.source.location).parent == work_dir
    assert listing(work_dir) == []
