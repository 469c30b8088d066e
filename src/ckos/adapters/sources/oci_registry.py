"""A synchronous client of the OCI distribution API (what EGI's Harbor speaks), over httpx only.

It reads what sync needs and nothing else: tags, a tag's manifest digest, a manifest by digest
(verified against it), and a blob streamed and verified on the fly. Everything is fetched by
digest once a tag is resolved, so a tag moving mid-run cannot mix two builds. Every failure is a
domain error naming the registry host, the repository and the reference, and never a secret.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

import httpx

from ckos.adapters.sources.oci_auth import RegistryAuth
from ckos.adapters.sources.oci_blob import VerifiedBlob
from ckos.adapters.sources.oci_manifest import MANIFEST_TYPES, OciManifest, parse_manifest
from ckos.adapters.sources.oci_references import check_digest, check_repository, check_tag, digest_of, hasher
from ckos.adapters.sources.oci_responses import (
    check_status,
    next_link,
    read_bounded,
    redacted,
    same_origin,
    tags_of,
)
from ckos.domain.errors import SourceInvalid, SourceUnavailable, TransferMismatch
from ckos.domain.ports import Readable

_ACCEPT = ", ".join(MANIFEST_TYPES)


class OciRegistry:
    """One registry (scheme, host, port); its tokens are cached for the life of the object."""

    def __init__(
        self,
        base_url: str,
        *,
        username: str = "",
        password: str = "",
        ca_bundle: Path | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        max_redirects: int = 5,
        max_manifest_bytes: int = 4 * 1024 * 1024,
        tags_page_size: int | None = None,
        max_tag_pages: int = 1000,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        try:
            url = httpx.URL(base_url)
        except httpx.InvalidURL:
            raise ValueError("the registry URL is not a valid URL") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("the registry URL must be http(s)://host[:port]")
        if url.userinfo:
            raise ValueError("the registry URL must not hold credentials: set username and password_file")
        self._origin = url.copy_with(path="/", query=None, fragment=None)
        self._base = str(url.copy_with(query=None, fragment=None)).rstrip("/")
        host = f"[{url.host}]" if ":" in url.host else url.host
        self._host = f"{host}:{url.port}" if url.port else host
        self._max_manifest_bytes = max_manifest_bytes
        self._page_size = tags_page_size
        self._max_pages = max_tag_pages
        self._auth = RegistryAuth(username=username, password=password, registry_https=url.scheme == "https")
        # Built now, so that a missing or bad CA bundle fails at start-up, not at the first pull.
        verify: ssl.SSLContext | bool = True
        if ca_bundle is not None:
            verify = ssl.create_default_context(cafile=str(ca_bundle))
        self._client = httpx.Client(
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            verify=verify,
            max_redirects=max_redirects,
            transport=transport,
            headers={"User-Agent": "cloudkeeper-os"},
        )

    def tags(self, repository: str) -> list[str]:
        """Every tag of the repository, following the registry's `Link: rel="next"` pages."""
        label = self._label(repository, "", "listing the tags")
        url = httpx.URL(f"{self._base}/v2/{repository}/tags/list")
        if self._page_size:
            url = url.copy_merge_params({"n": self._page_size})
        tags: list[str] = []
        seen: set[str] = set()
        while len(seen) < self._max_pages:
            if str(url) in seen:
                raise SourceInvalid(f"{label}: the next page loops back to a page already read")
            seen.add(str(url))
            with self._exchange("GET", url, repository, label, {"Accept": "application/json"}) as response:
                tags += tags_of(read_bounded(response, self._max_manifest_bytes, label, "tag list"), label)
                following = next_link(response, url)
            if following is None:
                return tags
            if not same_origin(following, self._origin):
                raise SourceInvalid(f"{label}: the next page is on another host ({following.host})")
            url = following
        raise SourceInvalid(f"{label}: more than {self._max_pages} pages of tags")

    def manifest_digest(self, repository: str, tag: str) -> str:
        """The digest of the manifest `tag` points to now (HEAD; GET and hash if no digest header)."""
        label = self._label(repository, f":{check_tag(tag)}", "resolving the tag")
        url = httpx.URL(f"{self._base}/v2/{repository}/manifests/{tag}")
        with self._exchange("HEAD", url, repository, label, {"Accept": _ACCEPT}) as response:
            announced = response.headers.get("Docker-Content-Digest")
        if announced:
            try:
                return check_digest(announced)
            except SourceInvalid as error:
                raise SourceInvalid(f"{label}: Docker-Content-Digest {error}") from None
        with self._exchange("GET", url, repository, label, {"Accept": _ACCEPT}) as response:
            return digest_of(read_bounded(response, self._max_manifest_bytes, label, "manifest"))

    def manifest(self, repository: str, digest: str) -> OciManifest:
        """The manifest of that digest, its bytes verified against it, parsed."""
        label = self._label(repository, f"@{check_digest(digest)}", "reading the manifest")
        url = httpx.URL(f"{self._base}/v2/{repository}/manifests/{digest}")
        with self._exchange("GET", url, repository, label, {"Accept": _ACCEPT}) as response:
            body = read_bounded(response, self._max_manifest_bytes, label, "manifest")
            media_type = response.headers.get("Content-Type", "").partition(";")[0].strip()
        if media_type not in MANIFEST_TYPES:
            raise SourceInvalid(f"{label}: served as {media_type[:100]!r}, not an image manifest")
        computed = hasher(digest)
        computed.update(body)
        if computed.hexdigest() != digest.partition(":")[2]:
            raise SourceInvalid(f"{label}: the bytes served do not match the digest")
        try:
            return parse_manifest(body, digest=digest, media_type=media_type)
        except SourceInvalid as error:
            raise SourceInvalid(f"{label}: {error}") from None

    @contextmanager
    def open_blob(self, repository: str, digest: str, size: int) -> Iterator[Readable]:
        """The blob's bytes, streamed (redirects followed) and checked against digest and size."""
        label = (
            f"registry {self._host}, {check_repository(repository)}@{check_digest(digest)}: reading the blob"
        )
        url = httpx.URL(f"{self._base}/v2/{repository}/blobs/{digest}")
        headers = {"Accept-Encoding": "identity"}
        with self._exchange("GET", url, repository, label, headers, follow_redirects=True) as response:
            announced = response.headers.get("Content-Length", "")
            if announced.isdigit() and int(announced) != size:
                raise TransferMismatch(f"{label}: {announced} bytes served, {size} announced by the manifest")
            yield VerifiedBlob(self._chunks(response, label), digest=digest, size=size, label=label)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> OciRegistry:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def _label(self, repository: str, reference: str, doing: str) -> str:
        """What messages say: `registry HOST, REPOSITORY[:TAG|@DIGEST]: DOING`."""
        return f"registry {self._host}, {check_repository(repository)}{reference}: {doing}"

    @contextmanager
    def _exchange(
        self,
        method: str,
        url: httpx.URL,
        repository: str,
        label: str,
        headers: dict[str, str],
        *,
        follow_redirects: bool = False,
    ) -> Iterator[httpx.Response]:
        """A successful streamed response, after answering one 401 (a new or refreshed token)."""
        scope = f"repository:{repository}:pull"
        try:
            authorization = self._auth.header(scope)
            response = self._send(method, url, headers, authorization, follow_redirects)
            if response.status_code == httpx.codes.UNAUTHORIZED:
                response.close()
                self._auth.forget(scope)  # a cached token that no longer works has expired
                authorization = self._auth.answer(self._client, response, scope, label)
                response = self._send(method, url, headers, authorization, follow_redirects)
            try:
                check_status(response, label, credentials=self._auth.has_credentials)
                yield response
            finally:
                response.close()
        except httpx.HTTPError as error:
            raise SourceUnavailable(f"{label}: {redacted(error, self._auth.secrets)}") from None

    def _send(
        self, method: str, url: httpx.URL, headers: dict[str, str], authorization: str | None, follow: bool
    ) -> httpx.Response:
        # The Authorization header is per request: httpx drops it on a redirect to another origin.
        extra = {"Authorization": authorization} if authorization else {}
        request = self._client.build_request(method, url, headers={**headers, **extra})
        return self._client.send(request, stream=True, follow_redirects=follow)

    def _chunks(self, response: httpx.Response, label: str) -> Iterator[bytes]:
        try:
            yield from response.iter_bytes()
        except httpx.HTTPError as error:
            raise SourceUnavailable(f"{label}: {redacted(error, self._auth.secrets)}") from None
