"""The property codec: the exact Glance schema, and a lossless round trip."""

from __future__ import annotations

import hashlib
import json

import pytest
from attrs import evolve

from ckos.adapters.glance.formats import GlanceFormats, glance_formats
from ckos.adapters.glance.limits import check_fields
from ckos.adapters.glance.properties import (
    MANAGED_PROPERTIES,
    RamUnit,
    decode,
    encode,
    min_ram_mib,
    retired_at_of,
    stale_properties,
    status_of,
)
from ckos.domain.errors import CatalogRejected
from ckos.domain.model import Appliance, ApplianceStatus, ImageFacts, ImageFormat
from support import appliances

CHECKSUM = hashlib.sha512(b"ubuntu").hexdigest()
# The shared UBUNTU with an image of its own: the values below are what the assertions spell out.
UBUNTU = evolve(
    appliances.UBUNTU,
    image=evolve(
        appliances.IMAGE,
        uri="http://127.0.0.1:8080/releases/bionic/ubuntu-18.04-server-cloudimg-amd64.img",
        checksum=CHECKSUM,
        size=196616,
    ),
)
MINIMAL = Appliance(
    identifier="id-1", image_list_identifier="list-1", vo="vo.example.eu", mpuri="https://m/1"
)


def test_every_round_trip_property_has_its_exact_name_and_value() -> None:
    properties = encode(UBUNTU).properties
    assert {
        k: v for k, v in properties.items() if k.startswith("APPLIANCE_") and k != "APPLIANCE_ATTRIBUTES"
    } == {
        "APPLIANCE_ID": UBUNTU.identifier,
        "APPLIANCE_IMAGE_LIST_ID": UBUNTU.image_list_identifier,
        "APPLIANCE_TITLE": UBUNTU.title,
        "APPLIANCE_DESCRIPTION": UBUNTU.description,
        "APPLIANCE_MPURI": UBUNTU.mpuri,
        "APPLIANCE_GROUP": "General group",
        "APPLIANCE_RAM": "1073741824",
        "APPLIANCE_CORE": "1",
        "APPLIANCE_VERSION": "2019.05.14",
        "APPLIANCE_ARCHITECTURE": "x86_64",
        "APPLIANCE_OPERATING_SYSTEM": "Linux Ubuntu 18.04",
        "APPLIANCE_VO": "vo.example.eu",
        "APPLIANCE_EXPIRATION_DATE": "4082400000",
        "APPLIANCE_BASE_MPURI": UBUNTU.base_mpuri,
        "APPLIANCE_APPID": "1017",
        "APPLIANCE_DIGEST": UBUNTU.digest,
        "APPLIANCE_IMAGE_URI": UBUNTU.image.uri if UBUNTU.image else "",
        "APPLIANCE_IMAGE_CHECKSUM": CHECKSUM,
        "APPLIANCE_IMAGE_SIZE": "196616",
        "APPLIANCE_IMAGE_FORMAT": "QCOW2",
        "APPLIANCE_IMAGE_DIGEST": "c7a11b6a" * 16,
    }


def test_the_ecosystem_properties_are_written() -> None:
    properties = encode(UBUNTU).properties
    assert properties["vmcatcher_event_ad_mpuri"] == UBUNTU.mpuri
    assert properties["vmcatcher_event_dc_title"] == UBUNTU.title
    assert properties["vmcatcher_event_dc_description"] == UBUNTU.description
    assert properties["ad:appid"] == "1017"
    assert (properties["os_distro"], properties["os_version"], properties["architecture"]) == (
        "ubuntu",
        "18.04",
        "x86_64",
    )
    assert json.loads(properties["APPLIANCE_ATTRIBUTES"]) == {
        "dc:identifier": UBUNTU.identifier,
        "dc:title": UBUNTU.title,
        "dc:description": UBUNTU.description,
        "ad:mpuri": UBUNTU.mpuri,
        "ad:base_mpuri": UBUNTU.base_mpuri,
        "ad:appid": "1017",
        "ad:group": "General group",
        "hv:version": "2019.05.14",
        "sl:arch": "x86_64",
        "ad:vo": "vo.example.eu",
        "dc:date:expires": "2099-05-14T00:00:00Z",
        "hv:ram_minimum": "1073741824",
        "hv:core_minimum": "1",
    }


