"""Which Glance disk and container formats hold a file of each offered format."""

from __future__ import annotations

from attrs import frozen

from ckos.domain.model import ImageFormat


@frozen
class GlanceFormats:
    disk_format: str
    container_format: str


# OVA and OVF are containers, never disk formats; the kernel, ramdisk and machine formats are
# both at once, as Glance expects for them.
_SPECIAL = {
    ImageFormat.OVA: GlanceFormats("vmdk", "ova"),
    ImageFormat.OVF: GlanceFormats("vmdk", "ovf"),
    ImageFormat.AKI: GlanceFormats("aki", "aki"),
    ImageFormat.ARI: GlanceFormats("ari", "ari"),
    ImageFormat.AMI: GlanceFormats("ami", "ami"),
    ImageFormat.BARE: GlanceFormats("raw", "bare"),
    ImageFormat.DOCKER: GlanceFormats("raw", "docker"),
}

# Glance's own defaults for [image_format] disk_formats and container_formats.
GLANCE_DISK_FORMATS = frozenset(
    {"ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"}
)
GLANCE_CONTAINER_FORMATS = frozenset({"bare", "ovf", "ova", "aki", "ari", "ami", "docker", "compressed"})


def glance_formats(image_format: ImageFormat) -> GlanceFormats:
    """The disk and container format of an image holding a file of this format."""
    return _SPECIAL.get(image_format, GlanceFormats(image_format.value, "bare"))
