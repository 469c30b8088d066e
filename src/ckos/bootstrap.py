"""The composition root: builds the wired application from settings. Tests pass fakes in."""

from __future__ import annotations

from attrs import frozen

from ckos.adapters.clock import SystemClock
from ckos.adapters.glance.catalog import GlanceCatalog
from ckos.adapters.glance.migration import GlanceMigration
from ckos.adapters.glance.sessions import Credentials, ProjectClients
from ckos.adapters.image_data.local import LocalImageFiles
from ckos.adapters.image_data.remote import RemoteImageDownloads
from ckos.adapters.image_data.sources import ImageSources
from ckos.adapters.image_data.transfers import Transfers
from ckos.adapters.mapping_json import JsonVODirectory, MappingError
from ckos.adapters.memory_catalog import MemoryCatalog
from ckos.adapters.metrics import Metrics
from ckos.config import ConfigError, Settings
from ckos.domain.backend import Backend
from ckos.domain.context import Context, LifecyclePolicy
from ckos.domain.ports import Clock, ImageCatalog, ImageData, VODirectory


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
    context = Context(catalog=catalog, image_data=transfers, directory=directory, clock=clock, policy=policy)
    return Application(
        settings=settings,
        backend=Backend(context),
        directory=directory,
        catalog=catalog,
        transfers=transfers,
        metrics=Metrics(transfers),
    )


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
