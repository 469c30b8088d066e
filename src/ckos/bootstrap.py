"""The composition root: builds the wired application from settings. Tests pass fakes in."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from attrs import frozen

from ckos.adapters.clock import SystemClock
from ckos.adapters.conversion.converter import QemuConversion
from ckos.adapters.glance.catalog import GlanceCatalog
from ckos.adapters.glance.migration import GlanceMigration
from ckos.adapters.glance.sessions import Credentials, ProjectClients
from ckos.adapters.image_data.local import LocalImageFiles
from ckos.adapters.image_data.remote import RemoteImageDownloads
from ckos.adapters.image_data.sources import ImageSources
from ckos.adapters.image_data.sync_sources import ProgressTask, SyncImageData, TransferProgress
from ckos.adapters.image_data.transfers import Transfers, TransferScope
from ckos.adapters.image_data.transfers import scope as transfer_scope
from ckos.adapters.legacy_config import LegacyConfigError, convert_legacy_config
from ckos.adapters.lock_file import LockHeld
from ckos.adapters.lock_file import held as sync_lock
from ckos.adapters.mapping_json import JsonVODirectory, MappingError
from ckos.adapters.memory_catalog import MemoryCatalog
from ckos.adapters.metrics import Metrics
from ckos.adapters.sources.hepix.fetch import ListFetcher
from ckos.adapters.sources.hepix.history import ListHistory
from ckos.adapters.sources.hepix.source import HepixSource, HepixSourceConfig
from ckos.adapters.sources.oci_manifests import ManifestCache
from ckos.adapters.sources.oci_registry import OciRegistry
from ckos.adapters.sources.oci_source import OciSource, OciSourceConfig
from ckos.adapters.sync_metrics import write as write_sync_metrics
from ckos.config import ConfigError, HepixSourceSettings, OciSourceSettings, Settings
from ckos.domain.backend import Backend
from ckos.domain.context import Context, LifecyclePolicy
from ckos.domain.listings import SharedListings
from ckos.domain.mapping import VOMapping
from ckos.domain.ports import ApplianceSource, Clock, ImageCatalog, ImageData, VODirectory
from ckos.domain.sync import Sync, SyncPolicy

# What the entrypoints use; they reach the adapters through this module only (import-linter).
__all__ = [
    "Application",
    "GlanceMigration",
    "LegacyConfigError",
    "LockHeld",
    "ProgressTask",
    "SyncApplication",
    "TransferProgress",
    "TransferScope",
    "build",
    "build_migration",
    "build_sync",
    "convert_legacy_config",
    "reload_mapping",
    "sync_lock",
    "transfer_scope",
    "write_sync_metrics",
]


@frozen
class Application:
    settings: Settings
    backend: Backend
    directory: VODirectory
    catalog: ImageCatalog
    transfers: Transfers  # every image read, interruptible per call, counted for the metrics
    metrics: Metrics  # always counted; served over HTTP only when [metrics] listen is set


def build(
    settings: Settings,
    *,
    catalog: ImageCatalog | None = None,
    image_data: ImageData | None = None,
    clock: Clock | None = None,
    directory: VODirectory | None = None,
) -> Application:
    """Wire the use cases to their adapters; anything given replaces the configured one."""
    clock = clock or SystemClock()
    directory = directory or _directory(settings)
    catalog = catalog or _catalog(settings, clock)
    # Fakes are wrapped too: tests see the same interruption and counting as the daemon.
    transfers = Transfers(image_data or _image_data(settings))
    policy = LifecyclePolicy(
        retire_grace=settings.lifecycle.retire_grace,
        stale_upload_after=settings.lifecycle.stale_upload_after,
    )
    shared = SharedListings(catalog, max_age=settings.catalog.listing_max_age)
    context = Context(catalog=shared, image_data=transfers, directory=directory, clock=clock, policy=policy)
    return Application(
        settings=settings,
        backend=Backend(context),
        directory=directory,
        catalog=catalog,
        transfers=transfers,
        metrics=Metrics(transfers),
    )


def reload_mapping(directory: VODirectory) -> tuple[Path, VOMapping] | None:
    """Read the VO mapping file again (SIGHUP): its path and the new mapping, or None when the
    mapping does not come from a file. ConfigError when it is not valid: the old one stays."""
    if not isinstance(directory, JsonVODirectory):
        return None
    try:
        return directory.path, directory.reload()
    except MappingError as error:
        raise ConfigError(str(error)) from None


def _directory(settings: Settings) -> JsonVODirectory:
    try:
        return JsonVODirectory(settings.mapping.file)
    except MappingError as error:
        raise ConfigError(str(error)) from None


def _catalog(settings: Settings, clock: Clock) -> ImageCatalog:
    """The configured catalog. Nothing connects here: sessions open on first use."""
    if settings.catalog.type == "memory":
        return MemoryCatalog(tag=settings.glance.tag, visibility=settings.glance.visibility, clock=clock.now)
    return GlanceCatalog(
        _project_clients(settings), tag=settings.glance.tag, visibility=settings.glance.visibility
    )


@frozen
class SyncApplication:
    """`cloudkeeper-os sync`: the sources to read and the use case that applies them."""

    sync: Sync
    sources: tuple[ApplianceSource, ...]
    directory: VODirectory
    conversion: QemuConversion


def build_sync(
    settings: Settings,
    policy: SyncPolicy,
    *,
    progress: TransferProgress | None = None,
    catalog: ImageCatalog | None = None,
    clock: Clock | None = None,
    directory: VODirectory | None = None,
) -> SyncApplication:
    """Wire the sync: its sources, their image data, conversion, and the same Backend as the daemon.

    A dry run keeps nothing in the work directory (no manifest is kept either).
    """
    sync = settings.sync
    clock = clock or SystemClock()
    oci = {source.name: _oci_source(settings, source, keep=not policy.dry_run) for source in sync.oci}
    hepix = tuple(_hepix_source(settings, source, clock) for source in sync.hepix)
    local = LocalImageFiles([sync.work_dir])
    # A HEPiX list's images (hv:uri) are read over http(s) without the list's token, from any host
    # the list names (its signature vouches for them; [images] remote_allowed_hosts is the core's).
    images = settings.images
    remote = RemoteImageDownloads(
        connect_timeout=images.remote_connect_timeout,
        read_timeout=images.remote_read_timeout,
        max_redirects=images.remote_max_redirects,
    )
    image_data = SyncImageData(local=local, remote=remote, oci=oci, progress=progress)
    app = build(settings, catalog=catalog, image_data=image_data, clock=clock, directory=directory)
    conversion = QemuConversion(sync.work_dir, app.transfers, timeout=sync.conversion_timeout)
    return SyncApplication(
        sync=Sync(app.backend, conversion, policy),
        sources=(*oci.values(), *hepix),
        directory=app.directory,
        conversion=conversion,
    )


def _oci_source(settings: Settings, source: OciSourceSettings, *, keep: bool) -> OciSource:
    password = (
        _secret(source.password_file, f"sync.oci {source.name}: password_file")
        if source.password_file
        else ""
    )
    try:
        registry = OciRegistry(
            source.registry,
            username=source.username,
            password=password,
            ca_bundle=source.ca_bundle,
            connect_timeout=settings.images.remote_connect_timeout,
            read_timeout=settings.images.remote_read_timeout,
            max_redirects=settings.images.remote_max_redirects,
        )
    except (ValueError, OSError) as error:
        raise ConfigError(f"sync.oci {source.name}: {error}") from None
    config = OciSourceConfig(
        name=source.name,
        host=urlsplit(source.registry).netloc,
        repositories=source.repositories,
        tags=source.tags,
        vo=source.vo,
        max_image_size=settings.sync.max_image_size,
    )
    manifests = ManifestCache(settings.sync.work_dir / "oci-manifests" if keep else None)
    return OciSource(config, registry, manifests)


def _hepix_source(settings: Settings, source: HepixSourceSettings, clock: Clock) -> HepixSource:
    token = _secret(source.token_file, f"sync.hepix {source.name}: token_file")
    images = settings.images
    try:
        fetcher = ListFetcher(
            source.url,
            token=token,
            ca_bundle=source.ca_bundle,
            connect_timeout=images.remote_connect_timeout,
            read_timeout=images.remote_read_timeout,
            max_redirects=images.remote_max_redirects,
        )
    except (ValueError, OSError) as error:  # never the URL itself: it may hold a token
        raise ConfigError(f"sync.hepix {source.name}: url or ca_bundle: {error}") from None
    config = HepixSourceConfig(
        name=source.name,
        vo=source.vo,
        ca_dir=source.ca_dir,
        endorser_dn=source.endorser_dn,
        crl=source.crl,  # type: ignore[arg-type]  # one of the choices config.py checks
        max_image_size=settings.sync.max_image_size,
    )
    return HepixSource(config, fetcher, ListHistory(settings.sync.work_dir / "hepix-state"), clock)


def _secret(path: Path | None, what: str) -> str:
    """A secret kept in a file (never in the configuration itself); empty when no file is named."""
    if path is None:
        return ""
    try:
        return path.read_text().strip()
    except OSError as error:
        raise ConfigError(f"{what}: cannot read {path}: {error.strerror}") from None


def build_migration(settings: Settings) -> GlanceMigration:
    """The adoption of the earlier cloudkeeper-os's images (Glance only)."""
    if settings.catalog.type != "glance":
        raise ConfigError("migration works on Glance only: catalog.type must be 'glance'")
    return GlanceMigration(_project_clients(settings), tag=settings.glance.tag)


def _project_clients(settings: Settings) -> ProjectClients:
    openstack = settings.openstack
    if not openstack.auth_url:
        raise ConfigError("openstack.auth_url is required when catalog.type is 'glance'")
    credentials = Credentials(
        auth_url=openstack.auth_url,
        username=openstack.username,
        password=openstack.password,
        user_domain_name=openstack.user_domain_name,
        application_credential_id=openstack.application_credential_id,
        application_credential_secret=openstack.application_credential_secret,
        region_name=openstack.region_name,
        interface=openstack.interface,
        verify=str(openstack.ca_bundle) if openstack.verify and openstack.ca_bundle else openstack.verify,
        timeout=openstack.timeout,
        endpoint_override=openstack.glance_endpoint,
    )
    return ProjectClients(credentials)


def _image_data(settings: Settings) -> ImageData:
    images = settings.images
    remote = RemoteImageDownloads(
        allowed_hosts=images.remote_allowed_hosts,
        connect_timeout=images.remote_connect_timeout,
        read_timeout=images.remote_read_timeout,
        max_redirects=images.remote_max_redirects,
        ca_bundle=images.remote_ca_bundle,
    )
    return ImageSources(local=LocalImageFiles(images.local_directories), remote=remote)
