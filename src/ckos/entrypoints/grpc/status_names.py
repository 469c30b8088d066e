"""Domain errors -> the `status` names of the core 1.x, in one table (status.py's counterpart).

The core 1.x only logs the name and `message`; the names group the errors by what an operator
looks at: the request, the appliance's transfer, the credentials, or the catalog.
"""

from __future__ import annotations

from collections.abc import Mapping

from ckos.domain import errors

SUCCESS = "SUCCESS"
ERROR = "ERROR"  # a malformed request, and anything not in the table (bugs included)

STATUS_NAME_OF_ERROR: Mapping[type[errors.CkosError], str] = {
    errors.InvalidRequest: ERROR,
    errors.UnmappedVO: "ERROR_RESOURCE_NOT_FOUND",
    errors.ApplianceNotFound: "ERROR_APPLIANCE_NOT_FOUND",
    errors.TransferMismatch: "ERROR_APPLIANCE_TRANSFER",
    errors.SourceForbidden: "ERROR_APPLIANCE_TRANSFER",
    errors.SourceUnavailable: "ERROR_APPLIANCE_TRANSFER",
    errors.TransferInterrupted: "ERROR_APPLIANCE_TRANSFER",
    errors.SourceInvalid: "ERROR_APPLIANCE_TRANSFER",  # sync sources only
    errors.ConversionFailed: "ERROR_APPLIANCE_TRANSFER",  # sync only
    # Keystone refusing the service user's credentials, or Glance refusing it an operation: the
    # domain does not tell them apart, and the credentials are the commoner cause.
    errors.CatalogPermissionDenied: "ERROR_AUTHENTICATION",
    errors.CatalogNotFound: "ERROR_RESOURCE_NOT_FOUND",
    errors.CatalogUnavailable: "ERROR_RESOURCE_RETRIEVAL",
    errors.CatalogRejected: "ERROR_RESOURCE_STATE",
    errors.ImageInUse: "ERROR_RESOURCE_STATE",
    errors.UnsupportedFormat: "ERROR_RESOURCE_STATE",
}

# Every name the core 1.x knows; ERROR_USER_NOT_AUTHORIZED is never sent (a client certificate
# outside server.tls.allowed_subjects is refused with PERMISSION_DENIED, as under every layout).
STATUS_NAMES = (
    SUCCESS,
    ERROR,
    "ERROR_APPLIANCE_NOT_FOUND",
    "ERROR_APPLIANCE_TRANSFER",
    "ERROR_AUTHENTICATION",
    "ERROR_USER_NOT_AUTHORIZED",
    "ERROR_RESOURCE_NOT_FOUND",
    "ERROR_RESOURCE_RETRIEVAL",
    "ERROR_RESOURCE_STATE",
)


def status_name_of(error: BaseException) -> str:
    """The name for an error: its own class's, else its nearest mapped base's, else ERROR."""
    for cls in type(error).__mro__:
        name = STATUS_NAME_OF_ERROR.get(cls)
        if name is not None:
            return name
    return ERROR
