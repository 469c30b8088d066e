"""The planner on appliances stored in the core 1.x era: judged by version, checksum and size."""

from __future__ import annotations

import hashlib
import json

from attrs import evolve

from ckos.domain.model import Appliance, ImageFacts, ImageFormat, ImageSource, TransferMode
from ckos.domain.plan import Plan, core1_attributes, plan
from ckos.domain.snapshot import Offer, Snapshot

NOW = 1_800_000_000
LIST = "a3d1c9e2-5b7f-5e0a-9c4d-2f1e8b6a7d30"
LISTED_SHA512 = "ab" * 64
CONVERTED_SHA512 = "cd" * 64  # what the core 1.x announced: the file it converted
ENTRY = {
    "dc:identifier": "ubuntu",
    "hv:version": "2019.05.14",
    "sl:checksum:sha512": LISTED_SHA512.upper(),  # the list's spelling; the core compared strings
    "hv:size": "196616",
    "dc:title": "Ubuntu",
}


def offered(**changes: str) -> Appliance:
    """What the HEPiX source offers for ENTRY (changed as asked): core 2.0 digests."""
    entry = {**ENTRY, **changes}
    return Appliance(
        identifier="ubuntu",
        image_list_identifier=LIST,
        vo="vo.example.eu",
        mpuri="https://appdb.example.org/ubuntu",
        title=entry["dc:title"],
        version=entry["hv:version"],
        digest=sha512(entry),
        image=ImageFacts(
            uri="http://images.example.org/ubuntu.img",
            checksum=entry["sl:checksum:sha512"].lower(),
            size=int(entry["hv:size"]),
            format=ImageFormat.QCOW2,
            digest=sha512({key: entry[key] for key in ("hv:version", "sl:checksum:sha512", "hv:size")}),
        ),
    )


def sha512(value: dict[str, str]) -> str:
    return hashlib.sha512(json.dumps(value).encode()).hexdigest()


def stored_by_core1(entry: dict[str, str] | None = None) -> Appliance:
    """As the daemon stores a core 1.x AddAppliance: attributes as the digest, no image digest."""
    attributes = ENTRY if entry is None else entry
    return Appliance(
        identifier="ubuntu",
        image_list_identifier=LIST,
        vo="vo.example.eu",
        mpuri="https://appdb.example.org/ubuntu",
        title=attributes["dc:title"],
        version=attributes["hv:version"],
        digest=json.dumps(attributes, sort_keys=True, separators=(",", ":")),
        image=ImageFacts(
            uri="http://images.example.org/ubuntu.img",
            checksum=CONVERTED_SHA512,
            size=4242,
            format=ImageFormat.QCOW2,
            digest="",
        ),
    )


def image_of(appliance: Appliance) -> ImageFacts:
    assert appliance.image is not None
    return appliance.image


def planned(offer: Appliance, stored: Appliance) -> Plan:
    snapshot = Snapshot(
        source="appdb",
        image_list_identifier=LIST,
        vo="vo.example.eu",
        offers=(Offer(offer, ImageSource(TransferMode.REMOTE, "http://images.example.org/ubuntu.img")),),
    )
    return plan(snapshot, [stored], complete=True, now=NOW)


def bucket(result: Plan) -> str:
    buckets = {
        "add": result.add,
        "update_image": result.update_image,
        "update_metadata": result.update_metadata,
        "unchanged": result.unchanged,
    }
    [name] = [name for name, items in buckets.items() if items]
    return name


def test_the_same_version_checksum_and_size_is_a_metadata_update_whatever_the_stored_file() -> None:
    # The stored checksum and size are of the file the core 1.x converted: never compared.
    assert bucket(planned(offered(), stored_by_core1())) == "update_metadata"


def test_a_new_version_checksum_or_size_is_an_image_update() -> None:
    for change in (
        {"hv:version": "2019.06.05"},
        {"sl:checksum:sha512": "ef" * 64},
        {"hv:size": "196617"},
    ):
        assert bucket(planned(offered(**change), stored_by_core1())) == "update_image", change


def test_other_changes_of_the_entry_are_metadata_updates() -> None:
    assert bucket(planned(offered(**{"dc:title": "Ubuntu LTS"}), stored_by_core1())) == "update_metadata"


def test_once_back_filled_the_appliance_is_unchanged_even_if_its_image_digest_was_not_kept() -> None:
    # What the metadata update left: the offered metadata and digest, the stored image facts.
    stored = evolve(offered(), image=stored_by_core1().image)
    assert bucket(planned(offered(), stored)) == "unchanged"
    # ... and when the image digest was kept too, the core 2.0 rule holds.
    assert bucket(planned(offered(), offered())) == "unchanged"
    assert bucket(planned(offered(**{"hv:version": "2"}), offered())) == "update_image"


def test_without_attributes_or_digests_the_stored_facts_are_compared() -> None:
    bare = evolve(stored_by_core1(), digest="", image=evolve(image_of(offered()), digest=""))
    assert bucket(planned(offered(), bare)) == "update_metadata"
    converted = evolve(bare, image=stored_by_core1().image)
    assert bucket(planned(offered(), converted)) == "update_image"


def test_a_core_2_appliance_is_still_judged_by_its_digests_alone() -> None:
    stored = evolve(
        offered(), version="something else", image=evolve(image_of(offered()), checksum="0" * 128)
    )
    assert bucket(planned(offered(), stored)) == "unchanged"


def test_only_a_json_object_is_read_as_core_1_attributes() -> None:
    assert core1_attributes('{"hv:version":"1","n":2}') == {"hv:version": "1"}
    for digest in ("", "d" * 128, "[1]", "{not json", '"text"'):
        assert core1_attributes(digest) is None, digest
