"""Domain errors. The gRPC entrypoint maps each to a status code in one table."""


class CkosError(Exception):
    """Base of every error ckos reports to the core."""


class InvalidRequest(CkosError):
    """The request is malformed or incomplete; nothing was changed."""


class UnmappedVO(CkosError):
    """The VO has no project in the mapping."""


class ApplianceNotFound(CkosError):
    """No live image holds the appliance."""


class TransferMismatch(CkosError):
    """The bytes read do not match the announced checksum or size."""


class UnsupportedFormat(CkosError):
    """The catalog does not offer the image's format."""


class SourceForbidden(CkosError):
    """The image source may not be read (path outside the allowed directories, host not allowed)."""


class SourceUnavailable(CkosError):
    """The image source could not be read (missing file, network error, HTTP error)."""


class CatalogUnavailable(CkosError):
    """The catalog (Glance or Keystone) cannot be reached or failed."""


class CatalogPermissionDenied(CkosError):
    """The catalog refused our credentials or the operation."""


class CatalogNotFound(CkosError):
    """The catalog has no such image."""


class ImageInUse(CkosError):
    """The catalog refuses to delete an image that is still in use."""


class CatalogRejected(CkosError):
    """The catalog refused the request as invalid (e.g. a value it does not accept)."""


class TransferInterrupted(CkosError):
    """The transfer was stopped: its call was cancelled, or the daemon is shutting down."""


class SourceInvalid(CkosError):
    """A sync source answered, but what it holds is malformed, untrusted or fails verification."""


class ConversionFailed(CkosError):
    """An image could not be converted to the format the site wants (or is unsafe to convert)."""
