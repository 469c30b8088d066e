"""An image update as one request: Glance's JSON patch, written out here.

glanceclient's `images.update` reads the image before building its patch and again after
sending it: three requests for one change, where the catalog has just read the image anyway.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

MEDIA_TYPE = "application/openstack-images-v2.1-json-patch"


def image_patch(changes: Mapping[str, object], remove: Iterable[str] = ()) -> str:
    """The patch setting `changes` (attributes or properties) and removing the `remove` properties.

    Only remove properties the image has: Glance answers 409 to removing one it lacks.
    """
    operations: list[dict[str, object]] = [
        {"op": "remove", "path": _pointer(name)} for name in sorted(set(remove) - set(changes))
    ]
    # In the v2.1 patch, "add" also replaces a value already there, for attributes and
    # properties alike; "replace" would fail on a property the image lacks.
    operations += [{"op": "add", "path": _pointer(name), "value": value} for name, value in changes.items()]
    return json.dumps(operations)


def _pointer(name: str) -> str:
    # JSON pointer (RFC 6901) escaping, for a property name holding "~" or "/".
    return "/" + name.replace("~", "~0").replace("/", "~1")
