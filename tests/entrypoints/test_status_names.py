import inspect

import pytest

from ckos.domain import errors
from ckos.entrypoints.grpc.status_names import (
    ERROR,
    STATUS_NAME_OF_ERROR,
    STATUS_NAMES,
    SUCCESS,
    status_name_of,
)

EXPECTED = {
    errors.InvalidRequest: "ERROR",
    errors.UnmappedVO: "ERROR_RESOURCE_NOT_FOUND",
    errors.ApplianceNotFound: "ERROR_APPLIANCE_NOT_FOUND",
    errors.TransferMismatch: "ERROR_APPLIANCE_TRANSFER",
    errors.SourceForbidden: "ERROR_APPLIANCE_TRANSFER",
    errors.SourceUnavailable: "ERROR_APPLIANCE_TRANSFER",
    errors.TransferInterrupted: "ERROR_APPLIANCE_TRANSFER",
    errors.CatalogPermissionDenied: "ERROR_AUTHENTICATION",
    errors.CatalogNotFound: "ERROR_RESOURCE_NOT_FOUND",
    errors.CatalogUnavailable: "ERROR_RESOURCE_RETRIEVAL",
    errors.CatalogRejected: "ERROR_RESOURCE_STATE",
    errors.ImageInUse: "ERROR_RESOURCE_STATE",
    errors.UnsupportedFormat: "ERROR_RESOURCE_STATE",
    errors.SourceInvalid: "ERROR_APPLIANCE_TRANSFER",
    errors.ConversionFailed: "ERROR_APPLIANCE_TRANSFER",
}

DOMAIN_ERRORS = [
    cls
    for _, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, errors.CkosError) and cls is not errors.CkosError
]


def test_every_domain_error_has_a_row() -> None:
    # A new domain error without a row would silently become a plain ERROR.
    assert set(DOMAIN_ERRORS) == set(STATUS_NAME_OF_ERROR)


@pytest.mark.parametrize("error_class", DOMAIN_ERRORS, ids=lambda cls: cls.__name__)
def test_domain_error_maps_to_its_name(error_class: type[errors.CkosError]) -> None:
    assert status_name_of(error_class("something went wrong")) == EXPECTED[error_class]


@pytest.mark.parametrize("error", [KeyError("x"), RuntimeError("bug"), errors.CkosError("base")])
def test_anything_else_is_a_plain_error(error: Exception) -> None:
    assert status_name_of(error) == ERROR


def test_a_subclass_takes_its_base_class_name() -> None:
    class Narrower(errors.CatalogUnavailable):
        pass

    assert status_name_of(Narrower("down")) == "ERROR_RESOURCE_RETRIEVAL"


def test_every_name_is_one_the_core_1x_knows_and_none_is_success() -> None:
    assert set(STATUS_NAME_OF_ERROR.values()) <= set(STATUS_NAMES)
    assert SUCCESS not in STATUS_NAME_OF_ERROR.values()
