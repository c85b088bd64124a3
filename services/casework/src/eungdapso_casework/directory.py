"""Casework's copy of the organisation directory (the platform's `eungdapso_platform.directory`):
a transfer names its target by code; only an office of the version in force is accepted."""

from eungdapso_platform.directory import DIRECTORY, DirectoryQueries, on_published, projection

__all__ = ["DIRECTORY", "DirectoryQueries", "on_published", "projection"]
