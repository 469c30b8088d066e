"""The TOML configuration: its schema as attrs classes, loaded and validated in one place."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin

import tomli
from attrs import field, fields, frozen, has, resolve_types

from ckos.config.errors import ConfigError
from ckos.config.sync import (
    CRL_CHOICES,
    SYNC_FORMATS,
    HepixSourceSettings,
    OciSourceSettings,
    SyncSettings,
    check_sync,
)

__all__ = [
    "SYNC_FORMATS",
    "ConfigError",
    "HepixSourceSettings",
    "OciSourceSettings",
    "Settings",
    "SyncSettings",
    "documented_options",
    "load",
    "parse",
]

T = TypeVar("T")


@frozen
class TLSSettings:
    certificate: Path | None = None  # TLS is on when set
    key: Path | None = None
    client_ca: Path | None = None
    allowed_subjects: tuple[str, ...] = ()


@frozen
class ServerSettings:
    listen: str = "127.0.0.1:50051"
    allow_insecure_remote: bool = False
    shutdown_grace: float = 30.0
    health_interval: float = 30.0  # seconds between checks of every mapped project; 0 = off
    protocol: str = "core-2.0"  # the wire layout of the core: one of PROTOCOLS
    tls: TLSSettings = TLSSettings()


@frozen
class MappingSettings:
    file: Path = Path("/etc/cloudkeeper-os/mapping.json")


@frozen
class ImageSettings:
    local_directories: tuple[Path, ...] = (Path("/var/spool/cloudkeeper/images"),)
    remote_allowed_hosts: tuple[str, ...] = ()
    remote_connect_timeout: float = 10.0
    remote_read_timeout: float = 60.0
    remote_max_redirects: int = 5
    remote_ca_bundle: Path | None = None


@frozen
class CatalogSettings:
    type: str = "glance"  # "glance", or "memory" for a throwaway in-memory catalog
    listing_max_age: float = 30.0  # seconds a project's listing is shared by this process's calls


@frozen
class GlanceSettings:
    tag: str = "cloudkeeper-os"
    visibility: str = "private"


@frozen
class OpenStackSettings:
    auth_url: str = ""
    username: str = ""
    password: str = field(default="", repr=False)
    user_domain_name: str = "Default"
    application_credential_id: str = ""
    application_credential_secret: str = field(default="", repr=False)
    region_name: str = ""
    interface: str = "public"
    verify: bool = True
    ca_bundle: Path | None = None
    timeout: float = 60.0
    glance_endpoint: str = ""  # Glance's URL, instead of the one Keystone's catalog names


@frozen
class LifecycleSettings:
    retire_grace: int = 0
    stale_upload_after: int = 86400


@frozen
class LoggingSettings:
    level: str = "INFO"
    format: str = "text"


@frozen
class MetricsSettings:
    listen: str | None = None  # absent = metrics off


@frozen
class Settings:
    server: ServerSettings = ServerSettings()
    mapping: MappingSettings = MappingSettings()
    images: ImageSettings = ImageSettings()
    catalog: CatalogSettings = CatalogSettings()
    glance: GlanceSettings = GlanceSettings()
    openstack: OpenStackSettings = OpenStackSettings()
    lifecycle: LifecycleSettings = LifecycleSettings()
    logging: LoggingSettings = LoggingSettings()
    metrics: MetricsSettings = MetricsSettings()
    sync: SyncSettings = SyncSettings()  # noqa: RUF009  (frozen: one shared default is fine)


VISIBILITIES = ("private", "shared", "community", "public")
# The wire layouts (ckos.entrypoints.grpc.protocols): core 2.0, the core 1.x, the 2019 proto file.
PROTOCOLS = ("core-2.0", "core-1", "proto-2019")
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL")
_CHOICES: dict[str, tuple[str, ...]] = {
    "catalog.type": ("glance", "memory"),
    "glance.visibility": VISIBILITIES,
    "logging.level": LOG_LEVELS,
    "logging.format": ("text", "json"),
    "openstack.interface": ("public", "internal", "admin"),
    "server.protocol": PROTOCOLS,
    "crl": CRL_CHOICES,
}


def load(path: Path) -> Settings:
    """Read and validate the configuration file; relative paths are taken from its folder."""
    try:
        with path.open("rb") as stream:
            raw = tomli.load(stream)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror}") from None
    except tomli.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    return parse(raw, base=path.parent, origin=str(path))


def parse(raw: Mapping[str, Any], *, base: Path, origin: str = "configuration") -> Settings:
    settings = _build(Settings, raw, "", base, origin)
    _check_listen(settings.server.listen, "server.listen", origin)
    if settings.metrics.listen is not None:
        _check_listen(settings.metrics.listen, "metrics.listen", origin)
    tls = settings.server.tls
    if tls.certificate is not None and (tls.key is None or tls.client_ca is None):
        raise ConfigError(f"{origin}: server.tls needs key and client_ca along with certificate")
    if not settings.glance.tag:
        raise ConfigError(f"{origin}: glance.tag must not be empty")
    check_sync(settings.sync, origin)
    return settings


def documented_options() -> dict[str, object]:
    """Every option as "section.key" with its default, for checking the documented sample."""
    options: dict[str, object] = {}

    def walk(cls: type[Any], prefix: str) -> None:
        resolve_types(cls)
        for attribute in fields(cls):
            name = f"{prefix}{attribute.name}"
            if has(attribute.type):
                walk(attribute.type, f"{name}.")
            elif _is_table_list(attribute.type):  # [[sync.oci]]: each table's keys
                walk(get_args(attribute.type)[0], f"{name}.")
            else:
                options[name] = attribute.default

    walk(Settings, "")
    return options


def _build(cls: type[T], raw: object, prefix: str, base: Path, origin: str) -> T:
    where = prefix.rstrip(".") or "top level"
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{origin}: [{where}] must be a table")
    resolve_types(cls)  # type: ignore[type-var]
    known = {attribute.name: attribute for attribute in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ConfigError(f"{origin}: unknown option(s) in [{where}]: {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for name, value in raw.items():
        kind = known[name].type
        key = f"{prefix}{name}"
        if has(kind):
            values[name] = _build(kind, value, f"{key}.", base, origin)
        elif _is_table_list(kind):
            if not isinstance(value, list):
                raise ConfigError(f"{origin}: {key} must be a list of tables ([[{key}]])")
            item = get_args(kind)[0]
            values[name] = tuple(
                _build(item, entry, f"{key}[{n}].", base, origin) for n, entry in enumerate(value)
            )
        else:
            values[name] = _convert(kind, value, key, base, origin)
    return cls(**values)


def _convert(kind: Any, value: object, key: str, base: Path, origin: str) -> object:
    def wrong(expected: str) -> ConfigError:
        return ConfigError(f"{origin}: {key} must be {expected}, not {value!r}")

    if kind in (Path | None, Path):
        return _path(kind, value, base, wrong)
    if kind == tuple[Path, ...] or kind == tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
            raise wrong("a list of non-empty strings")
        return tuple(base / item for item in value) if kind == tuple[Path, ...] else tuple(value)
    if kind is bool:
        if not isinstance(value, bool):
            raise wrong("true or false")
        return value
    if kind is int or kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise wrong("a non-negative number")
        if kind is int and not isinstance(value, int):
            raise wrong("a whole number")
        return kind(value)
    if not isinstance(value, str):
        raise wrong("a string")
    choices = _CHOICES.get(key) or _CHOICES.get(key.rpartition(".")[2] if "[" in key else "")
    if choices is not None:
        value = value.upper() if key == "logging.level" else value
        if value not in choices:
            raise wrong(f"one of {', '.join(choices)}")
    return value


def _path(kind: Any, value: object, base: Path, wrong: Callable[[str], ConfigError]) -> Path | None:
    if kind == Path | None and value == "":
        return None  # the sample spells an unset optional path as ""
    if not isinstance(value, str) or not value:
        raise wrong("a path")
    return base / Path(value).expanduser()


def _is_table_list(kind: Any) -> bool:
    arguments = get_args(kind)
    return (
        get_origin(kind) is tuple and len(arguments) == 2 and arguments[1] is Ellipsis and has(arguments[0])
    )


def _check_listen(listen: str, key: str, origin: str) -> None:
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{origin}: {key} must be HOST:PORT, not {listen!r}")
