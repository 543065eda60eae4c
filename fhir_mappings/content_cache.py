"""A cache keyed by content, bounded in the size of its keys as well as in their count.

What a concept, a text or an order says is cached keyed by its content. lru_cache bounds
the number of entries, not the memory: a caller could send thousands of concepts or orders
of a megabyte each, and a worker would keep them all as keys. Content longer than the limit
is read each time instead; real concepts and orders are well under it (Synthea's orders:
about 1 KB of JSON, their Conditions less). `resource_cache` keys a whole resource (an
order, a Condition) this way.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, wraps
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar, cast

import orjson

P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)

# Bytes of a concept's JSON, or characters of a product's words.
MAX_CACHED_CONCEPT = 2048
# Bytes of a resource's JSON (an order, a Condition).
MAX_CACHED_RESOURCE = 8192


class ContentCache(Protocol[P, R_co]):
    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R_co: ...

    def cache_info(self) -> object: ...


def content_cache(
    maxsize: int, most: int = MAX_CACHED_CONCEPT
) -> Callable[[Callable[P, R]], ContentCache[P, R]]:
    """`function` through an lru_cache, unless its first argument (the content it reads)
    is longer than `most`."""

    def decorate(function: Callable[P, R]) -> ContentCache[P, R]:
        lru = lru_cache(maxsize=maxsize)(function)
        # The same call, typed as the function is (lru_cache types its arguments Hashable).
        cached = cast(Callable[P, R], lru)

        @wraps(function)
        def call(*args: P.args, **kwargs: P.kwargs) -> R:
            if len(args[0]) > most:  # type: ignore[arg-type]
                return function(*args, **kwargs)
            return cached(*args, **kwargs)

        call.cache_info = lru.cache_info  # type: ignore[attr-defined]
        return cast(ContentCache[P, R], call)

    return decorate


def resource_cache(
    maxsize: int,
) -> Callable[
    [Callable[Concatenate[dict[str, Any], P], R]],
    ContentCache[Concatenate[dict[str, Any], P], R],
]:
    """`read(resource, ...)` cached keyed by the resource's whole JSON (and its other
    arguments), so a resource with anything changed is read afresh. A resource over
    MAX_CACHED_RESOURCE bytes, or one that is not plain JSON (a library caller's Python
    values), is read each time instead: never skipped, since skipping could hide a TCA or
    heart disease. What `read` returns is shared between calls, so it must be frozen."""

    def decorate(
        read: Callable[Concatenate[dict[str, Any], P], R],
    ) -> ContentCache[Concatenate[dict[str, Any], P], R]:
        @content_cache(maxsize, most=MAX_CACHED_RESOURCE)
        def from_key(key: bytes, *args: P.args, **kwargs: P.kwargs) -> R:
            return read(orjson.loads(key), *args, **kwargs)

        @wraps(read)
        def call(resource: dict[str, Any], *args: P.args, **kwargs: P.kwargs) -> R:
            try:
                key = orjson.dumps(resource)
            except orjson.JSONEncodeError:
                return read(resource, *args, **kwargs)
            return from_key(key, *args, **kwargs)

        call.cache_info = from_key.cache_info  # type: ignore[attr-defined]
        return cast(ContentCache[Concatenate[dict[str, Any], P], R], call)

    return decorate
