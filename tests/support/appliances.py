"""Appliances and image data the catalog tests share (the contract suite and the Glance adapter's)."""

from __future__ import annotations

import hashlib
import io

from attrs import evolve

from ckos.domain.model import Appliance, ImageFacts, ImageFormat, ProjectRef
from ckos.domain.ports import ImageCatalog

DATA = bytes(range(256)) * 800 + b"tail"
SHA512 = hashlib.sha512(DATA).hexdigest()
IMAGE = ImageFacts(
    uri="http://127.0.0.1:8080/releases/ubuntu-18.04-server-cloudimg-amd64.img",
    checksum=SHA512,
    size=len(DATA),
    format=ImageFormat.QCOW2,
    digest="c7a11b6a" * 16,
)
UBUNTU = Appliance(
    identifier="1f6d8c2a-0b7e-5f3c-8a9d-4e2b1c7f6a05",
    image_list_identifier="a3d1c9e2-5b7f-5e0a-9c4d-2f1e8b6a7d30",
    vo="vo.example.eu",
    mpuri="https://appdb.egi.eu/store/vo/image/1f6d8c2a-0b7e-5f3c-8a9d-4e2b1c7f6a05:7341/",
    title="Image for EGI Ubuntu 18.04 [Ubuntu/18.04/KVM]",
    description="Ubuntu 18.04 LTS (Bionic Beaver) server cloud image with cloud-init",
    group="General group",
    ram=1073741824,
    core=1,
    version="2019.05.14",
    architecture="x86_64",
    operating_system="Linux Ubuntu 18.04",
    expiration_date=4082400000,
    base_mpuri="https://appdb.egi.eu/store/vm/image/1f6d8c2a-0b7e-5f3c-8a9d-4e2b1c7f6a05:7341/",
    appid="1017",
    digest="9574cb46" * 16,
    image=IMAGE,
)
CENTOS = Appliance(
    identifier="7c3e5a1b-9d2f-5e4a-b6c8-0a1d3f5e7b92",
    image_list_identifier=UBUNTU.image_list_identifier,
    vo="vo.example.eu",
    mpuri="https://appdb.egi.eu/store/vo/image/7c3e5a1b-9d2f-5e4a-b6c8-0a1d3f5e7b92:7288/",
    title="Image for EGI CentOS 7 [CentOS/7/KVM]",
    image=evolve(IMAGE, uri="http://127.0.0.1:8080/centos-7.qcow2"),
)


def uploaded(catalog: ImageCatalog, project: ProjectRef, appliance: Appliance = UBUNTU) -> str:
    image_id = catalog.create_image(project, appliance)
    catalog.upload(project, image_id, io.BytesIO(DATA))
    return image_id


def live(catalog: ImageCatalog, project: ProjectRef, appliance: Appliance = UBUNTU) -> str:
    image_id = uploaded(catalog, project, appliance)
    catalog.mark_active(project, image_id)
    return image_id
