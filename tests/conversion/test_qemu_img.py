"""The qemu-img wrapper with the real qemu-img: what it converts, and every image it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from ckos.adapters.conversion.qemu_img import ImageInfo, QemuImg
from ckos.domain.errors import ConversionFailed
from ckos.domain.model import ImageFormat
from support.disk_images import CONTENT, DiskImages, listing

QCOW2, RAW, VMDK = ImageFormat.QCOW2, ImageFormat.RAW, ImageFormat.VMDK


@pytest.fixture
def images(tmp_path: Path) -> DiskImages:
    return DiskImages(tmp_path / "images")


@pytest.fixture
def out(tmp_path: Path) -> Path:
    directory = tmp_path / "out"
    directory.mkdir()
    return directory


def refused(qemu: QemuImg, source: Path, claimed: ImageFormat, out: Path, target: ImageFormat = RAW) -> str:
    """The refusal of both inspect and convert; convert leaves nothing behind."""
    with pytest.raises(ConversionFailed) as inspected:
        qemu.inspect(source, claimed)
    with pytest.raises(ConversionFailed) as converted:
        qemu.convert(source, claimed, out / "result", target)
    assert listing(out) == []
    assert str(converted.value) == str(inspected.value)
    return str(inspected.value)


def test_qcow2_converts_to_raw_byte_for_byte(images: DiskImages, out: Path) -> None:
    source = images.made("disk.qcow2", "qcow2")
    assert QemuImg().inspect(source, QCOW2) == ImageInfo(QCOW2, len(CONTENT))

    info = QemuImg().convert(source, QCOW2, out / "disk.raw", RAW)

    assert info == ImageInfo(RAW, len(CONTENT))
    assert (out / "disk.raw").read_bytes() == CONTENT
    assert listing(out) == ["disk.raw"]  # no .part left
    assert (out / "disk.raw").stat().st_mode & 0o777 == 0o600


def test_raw_and_vmdk_convert_to_qcow2_that_reads_back_the_same(images: DiskImages, out: Path) -> None:
    qemu = QemuImg()
    for name, source_format in (("disk.raw", RAW), ("disk.vmdk", VMDK)):
        source = images.raw(name) if source_format is RAW else images.made(name, "vmdk")
        target = out / f"{name}.qcow2"
        assert qemu.convert(source, source_format, target, QCOW2) == ImageInfo(QCOW2, len(CONTENT))
        assert target.read_bytes()[:4] == b"QFI\xfb"
        qemu.convert(target, QCOW2, out / f"{name}.back", RAW)
        assert (out / f"{name}.back").read_bytes() == CONTENT


def test_a_backing_file_is_refused(images: DiskImages, out: Path) -> None:
    assert "backing file" in refused(QemuImg(), images.with_backing_file(), QCOW2, out)


def test_an_external_data_file_is_refused(images: DiskImages, out: Path) -> None:
    assert "external data file" in refused(QemuImg(), images.with_data_file(), QCOW2, out)


def test_a_virtual_size_above_the_bound_is_refused(images: DiskImages, out: Path) -> None:
    message = refused(
        QemuImg(max_virtual_size=1 << 40), images.empty("huge.qcow2", "100T"), QCOW2, out, QCOW2
    )
    assert "virtual size 109951162777600 bytes is above the bound" in message


def test_a_raw_output_larger_than_the_free_space_is_refused(images: DiskImages, out: Path) -> None:
    qemu = QemuImg(max_virtual_size=1 << 62)
    huge = images.empty("huge.qcow2", "100T")
    assert qemu.inspect(huge, QCOW2).virtual_size == 100 << 40  # within the bound
    with pytest.raises(ConversionFailed, match=r"does not fit the [0-9]+ bytes free"):
        qemu.convert(huge, QCOW2, out / "huge.raw", RAW)
    assert listing(out) == []


def test_a_file_claimed_qcow2_that_is_not_is_refused_before_qemu_img_runs(
    images: DiskImages, out: Path
) -> None:
    never_run = QemuImg(str(images.directory / "no-such-qemu-img"))
    assert "claimed qcow2, but its signature says raw" in refused(never_run, images.raw(), QCOW2, out)


def test_a_qcow2_claimed_raw_is_refused(images: DiskImages, out: Path) -> None:
    message = refused(QemuImg(), images.made("disk.qcow2", "qcow2"), RAW, out, QCOW2)
    assert "claimed raw, but its signature says qcow2" in message


def test_a_vmdk_descriptor_naming_other_files_is_refused(images: DiskImages, out: Path) -> None:
    descriptor = images.made("flat.vmdk", "vmdk", CONTENT, "-o", "subformat=monolithicFlat")
    assert "signature says vmdk descriptor" in refused(QemuImg(), descriptor, VMDK, out)


def test_a_corrupt_qcow2_fails_with_what_qemu_img_said(images: DiskImages, out: Path) -> None:
    corrupt = images.with_broken_l1_table()
    with pytest.raises(ConversionFailed) as failure:
        QemuImg().convert(corrupt, QCOW2, out / "disk.raw", RAW)
    assert "converting corrupt.qcow2: qemu-img failed (exit 1)" in str(failure.value)
    assert "L2 table offset 0x12200 unaligned" in str(failure.value)
    assert listing(out) == []


def test_a_broken_header_fails_inspection(images: DiskImages, out: Path) -> None:
    broken = images.made("disk.qcow2", "qcow2")
    with broken.open("r+b") as file:
        file.seek(40)
        file.write(b"\xff" * 8)  # the L1 table far beyond the file
    message = refused(QemuImg(), broken, QCOW2, out)
    assert "inspecting disk.qcow2: qemu-img failed (exit 1)" in message
    assert "L1 table offset invalid" in message


def test_a_conversion_past_its_timeout_is_stopped_and_removed(images: DiskImages, out: Path) -> None:
    slow = images.script("slow-qemu-img", 'if [ "$1" = convert ]; then exec sleep 30; fi\nexec qemu-img "$@"')
    with pytest.raises(ConversionFailed, match=r"converting disk.qcow2: qemu-img timed out after 0.5 s"):
        QemuImg(str(slow), timeout=0.5).convert(images.made("disk.qcow2", "qcow2"), QCOW2, out / "d.raw", RAW)
    assert listing(out) == []


def test_an_output_not_in_the_target_format_is_refused(images: DiskImages, out: Path) -> None:
    # A converter that "succeeds" by copying: its raw output is no qcow2, and is not kept.
    copying = images.script(
        "copying-qemu-img",
        'if [ "$1" = convert ]; then eval "cp \\"\\${$(($# - 1))}\\" \\"\\${$#}\\""; exit 0; fi\n'
        'exec qemu-img "$@"',
    )
    with pytest.raises(ConversionFailed, match=r"d\.qcow2\.part: claimed qcow2, but its signature says raw"):
        QemuImg(str(copying)).convert(images.raw(), RAW, out / "d.qcow2", QCOW2)
    assert listing(out) == []


def test_qemu_img_errors_are_trimmed(images: DiskImages, out: Path) -> None:
    noisy = images.script(
        "noisy-qemu-img", "yes 'qemu-img: something went wrong' | head -c 200000 >&2; exit 1"
    )
    with pytest.raises(ConversionFailed) as failure:
        QemuImg(str(noisy)).inspect(images.raw(), RAW)
    assert str(failure.value).startswith("inspecting disk.raw: qemu-img failed (exit 1): qemu-img: something")
    assert len(str(failure.value)) < 600


def test_a_missing_qemu_img_says_what_to_install(images: DiskImages) -> None:
    with pytest.raises(ConversionFailed, match="is qemu-utils installed"):
        QemuImg("/nonexistent/qemu-img").inspect(images.raw(), RAW)


def test_formats_qemu_img_is_not_used_for_are_refused(images: DiskImages, out: Path) -> None:
    with pytest.raises(ConversionFailed, match="qemu-img does not convert iso images here"):
        QemuImg().convert(images.raw(), ImageFormat.ISO, out / "d.raw", RAW)
    assert listing(out) == []