def test_image_fields_of_an_appliance() -> None:
    fields = encode(UBUNTU)
    assert (fields.name, fields.disk_format, fields.container_format, fields.min_ram) == (
        UBUNTU.title,
        "qcow2",
        "bare",
        1024,
    )
    assert set(fields.properties) <= MANAGED_PROPERTIES


def test_empty_fields_are_absent_properties() -> None:
    properties = encode(MINIMAL).properties
    assert all(properties.values())
    assert set(properties) == {
        "APPLIANCE_ID",
        "APPLIANCE_IMAGE_LIST_ID",
        "APPLIANCE_MPURI",
        "APPLIANCE_VO",
        "vmcatcher_event_ad_mpuri",
        "APPLIANCE_ATTRIBUTES",
    }
    assert json.loads(properties["APPLIANCE_ATTRIBUTES"]) == {
        "dc:identifier": "id-1",
        "ad:mpuri": "https://m/1",
        "ad:vo": "vo.example.eu",
    }


@pytest.mark.parametrize(
    "appliance",
    [
        UBUNTU,
        MINIMAL,
        evolve(MINIMAL, image=ImageFacts(uri="", checksum="", size=0, format=ImageFormat.RAW, digest="")),
        evolve(UBUNTU, title="Ébène — 日本語 🚀", description="ünïcödé " * 80, operating_system=" spaced "),
        *(evolve(UBUNTU, image=evolve(UBUNTU.image, format=f)) for f in ImageFormat if UBUNTU.image),
    ],
    ids=lambda appliance: appliance.image.format.name if appliance.image else appliance.identifier,
)
def test_decode_gives_back_exactly_what_was_encoded(appliance: Appliance) -> None:
    assert decode(encode(appliance).properties) == appliance


@pytest.mark.parametrize("missing", ["APPLIANCE_ID", "APPLIANCE_IMAGE_LIST_ID"])
def test_properties_naming_no_appliance_decode_to_none(missing: str) -> None:
    properties: dict[str, object] = dict(encode(UBUNTU).properties)
    del properties[missing]
    assert decode(properties) is None
    assert decode({**properties, missing: ""}) is None


def test_decoding_is_lenient_with_values_edited_by_hand() -> None:
    properties: dict[str, object] = {
        **encode(UBUNTU).properties,
        "APPLIANCE_RAM": "lots",
        "APPLIANCE_CORE": "-2",
        "APPLIANCE_IMAGE_FORMAT": "qcow2",
        "APPLIANCE_TITLE": 42,  # not a string: as if absent
    }
    appliance = decode(properties)
    assert appliance is not None
    assert (appliance.ram, appliance.core, appliance.title) == (0, 0, "")
    assert appliance.image is not None
    assert appliance.image.format is ImageFormat.QCOW2
    assert decode({**properties, "APPLIANCE_IMAGE_FORMAT": "floppy"}) == evolve(
        appliance, image=evolve(appliance.image, format=ImageFormat.RAW)
    )


def test_lifecycle_marks_are_read_apart_from_the_appliance() -> None:
    assert status_of({}) is None
    assert status_of({"APPLIANCE_STATUS": "ACTIVE"}) is ApplianceStatus.ACTIVE
    assert status_of({"APPLIANCE_STATUS": "EOL"}) is ApplianceStatus.EOL
    assert status_of({"APPLIANCE_STATUS": "eol?"}) is None
    assert retired_at_of({"APPLIANCE_RETIRED_AT": "1700000000"}) == 1700000000
    assert retired_at_of({"APPLIANCE_RETIRED_AT": "soon"}) is None
    assert "APPLIANCE_STATUS" not in encode(UBUNTU).properties
    assert not {"APPLIANCE_STATUS", "APPLIANCE_RETIRED_AT"} & MANAGED_PROPERTIES


def test_stale_properties_are_the_managed_ones_no_longer_written() -> None:
    current = {**encode(UBUNTU).properties, "APPLIANCE_STATUS": "ACTIVE", "hw_disk_bus": "scsi"}
    fields = encode(evolve(UBUNTU, description="", appid="", operating_system="", title="No suffix"))
    assert stale_properties(current, fields) == [
        "APPLIANCE_APPID",
        "APPLIANCE_DESCRIPTION",
        "APPLIANCE_OPERATING_SYSTEM",
        "ad:appid",
        "os_distro",
        "os_version",
        "vmcatcher_event_dc_description",
    ]


