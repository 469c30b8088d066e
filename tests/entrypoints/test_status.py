import inspect

import grpc
import pytest

from ckos.domain import errors
from ckos.entrypoints.grpc.status import STATUS_OF_ERROR, status_of

EXPECTED = {
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
    errors.TransferInterrupted: grpc.StatusCode.UNAVAILABLE,
    errors.SourceInvalid: grpc.StatusCode.FAILED_PRECONDITION,
    errors.ConversionFailed: grpc.StatusCode.FAILED_PRECONDITION,
}

DOMAIN_ERRORS = [
    cls
    for _, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, errors.CkosError) and cls is not errors.CkosError
]


def test_every_domain_error_has_a_row() -> None:
    # A new domain error without a row would silently become INTERNAL.
    assert set(DOMAIN_ERRORS) == set(STATUS_OF_ERROR)


@pytest.mark.parametrize("error_class", DOMAIN_ERRORS, ids=lambda cls: cls.__name__)
def test_domain_error_maps_to_its_code(error_class: type[errors.CkosError]) -> None:
    assert status_of(error_class("something went wrong")) is EXPECTED[error_class]


@pytest.mark.parametrize(
    "error", [KeyError("x"), RuntimeError("bug"), ValueError("bad"), errors.CkosError("base")]
)
def test_anything_else_is_internal(error: Exception) -> None:
    assert status_of(error) is grpc.StatusCode.INTERNAL


def test_a_subclass_takes_its_base_class_code() -> None:
    class Narrower(errors.CatalogUnavailable):
        pass

    assert status_of(Narrower("down")) is grpc.StatusCode.UNAVAILABLE


def test_no_row_is_unknown_or_ok() -> None:
    assert not {grpc.StatusCode.UNKNOWN, grpc.StatusCode.OK} & set(STATUS_OF_ERROR.values())
