"""A verified HEPiX image list -> the domain's Snapshot, with the fields the core 2.0 derives.

Every value is what the Cloudkeeper core 2.0 would send for the same list (its `to_s`, `to_i`,
`strip` and digests), so that a site switching from the core keeps its images. Dates are read as
UTC. A list the sync cannot trust as a whole raises SourceInvalid: nothing is then removed.
"""

from __future__ import annotations

from collections.abc import Mapping

from attrs import frozen

from ckos.adapters.sources.hepix.digests import appliance_digest, appliance_hash, image_digest, parse_json
from ckos.adapters.sources.hepix.ruby import JsonValue, blank, strip, to_i, to_s, unix_time
from ckos.domain.errors import SourceInvalid
from ckos.domain.model import Appliance, ImageFacts, ImageFormat, ImageSource, TransferMode
from ckos.domain.snapshot import Offer, Snapshot

# What the core refuses a list without (it fails the whole list on one bad entry).
REQUIRED_IMAGE_KEYS = ("dc:identifier", "ad:mpuri", "hv:uri", "sl:checksum:sha512")
CLOCK_SKEW = 300  # seconds a list may seem to come from the future
INT32 = range(-(2**31), 2**31)
INT64 = range(-(2**63), 2**63)


@frozen
class ListFacts:
    """What the freshness, anti-rollback and endorser checks need to know about the list."""

    identifier: str  # dc:identifier
    version: str  # hv:version ("" when absent)
    created: int  # dc:date:created, Unix seconds
    expires: int  # dc:date:expires, Unix seconds
    endorser_dn: str  # hv:endorser.hv:x509.hv:dn ("" when absent)
    endorser_ca: str  # hv:endorser.hv:x509.hv:ca ("" when absent)
    uri: str  # hv:uri, where the list says it is published ("" when absent)


def snapshot_from_list(
    content: bytes, *, source_name: str, vo: str | None, now: int
) -> tuple[Snapshot, ListFacts]:
    """The appliances of a verified list (the signed content) and the facts about the list.

    `vo`, when given, must be the list's `ad:vo`. Raises SourceInvalid for a list that is not
    an image list, lacks what the core requires, or claims to be created in the future.
    """
    document = parse_json(content)
    body = _object(document.get("hv:imagelist") if isinstance(document, dict) else None, "hv:imagelist")
    facts = _list_facts(body, now)
    list_vo = _required(body, "ad:vo", "the list")
    if vo is not None and list_vo != vo:
        raise SourceInvalid(f"the list is for VO {list_vo!r}, not {vo!r}")
    endorser = _object(body.get("hv:endorser", {}), "hv:endorser")
    x509 = _object(endorser.get("hv:x509", {}), "hv:endorser.hv:x509")
    entries = body.get("hv:images")
    if not isinstance(entries, list):
        raise SourceInvalid("the list has no hv:images array")
    offers: dict[str, Offer] = {}
    for position, item in enumerate(entries):
        image = _object(
            item.get("hv:image") if isinstance(item, dict) else None, f"hv:images[{position}].hv:image"
        )
        merged = appliance_hash(image, vo=body["ad:vo"], list_identifier=body["dc:identifier"], x509=x509)
        offer = _offer(
            merged, list_vo=list_vo, list_identifier=facts.identifier, where=f"hv:images[{position}]"
        )
        # The core keys its appliances by identifier: a repeated one replaces the earlier entry.
        offers[offer.appliance.identifier] = offer
    snapshot = Snapshot(
        source=source_name,
        image_list_identifier=facts.identifier,
        vo=list_vo,
        offers=tuple(offers.values()),
        expired=facts.expires <= now,
    )
    return snapshot, facts


