"""The [sync] section and its source tables ([[sync.oci]], [[sync.hepix]]), and their checks."""

from __future__ import annotations

import re
from pathlib import Path

from attrs import frozen

from ckos.config.errors import ConfigError

# Formats qemu-img writes, which a site may want its images in ([sync] formats).
SYNC_FORMATS = ("raw", "qcow2", "vmdk", "vdi")
CRL_CHOICES = ("required", "if-present", "off")


@frozen
class OciSourceSettings:
    """One `[[sync.oci]]` table: repositories of an OCI registry."""

    name: str = ""
    registry: str = ""
    repositories: tuple[str, ...] = ()
    tags: str = ""  # regular expression over tags; empty: every tag
    vo: str = ""
    username: str = ""
    password_file: Path | None = None
    ca_bundle: Path | None = None


@frozen
class HepixSourceSettings:
    """One `[[sync.hepix]]` table: a signed HEPiX image list."""

    name: str = ""
    url: str = ""
    token_file: Path | None = None
    vo: str = ""
    ca_dir: Path = Path("/etc/grid-security/certificates")
    endorser_dn: str = ""
    crl: str = "required"  # required | if-present | off
    ca_bundle: Path | None = None


@frozen
class SyncSettings:
    work_dir: Path = Path("/var/cache/cloudkeeper-os")
    lock_file: Path = Path("/run/cloudkeeper-os/sync.lock")
    parallel: int = 2
    formats: tuple[str, ...] = ()  # disk formats the site wants, preferred first; () = as offered
    max_removals: int = 20
    max_removal_fraction: float = 0.5
    metrics_file: Path | None = None
    max_image_size: int = 64 * 1024**3  # bytes: a larger image (layer, list entry) is refused
    conversion_timeout: float = 3600.0  # seconds one qemu-img conversion may take
    oci: tuple[OciSourceSettings, ...] = ()
    hepix: tuple[HepixSourceSettings, ...] = ()


def check_sync(sync: SyncSettings, origin: str) -> None:
    """What the loader's types cannot say about [sync] and its source tables."""
    unknown = [name for name in sync.formats if name not in SYNC_FORMATS]
    if unknown:
        wanted = ", ".join(unknown)
        raise ConfigError(f"{origin}: sync.formats: {wanted} not one of {', '.join(SYNC_FORMATS)}")
    if sync.parallel < 1:
        raise ConfigError(f"{origin}: sync.parallel must be at least 1")
    if sync.max_removal_fraction > 1:
        raise ConfigError(f"{origin}: sync.max_removal_fraction must be between 0 and 1")
    for n, oci in enumerate(sync.oci):
        _check_oci(oci, f"{origin}: sync.oci[{n}]")
    for n, hepix in enumerate(sync.hepix):
        _check_hepix(hepix, f"{origin}: sync.hepix[{n}]")
    names = [source.name for source in sync.oci] + [source.name for source in sync.hepix]
    doubled = sorted({name for name in names if names.count(name) > 1})
    if doubled:
        raise ConfigError(f"{origin}: sync source names must differ: {', '.join(doubled)} used twice")


def _check_oci(oci: OciSourceSettings, where: str) -> None:
    _require(oci, ("name", "registry", "vo"), where)
    if not oci.repositories:
        raise ConfigError(f"{where}.repositories must name at least one repository")
    if not oci.registry.startswith(("https://", "http://")):
        raise ConfigError(f"{where}.registry must be an http(s):// URL, not {oci.registry!r}")
    if "@" in oci.registry:
        raise ConfigError(f"{where}.registry must not hold credentials: use password_file")
    if bool(oci.username) != (oci.password_file is not None):
        raise ConfigError(f"{where}: username and password_file go together")
    try:
        re.compile(oci.tags)
    except re.error as error:
        raise ConfigError(f"{where}.tags is not a regular expression: {error}") from None


def _check_hepix(hepix: HepixSourceSettings, where: str) -> None:
    _require(hepix, ("name", "url", "endorser_dn"), where)
    if not hepix.url.startswith(("https://", "http://")):
        raise ConfigError(f"{where}.url must be an http(s):// URL")
    if "@" in hepix.url.split("/")[2]:  # never echo the URL: it holds a secret
        raise ConfigError(f"{where}.url must not hold credentials: use token_file")
    if hepix.token_file is not None and not hepix.url.startswith("https://"):
        raise ConfigError(f"{where}: a token is sent over https only, and url is http")


def _require(table: object, keys: tuple[str, ...], where: str) -> None:
    missing = [key for key in keys if not getattr(table, key)]
    if missing:
        raise ConfigError(f"{where} needs {', '.join(missing)}")
