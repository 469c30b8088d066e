"""Glance and Keystone errors translated, at the boundary, into the domain's."""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

from glanceclient import exc as glance_exc
from keystoneauth1 import exceptions as ks_exc

from ckos.domain.errors import (
    CatalogNotFound,
    CatalogPermissionDenied,
    CatalogRejected,
    CatalogUnavailable,
    CkosError,
)

_HTTP_CODES: dict[int, type[CkosError]] = {
    400: CatalogRejected,
    401: CatalogPermissionDenied,
    403: CatalogPermissionDenied,
    404: CatalogNotFound,
    409: CatalogRejected,
    413: CatalogRejected,
    415: CatalogRejected,
}


def _http_error(status: int, doing: str, who: str, details: str, conflict: type[CkosError]) -> CkosError:
    error = conflict if status == 409 else _HTTP_CODES.get(status)
    error = error or (CatalogUnavailable if status >= 500 else CatalogRejected)
    return error(f"{doing}: {who} answered HTTP {status}: {details[:300]}")


@contextmanager
def translated(doing: str, *, conflict: type[CkosError] = CatalogRejected) -> Iterator[None]:
    """Run a Glance or Keystone call; raise domain errors that say what was being done.

    `conflict` is what HTTP 409 means here: on delete, Glance's way of saying "in use".
    """
    try:
        yield
    except CkosError:
        raise
    except glance_exc.HTTPException as error:
        status = getattr(error, "code", None)
        code = int(status) if isinstance(status, int) else 500
        raise _http_error(code, doing, "Glance", str(error.details), conflict) from error
    # Before HttpError, of which Unauthorized is one.
    except (ks_exc.Unauthorized, ks_exc.AuthorizationFailure) as error:
        raise CatalogPermissionDenied(f"{doing}: Keystone refused the credentials: {error}") from error
    except ks_exc.HttpError as error:
        # glanceclient asks keystoneauth not to raise on HTTP errors: these come from Keystone.
        status = error.http_status or 500
        raise _http_error(status, doing, "Keystone", str(error.message), conflict) from error
    except (
        ks_exc.ConnectionError,
        ks_exc.DiscoveryFailure,
        ks_exc.CatalogException,
        ks_exc.RequestTimeout,
        glance_exc.CommunicationError,
        glance_exc.InvalidEndpoint,
    ) as error:
        raise CatalogUnavailable(
            f"{doing}: cannot reach OpenStack: {type(error).__name__}: {error}"
        ) from error
    except ks_exc.ClientException as error:
        raise CatalogUnavailable(f"{doing}: OpenStack error: {type(error).__name__}: {error}") from error
    except TypeError as error:  # glanceclient's schema validation of values it would send
        raise CatalogRejected(f"{doing}: Glance's image schema refuses a value: {error}") from error
    except AttributeError as error:
        # glanceclient reads any JSON error body as Glance's own shape and trips over others
        # (a proxy's, a load balancer's). Only that is translated: our own bugs stay bugs.
        if not _raised_in_glanceclient(error):
            raise
        raise CatalogUnavailable(f"{doing}: could not read the error answer of Glance: {error}") from error


def _raised_in_glanceclient(error: BaseException) -> bool:
    frames = traceback.extract_tb(error.__traceback__)
    return bool(frames) and f"{os.sep}glanceclient{os.sep}" in frames[-1].filename