@pytest.mark.parametrize(
    ("ram", "unit", "mib"),
    [
        (0, RamUnit.AUTO, 0),
        (512, RamUnit.AUTO, 512),  # old lists give MiB
        (1048575, RamUnit.AUTO, 1048575),
        (1048576, RamUnit.AUTO, 1),
        (1073741824, RamUnit.AUTO, 1024),
        (1073741825, RamUnit.AUTO, 1025),  # rounded up, never too little memory
        (512, RamUnit.BYTES, 1),
        (2048, RamUnit.MIB, 2048),
    ],
)
def test_min_ram_is_mib_rounded_up(ram: int, unit: RamUnit, mib: int) -> None:
    assert min_ram_mib(ram, unit) == mib
    assert encode(evolve(MINIMAL, ram=ram), ram_unit=unit).min_ram == mib


@pytest.mark.parametrize(
    ("image_format", "disk", "container"),
    [
        (ImageFormat.QCOW2, "qcow2", "bare"),
        (ImageFormat.RAW, "raw", "bare"),
        (ImageFormat.VMDK, "vmdk", "bare"),
        (ImageFormat.ISO, "iso", "bare"),
        (ImageFormat.VDI, "vdi", "bare"),
        (ImageFormat.VHD, "vhd", "bare"),
        (ImageFormat.VHDX, "vhdx", "bare"),
        (ImageFormat.OVA, "vmdk", "ova"),
        (ImageFormat.OVF, "vmdk", "ovf"),
        (ImageFormat.AKI, "aki", "aki"),
        (ImageFormat.ARI, "ari", "ari"),
        (ImageFormat.AMI, "ami", "ami"),
        (ImageFormat.BARE, "raw", "bare"),
        (ImageFormat.DOCKER, "raw", "docker"),
    ],
)
def test_glance_formats(image_format: ImageFormat, disk: str, container: str) -> None:
    assert glance_formats(image_format) == GlanceFormats(disk, container)


def test_the_name_is_the_title_else_the_identifier_within_glance_limits() -> None:
    assert encode(MINIMAL).name == "id-1"
    assert encode(evolve(MINIMAL, title="t" * 300)).name == "t" * 255


def test_an_appliance_without_image_has_no_formats_and_no_image_properties() -> None:
    fields = encode(MINIMAL)
    assert (fields.disk_format, fields.container_format) == (None, None)
    assert decode(fields.properties) == MINIMAL


def test_an_expiry_beyond_the_calendar_leaves_only_the_exact_property() -> None:
    properties = encode(evolve(MINIMAL, expiration_date=2**62)).properties
    assert properties["APPLIANCE_EXPIRATION_DATE"] == str(2**62)
    assert "dc:date:expires" not in json.loads(properties["APPLIANCE_ATTRIBUTES"])


def test_characters_glance_refuses_are_stored_escaped_and_read_back() -> None:
    """Glance answers 400 to 4-byte UTF-8 characters (beyond U+FFFF) in names and properties."""
    rocket = evolve(UBUNTU, title="Ubuntu 🚀 [Ubuntu/22.04/KVM]", description="fast 🐧, «ok» — 日本")
    fields = encode(rocket)
    assert fields.name == "Ubuntu \\U0001f680 [Ubuntu/22.04/KVM]"
    assert fields.properties["APPLIANCE_DESCRIPTION"] == "fast \\U0001f427, «ok» — 日本"
    assert fields.properties["vmcatcher_event_dc_title"] == fields.name
    texts = [fields.name, *fields.properties, *fields.properties.values()]
    assert not any(ord(char) > 0xFFFF for text in texts for char in text)
    check_fields(fields)
    # JSON readers get the characters themselves back.
    attributes = json.loads(fields.properties["APPLIANCE_ATTRIBUTES"])
    assert (attributes["dc:title"], attributes["dc:description"]) == (rocket.title, rocket.description)
    assert decode(fields.properties) == rocket


def test_text_that_only_looks_escaped_is_kept() -> None:
    literal = evolve(MINIMAL, description="C:\\Users\\U, \\U00000041 and \\U0011ffff stay")
    assert decode(encode(literal).properties) == literal


def test_glance_limits_refuse_characters_glance_refuses() -> None:
    fields = encode(MINIMAL)
    with pytest.raises(CatalogRejected, match="4-byte"):
        check_fields(evolve(fields, properties={**fields.properties, "APPLIANCE_GROUP": "🚀"}))
    with pytest.raises(CatalogRejected, match="4-byte"):
        check_fields(evolve(fields, name="🚀"))
