"""A signed HEPiX image list (AppDB) as a sync source.

A run fetches the list, verifies its signature (chain to the CA directory, CRLs, exactly one
signer who is the configured endorser and the list's own hv:endorser), refuses a list older than
the last one applied, and maps it as the core 2.0 did. Any of these failing makes the source
incomplete with nothing read: nothing is added, updated or removed from it. An entry whose image
cannot be transferred as announced (unknown or excessive hv:size) is left out and makes the
source incomplete: the rest is applied, nothing is removed.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from attrs import evolve, frozen

from ckos.adapters.sources.hepix import names, smime
from ckos.adapters.sources.hepix.chain import CrlPolicy
from ckos.adapters.sources.hepix.fetch import ListFetcher
from ckos.adapters.sources.hepix.history import ListHistory
from ckos.adapters.sources.hepix.mapping import ListFacts, snapshot_from_list
from ckos.domain.errors import CkosError, SourceInvalid, SourceUnavailable
from ckos.domain.ports import ApplianceSource, Clock
from ckos.domain.snapshot import Offer, Snapshot, SourceIncomplete

log = logging.getLogger(__name__)


@frozen
class HepixSourceConfig:
    name: str
    vo: str  # "" when any VO the list names is accepted
    ca_dir: Path
    endorser_dn: str  # legacy (/K=V) or RFC 4514 form
    crl: CrlPolicy
    max_image_size: int


class HepixSource(ApplianceSource):
    def __init__(self, config: HepixSourceConfig, fetcher: ListFetcher, history: ListHistory, clock: Clock):
        self._config = config
        self._fetcher = fetcher
        self._history = history
        self._clock = clock
        self._verified: ListFacts | None = None  # the list this run read and trusted

    @property
    def name(self) -> str:
        return self._config.name

    def read(self) -> Snapshot:
        self._verified = None
        try:
            snapshot, facts = self._trusted()
        except CkosError as error:
            raise SourceIncomplete(f"source {self.name}: {error}; nothing changes for it") from None
        self._verified = facts
        offers, problems = self._transferable(snapshot)
        snapshot = evolve(snapshot, offers=offers)
        if problems:
            raise SourceIncomplete.of(self.name, problems, snapshot)
        log.info(
            "source %s: list %s (hv:version %s) from %s, %d appliances%s",
            self.name,
            facts.identifier,
            facts.version or "-",
            self._fetcher.label,
            len(offers),
            ", EXPIRED" if snapshot.expired else "",
        )
        return snapshot

    def applied(self) -> None:
        """The list read this run was applied: remember it, so that no older one is accepted later."""
        if self._verified is None:
            return
        try:
            self._history.record(self.name, self._verified)
        except OSError as error:
            message = f"source {self.name}: the applied list could not be remembered: {error}"
            raise SourceUnavailable(message) from None

    def _trusted(self) -> tuple[Snapshot, ListFacts]:
        message = self._fetcher.fetch()
        now = self._clock.now()
        verified = smime.verify(
            message,
            ca_dir=self._config.ca_dir,
            endorser_dn=self._config.endorser_dn,
            crl=self._config.crl,
            now=datetime.fromtimestamp(now, UTC),
        )
        snapshot, facts = snapshot_from_list(
            verified.content, source_name=self.name, vo=self._config.vo or None, now=now
        )
        _check_endorser(facts, verified)
        self._history.check(self.name, facts)
        return snapshot, facts

    def _transferable(self, snapshot: Snapshot) -> tuple[tuple[Offer, ...], list[str]]:
        """The offers whose image can be transferred and verified as announced; problems for the others."""
        if snapshot.expired:
            return snapshot.offers, []  # nothing is transferred from an expired list
        now = self._clock.now()
        offers: list[Offer] = []
        problems: list[str] = []
        for offer in snapshot.offers:
            appliance, image = offer.appliance, offer.appliance.image
            if image is None or appliance.expired(now):
                offers.append(offer)  # retired or skipped, never transferred
            elif image.size <= 0:
                # Every byte is verified against the announced size and SHA-512 as it streams: an
                # entry without a size could only fail after its whole download.
                problems.append(f"appliance {appliance.identifier}: no hv:size, its image cannot be verified")
            elif image.size > self._config.max_image_size:
                problems.append(
                    f"appliance {appliance.identifier}: hv:size {image.size} is more than max_image_size"
                )
            else:
                offers.append(offer)
        return tuple(offers), problems


def _check_endorser(facts: ListFacts, verified: smime.VerifiedList) -> None:
    """The list's own hv:endorser must name its signer and the signer's issuer."""
    if not facts.endorser_dn or not facts.endorser_ca:
        raise SourceInvalid("the list names no endorser (hv:endorser.hv:x509 hv:dn and hv:ca)")
    if names.parse(facts.endorser_dn) != names.parse(verified.signer_dn):
        raise SourceInvalid(
            f"the list's endorser hv:dn {facts.endorser_dn} is not its signer {verified.signer_dn}"
        )
    if names.parse(facts.endorser_ca) != names.parse(verified.signer_issuer_dn):
        raise SourceInvalid(
            f"the list's endorser hv:ca {facts.endorser_ca} is not its signer's issuer "
            f"{verified.signer_issuer_dn}"
        )
