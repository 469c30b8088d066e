"""What Glance refuses to store, checked before asking it, so nothing half-written is left behind."""

from __future__ import annotations

from ckos.adapters.glance.escapes import refused
from ckos.adapters.glance.properties import ImageFields
from ckos.domain.errors import CatalogRejected

NAME_LIMIT = 255  # Glance's image schema
KEY_LIMIT = 255  # Glance's image_properties.name column
MIN_RAM_LIMIT = 2**31 - 1  # min_ram is a 32-bit integer column
VALUE_LIMIT = 65535  # bytes: image_properties.value is TEXT on the usual MySQL database


def check_fields(fields: ImageFields) -> None:
    """Raise CatalogRejected, naming what is wrong, for fields Glance would refuse."""
    if len(fields.name) > NAME_LIMIT:
        raise CatalogRejected(f"image name longer than {NAME_LIMIT} characters")
    if not 0 <= fields.min_ram <= MIN_RAM_LIMIT:
        raise CatalogRejected(f"min_ram {fields.min_ram} MiB is out of Glance's range")
    for name, value in fields.properties.items():
        if len(name) > KEY_LIMIT or len(value.encode()) > VALUE_LIMIT:
            raise CatalogRejected(f"property {name[:40]} is longer than Glance stores")
    # The codec escapes such characters; this keeps the fake as strict as Glance if it did not.
    texts = [fields.name, *fields.properties, *fields.properties.values()]
    if any(refused(text) for text in texts):
        raise CatalogRejected("Glance refuses 4-byte UTF-8 characters in image names and properties")
