"""Application credentials instead of a password, on the devcloud's real Keystone."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from ckos.adapters.glance.sessions import ProjectClients
from ckos.domain.errors import CatalogPermissionDenied
from support.appliances import live
from support.glance_admin import ckos_credentials
from support.glance_testbed import FEDCLOUD, OTHER, GlanceTestbed


@pytest.fixture
def application_credential(testbed: GlanceTestbed) -> Iterator[tuple[str, str]]:
    """An application credential of the ckos user, bound to the fedcloud project."""
    session = testbed.cloud.session("fedcloud.egi.eu")
    user_id = session.get_user_id()
    url = f"{testbed.cloud.keystone_url}/users/{user_id}/application_credentials"
    body = {"application_credential": {"name": f"ckos-test-{uuid.uuid4().hex[:8]}"}}
    created = session.post(url, json=body).json()["application_credential"]
    yield created["id"], created["secret"]
    session.delete(f"{url}/{created['id']}")


def test_an_application_credential_serves_its_own_project(
    testbed: GlanceTestbed, application_credential: tuple[str, str]
) -> None:
    identifier, secret = application_credential
    credentials = ckos_credentials(
        testbed.cloud,
        username="",
        password="",
        application_credential_id=identifier,
        application_credential_secret=secret,
    )
    catalog = testbed.catalog(ProjectClients(credentials))

    image_id = live(catalog, FEDCLOUD)

    assert [image.image_id for image in catalog.list_images(FEDCLOUD)] == [image_id]
    assert testbed.admin.record(image_id).owner == testbed.project_id(FEDCLOUD)


def test_an_application_credential_is_refused_for_another_project(
    testbed: GlanceTestbed, application_credential: tuple[str, str]
) -> None:
    identifier, secret = application_credential
    credentials = ckos_credentials(
        testbed.cloud, application_credential_id=identifier, application_credential_secret=secret
    )

    with pytest.raises(CatalogPermissionDenied, match="not scoped to project"):
        testbed.catalog(ProjectClients(credentials)).list_images(OTHER)


def test_a_wrong_application_credential_secret_is_refused(
    testbed: GlanceTestbed, application_credential: tuple[str, str]
) -> None:
    identifier, _ = application_credential
    credentials = ckos_credentials(
        testbed.cloud, application_credential_id=identifier, application_credential_secret="wrong"
    )

    with pytest.raises(CatalogPermissionDenied):
        testbed.catalog(ProjectClients(credentials)).list_images(FEDCLOUD)