def _list_facts(body: Mapping[str, JsonValue], now: int) -> ListFacts:
    identifier = _required(body, "dc:identifier", "the list")
    expires = unix_time(_required(body, "dc:date:expires", "the list"), "the list's dc:date:expires")
    created = unix_time(_required(body, "dc:date:created", "the list"), "the list's dc:date:created")
    if created > now + CLOCK_SKEW:
        raise SourceInvalid(f"the list claims to be created in the future ({to_s(body['dc:date:created'])})")
    endorser = body.get("hv:endorser")
    x509 = endorser.get("hv:x509") if isinstance(endorser, dict) else None
    x509 = x509 if isinstance(x509, dict) else {}
    return ListFacts(
        identifier=identifier,
        version=to_s(body.get("hv:version"), "the list's hv:version"),
        created=created,
        expires=expires,
        endorser_dn=to_s(x509.get("hv:dn"), "hv:dn"),
        endorser_ca=to_s(x509.get("hv:ca"), "hv:ca"),
        uri=to_s(body.get("hv:uri"), "the list's hv:uri"),
    )


def _offer(entry: Mapping[str, JsonValue], *, list_vo: str, list_identifier: str, where: str) -> Offer:
    for key in REQUIRED_IMAGE_KEYS:
        _required(entry, key, where)
    identifier = to_s(entry["dc:identifier"], f"{where}.dc:identifier")

    def text(key: str) -> str:
        return to_s(entry.get(key), f"{identifier}: {key}")

    # The core joins the three parts with a space, stripping (Ruby's strip) after each join.
    system = strip(text("sl:os"))
    system = strip(f"{system} {text('sl:osname')}")
    system = strip(f"{system} {text('sl:osversion')}")
    expires = entry.get("dc:date:expires")
    uri = text("hv:uri")
    facts = ImageFacts(
        uri=uri,
        checksum=text("sl:checksum:sha512").lower(),
        size=_size(entry.get("hv:size")),
        format=image_format(entry.get("hv:format")),
        digest=image_digest(entry),
    )
    appliance = Appliance(
        identifier=identifier,
        image_list_identifier=list_identifier,
        vo=list_vo,
        mpuri=text("ad:mpuri"),
        title=text("dc:title"),
        description=text("dc:description"),
        group=text("ad:group"),
        ram=_number(entry, "hv:ram_minimum", identifier, INT64),
        core=_number(entry, "hv:core_minimum", identifier, INT32),
        version=text("hv:version"),
        architecture=text("sl:arch"),
        operating_system=system,
        # Missing means never (the core refused such a list; atrope took it as long expired).
        expiration_date=0 if blank(expires) else unix_time(expires, f"{identifier}: dc:date:expires"),
        base_mpuri=text("ad:base_mpuri"),
        appid=text("ad:appid"),
        digest=appliance_digest(entry),
        image=facts,
    )
    # Image files are public: the core fetched them without credentials, and the AppDB token
    # (for the list only) must never reach the hosts the images are published on.
    return Offer(appliance=appliance, source=ImageSource(mode=TransferMode.REMOTE, location=uri))


def image_format(value: JsonValue) -> ImageFormat:
    """The format the list announces (`hv:format`, any case); RAW when absent or unknown.

    Only a hint: the core ignored it and recognised the downloaded file (`file -b`), and the
    sync's conversion inspects the file before anything is converted or uploaded.
    """
    name = value.strip().upper() if isinstance(value, str) else ""
    return ImageFormat[name] if name in ImageFormat.__members__ else ImageFormat.RAW


def _size(value: JsonValue) -> int:
    # The core never read hv:size (it announced the size of the file it downloaded), so a
    # value that is no byte count is only unknown (0), not a reason to refuse the list.
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return 0
    size = to_i(value, "hv:size")
    return size if size in INT64 and size > 0 else 0


def _number(entry: Mapping[str, JsonValue], key: str, identifier: str, allowed: range) -> int:
    number = to_i(entry.get(key), f"{identifier}: {key}")
    if number not in allowed:
        raise SourceInvalid(f"{identifier}: {key} {number} is out of range")
    return number


def _required(body: Mapping[str, JsonValue], key: str, where: str) -> str:
    value = body.get(key)
    if blank(value):
        raise SourceInvalid(f"{where} has no {key}")
    return to_s(value, f"{where}: {key}")


def _object(value: JsonValue, name: str) -> dict[str, JsonValue]:
    if not isinstance(value, dict):
        raise SourceInvalid(f"{name} is missing or not a JSON object")
    return value
