"""Domain errors -> gRPC status codes, in one table. Nothing may ever surface as UNKNOWN."""

from __future__ import annotations

from collections.abc import Mapping

import grpc

from ckos.domain import errors

STATUS_OF_ERROR: Mapping[type[errors.CkosError], grpc.StatusCode] = {
    errors.InvalidRequest: grpc.StatusCode.INVALID_ARGUMENT,
    errors.UnmappedVO: grpc.StatusCode.FAILED_PRECONDITION,
    errors.ApplianceNotFound: grpc.StatusCode.NOT_FOUND,
    errors.TransferMismatch: grpc.StatusCode.FAILED_PRECONDITION,
    errors.UnsupportedFormat: grpc.StatusCode.FAILED_PRECONDITION,
    errors.SourceForbidden: grpc.StatusCode.PERMISSION_DENIED,
    errors.SourceUnavailable: grpc.StatusCode.UNAVAILABLE,
    errors.CatalogUnavailable: grpc.StatusCode.UNAVAILABLE,
    errors.CatalogPermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.CatalogNotFound: grpc.StatusCode.NOT_FOUND,
    errors.ImageInUse: grpc.StatusCode.FAILED_PRECONDITION,
    errors.CatalogRejected: grpc.StatusCode.FAILED_PRECONDITION,
    # Cancelled by the core, or cut short by a stopping daemon: worth trying again later.
    errors.TransferInterrupted: grpc.StatusCode.UNAVAILABLE,
    # Raised by the sync sources only; mapped so that no domain error can ever be UNKNOWN.
    errors.SourceInvalid: grpc.StatusCode.FAILED_PRECONDITION,
    errors.ConversionFailed: grpc.StatusCode.FAILED_PRECONDITION,
}


def status_of(error: BaseException) -> grpc.StatusCode:
    """The code for an error: its own class's, else its nearest mapped base's, else INTERNAL."""
    for cls in type(error).__mro__:
        code = STATUS_OF_ERROR.get(cls)
        if code is not None:
            return code
    return grpc.StatusCode.INTERNAL
