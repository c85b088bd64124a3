"""The organisation directory in the router's event store: publishing an edition, and the
edition a running router uses.

Each published edition is a `DirectoryVersion` (version 1, 2, 3… without gaps). A router
publishes its packaged file when it starts, if that content was never published (a new
deploy); `python -m eungdapso_router directory publish FILE` publishes any file at run time.
Every running router checks for a newer version every `directory_poll_interval_s` seconds
(one indexed read that finds nothing when nothing changed) and switches to it between two
reads: `LiveDirectory.current` is always one whole, validated edition.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from datetime import datetime

from eventsourcing.persistence import IntegrityError

from eungdapso_platform.domain import acting_as
from eungdapso_platform.logging import get_logger
from eungdapso_router.application import RouterApplication
from eungdapso_router.directory import Directory, DirectoryError, directory_from_records
from eungdapso_router.domainmodel import DirectoryVersion, directory_version_id

log = get_logger("eungdapso.router.directory")

#: How often publishing tries again when another publisher recorded the same version first.
#: Each conflict means another version was recorded meanwhile, so every retry follows
#: progress; the bound only stops a store that keeps refusing for another reason.
PUBLISH_ATTEMPTS = 50


@dataclass(frozen=True)
class PublishedDirectory:
    version: int
    source: str
    published_at: datetime
    directory: Directory


@dataclass(frozen=True)
class Publication:
    """The outcome of a publication: the version in force afterwards, and whether this
    publication recorded it (False: that content was already in force, or a packaged file
    whose content had been published before)."""

    version: int
    content_hash: str
    recorded: bool


class DirectoryStore:
    """Directory versions in the router's event store (blocking calls: run them in a thread
    from async code)."""

    def __init__(self, application: RouterApplication) -> None:
        self.application = application

    def latest_version(self, known: int = 0) -> int:
        """The highest version recorded (0: none), given that version `known` is recorded.
        Versions have no gaps: probe known+1, +2, +4… until one is missing, then bisect. When
        nothing was published since `known`, that is one read that finds nothing."""
        low, step, high = known, 1, None
        while high is None:
            if self._recorded(low + step):
                low, step = low + step, step * 2
            else:
                high = low + step
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if self._recorded(middle) else (low, middle)
        return low

    def _recorded(self, version: int) -> bool:
        return bool(self.application.recorder.select_events(directory_version_id(version), limit=1))

    def read(self, version: int) -> DirectoryVersion.Published | None:
        stored = self.application.recorder.select_events(directory_version_id(version), limit=1)
        if not stored:
            return None
        published = self.application.mapper.to_domain_event(stored[0])
        assert isinstance(published, DirectoryVersion.Published)
        return published

    def current(self, known: int = 0) -> PublishedDirectory | None:
        """The latest version, validated (DirectoryError if this router's code cannot use it)."""
        version = self.latest_version(known)
        published = self.read(version) if version else None
        if published is None:
            return None
        return PublishedDirectory(
            version=published.version,
            source=published.source,
            published_at=published.timestamp,
            directory=directory_from_records(published.offices, edition=published.edition),
        )

    def publish(self, directory: Directory, *, source: str, packaged: bool = False) -> Publication:
        """Record `directory` as the next version, unless it is what is in force already; a
        packaged file only if its content was never published (see `DirectoryVersion`)."""
        for _ in range(PUBLISH_ATTEMPTS):
            latest = self.latest_version()
            head = self.read(latest) if latest else None
            if head is not None and (
                head.content_hash == directory.content_hash
                or (packaged and directory.content_hash in head.published_hashes)
            ):
                return Publication(head.version, head.content_hash, recorded=False)
            history = tuple(head.published_hashes) if head is not None else ()
            version = DirectoryVersion.publish(
                version=latest + 1,
                content_hash=directory.content_hash,
                edition=directory.edition,
                source=source,
                published_hashes=(*history, directory.content_hash),
                offices=directory.offices,
            )
            try:
                self.application.save(version)
            except IntegrityError:
                continue  # another publisher recorded that version first: read again
            return Publication(latest + 1, directory.content_hash, recorded=True)
        raise RuntimeError(f"could not record a directory version after {PUBLISH_ATTEMPTS} attempts")


class LiveDirectory:
    """The directory a running router routes by: the latest published version, the packaged
    edition until the store has been read. Thread-safe: `current` is replaced, never changed."""

    def __init__(self, store: DirectoryStore, *, package: Directory, poll_interval_s: float) -> None:
        self.store = store
        self.package = package
        self.poll_interval_s = poll_interval_s
        self._published: PublishedDirectory | None = None
        self._package_published = False
        self._task: asyncio.Task[None] | None = None
        self._last_warning: float | None = None

    @property
    def current(self) -> Directory:
        published = self._published
        return published.directory if published is not None else self.package

    @property
    def published(self) -> PublishedDirectory | None:
        """The version in force, None until the store was first read."""
        return self._published

    def sync(self) -> bool:
        """Publish the packaged edition if it is new (once), then take up a newer version if
        there is one. Returns whether the directory in force changed. Blocking."""
        if not self._package_published:
            with acting_as("router:package"):
                outcome = self.store.publish(self.package, source="package", packaged=True)
            self._package_published = True
            if outcome.recorded:
                log.info("directory_package_published", version=outcome.version, edition=self.package.edition)
        known = self._published.version if self._published is not None else 0
        if known and self.store.latest_version(known) == known:
            # Nothing published since: one read that finds nothing, not the version in force
            # read and validated again every poll (hundreds of offices, tens of milliseconds).
            return False
        newer = self.store.current(known)
        if newer is None or (self._published is not None and newer.version == self._published.version):
            return False
        self._published = newer
        log.info(
            "directory_in_force",
            version=newer.version,
            edition=newer.directory.edition,
            content_hash=newer.directory.content_hash,
            offices=len(newer.directory.offices),
        )
        return True

    async def start(self) -> None:
        """Read the store once before the router works (it keeps the packaged edition if the
        store cannot be read now), then keep watching it."""
        await self._sync_logged()
        self._task = asyncio.create_task(self._watch(), name="directory-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval_s)
            await self._sync_logged()

    async def _sync_logged(self) -> None:
        try:
            await asyncio.to_thread(self.sync)
        except DirectoryError as exc:
            # A version this code cannot use (recorded by a newer router with a newer
            # taxonomy): keep the edition in force, say why.
            self._warn("directory_version_unusable", problems=list(exc.problems)[:5])
        except Exception as exc:
            self._warn("directory_store_unreadable", error=f"{type(exc).__name__}: {exc}")
        else:
            if self._last_warning is not None:
                log.info("directory_store_readable_again")
            self._last_warning = None

    def _warn(self, event: str, **details: object) -> None:
        # Once when it starts failing, then once a minute: the watch runs every few seconds.
        now = time.monotonic()
        if self._last_warning is None or now - self._last_warning >= 60:
            log.warning(event, version=self._published.version if self._published else None, **details)
            self._last_warning = now
