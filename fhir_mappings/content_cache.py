"""A cache keyed by content, bounded in the size of its keys as well as in their count.

What a concept, a text or an order says is cached keyed by its content. lru_cache bounds
the number of entries, not the memory: a caller could send thousands of concepts or orders
of a megabyte each, and a worker would keep them all as keys. Content longer than the limit
is read each time instead; real concepts and orders are well under it (Synthea's orders:
about 1 KB of JSON, their Conditions less). `resource_cache` keys a whole resource (an
order, a Condition) this way, `concept_cache` a concept.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, wraps
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar, cast

import orjson

P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)
# What a JSON-keyed cache keys: a resource, or a concept.
V = TypeVar("V")

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
    return _json_keyed(maxsize, MAX_CACHED_RESOURCE, objects_only=False)


def concept_cache(
    maxsize: int,
) -> Callable[[Callable[Concatenate[Any, P], R]], ContentCache[Concatenate[Any, P], R]]:
    """`read(concept, ...)` cached keyed by a concept's JSON (a CodeableConcept: what a
    Condition, an order or an allergy names), the way `resource_cache` keys a resource;
    anything but a JSON object is read as null. Over MAX_CACHED_CONCEPT bytes, or not plain
    JSON, it is read each time instead, never skipped."""
    return _json_keyed(maxsize, MAX_CACHED_CONCEPT, objects_only=True)


def _json_keyed(
    maxsize: int, most: int, *, objects_only: bool
) -> Callable[[Callable[Concatenate[V, P], R]], ContentCache[Concatenate[V, P], R]]:
    def decorate(read: Callable[Concatenate[V, P], R]) -> ContentCache[Concatenate[V, P], R]:
        # lru_cache itself, not through content_cache: a facts call passes here some 90 times,
        # and each wrapper more cost it 10 µs.
        def from_key(key: bytes, *args: P.args, **kwargs: P.kwargs) -> R:
            return read(orjson.loads(key), *args, **kwargs)

        lru = lru_cache(maxsize=maxsize)(from_key)
        # The same call, typed as the function is (lru_cache types its arguments Hashable).
        cached = cast(Callable[Concatenate[bytes, P], R], lru)

        @wraps(read)
        def call(value: V, *args: P.args, **kwargs: P.kwargs) -> R:
            if objects_only and not isinstance(value, dict):
                key = b"null"
            else:
                try:
                    key = orjson.dumps(value)
                except orjson.JSONEncodeError:
                    return read(value, *args, **kwargs)
                if len(key) > most:
                    return read(value, *args, **kwargs)
            return cached(key, *args, **kwargs)

        call.cache_info = lru.cache_info  # type: ignore[attr-defined]
        return cast(ContentCache[Concatenate[V, P], R], call)

    return decorate
