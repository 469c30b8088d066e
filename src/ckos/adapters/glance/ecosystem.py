"""Properties the rest of the EGI tooling reads (cloud-info-provider, cASO, monitoring, Nova)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime

from ckos.adapters.glance.escapes import json_storable
from ckos.adapters.glance.os_info import canonical_architecture, os_info
from ckos.domain.model import Appliance

MPURI = "vmcatcher_event_ad_mpuri"
TITLE = "vmcatcher_event_dc_title"
DESCRIPTION = "vmcatcher_event_dc_description"
ATTRIBUTES = "APPLIANCE_ATTRIBUTES"
APPID = "ad:appid"
OS_DISTRO = "os_distro"
OS_VERSION = "os_version"
ARCHITECTURE = "architecture"
OS_TYPE = "os_type"
OS_ADMIN_USER = "os_admin_user"
# Annotations of an OCI artifact that name Glance properties (fedcloud-vmi-templates writes them).
_GLANCE_ANNOTATION = "org.openstack.glance."
_FROM_ANNOTATIONS = (OS_DISTRO, OS_VERSION, ARCHITECTURE, OS_TYPE, OS_ADMIN_USER)

_VALUE_LIMIT = 65535  # bytes Glance stores in one property on MySQL (as glance/limits.py checks)

ECOSYSTEM_PROPERTIES = frozenset(
    {MPURI, TITLE, DESCRIPTION, ATTRIBUTES, APPID, OS_DISTRO, OS_VERSION, ARCHITECTURE}
)


def ecosystem_properties(appliance: Appliance) -> dict[str, str]:
    """The ecosystem's properties for the appliance; a property with no value is left out."""
    properties = {
        MPURI: appliance.mpuri,
        TITLE: appliance.title,
        DESCRIPTION: appliance.description,
        APPID: appliance.appid,
        ATTRIBUTES: _attributes_json(appliance),
        ARCHITECTURE: canonical_architecture(appliance.architecture) or "",
    }
    info = os_info(appliance.operating_system, appliance.title)
    if info is not None:
        properties[OS_DISTRO] = info.distro
        properties[OS_VERSION] = info.version
    if appliance.attributes:
        # What the source says is the ecosystem's word (the ARGO probe and cloud-info read it).
        attributes = dict(appliance.attributes)
        properties[ATTRIBUTES] = _json(attributes)
        for name in _FROM_ANNOTATIONS:
            properties[name] = attributes.get(_GLANCE_ANNOTATION + name, properties.get(name, ""))
    return {name: value for name, value in properties.items() if value}


def image_list_attributes(appliance: Appliance) -> dict[str, str]:
    """The image-list keys known for the appliance, as the image list spells them."""
    attributes = {
        "dc:identifier": appliance.identifier,
        "dc:title": appliance.title,
        "dc:description": appliance.description,
        "ad:mpuri": appliance.mpuri,
        "ad:base_mpuri": appliance.base_mpuri,
        "ad:appid": appliance.appid,
        "ad:group": appliance.group,
        "hv:version": appliance.version,
        "sl:arch": appliance.architecture,
        "ad:vo": appliance.vo,
        "dc:date:expires": _iso_utc(appliance.expiration_date),
        "hv:ram_minimum": str(appliance.ram) if appliance.ram else "",
        "hv:core_minimum": str(appliance.core) if appliance.core else "",
    }
    return {key: value for key, value in attributes.items() if value}


def _attributes_json(appliance: Appliance) -> str:
    attributes = image_list_attributes(appliance)
    text = _json(attributes)
    if len(text.encode()) > _VALUE_LIMIT:
        # A long description would make Glance refuse the image; readers also find it in
        # vmcatcher_event_dc_description.
        attributes.pop("dc:description", None)
        text = _json(attributes)
    return text


def _json(attributes: Mapping[str, str]) -> str:
    return json_storable(json.dumps(attributes, ensure_ascii=False, sort_keys=True))


def _iso_utc(timestamp: int) -> str:
    if not timestamp:
        return ""
    try:
        moment = datetime.fromtimestamp(timestamp, UTC)
    except (OverflowError, ValueError, OSError):
        return ""  # beyond what a calendar date can say; the exact value stays in APPLIANCE_EXPIRATION_DATE
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
