"""Errors of the zoo runtime and its command line (spec errors live in :mod:`dsl.errors`)."""

__all__ = ["ZooError"]


class ZooError(Exception):
    """A user-facing problem outside the spec itself: an unknown model name, a missing data file,
    a corrupt checkpoint. The CLI prints its message and exits with status 2."""
