"""How large a key the content-keyed caches take.

What a concept, a text or an order says is cached keyed by its content (lru_cache, bounded in
count). The count alone does not bound the memory: a caller could send thousands of concepts
or orders of a megabyte each, and a worker would keep them all as keys. Content longer than
these limits is read each time instead; real concepts and orders are well under them
(Synthea's orders: about 1 KB of JSON).
"""

from __future__ import annotations

from collections.abc import Sized

# Bytes of a concept's JSON, or characters of a product's words.
MAX_CACHED_CONCEPT = 2048
# Bytes of an order's JSON.
MAX_CACHED_ORDER = 8192


def small_concept(key: Sized) -> bool:
    return len(key) <= MAX_CACHED_CONCEPT


def small_order(key: Sized) -> bool:
    return len(key) <= MAX_CACHED_ORDER
