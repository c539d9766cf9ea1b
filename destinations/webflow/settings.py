"""Constants of the Webflow destination. No logic here."""

from typing import Final

BULK_LIMIT: Final[int] = 100
"""Largest number of items a bulk create/update/publish/delete request takes."""

RECOVER_BY_SLUG_MAX: Final[int] = 10
"""Up to this many items to find by slug, one filtered GET each; more, one collection listing."""

DESTINATION_NAME: Final[str] = "webflow"
PIPELINE_NAME: Final[str] = "webflow_migrate"
LEDGER_SUFFIX: Final[str] = ".ledger.duckdb"

MAX_FIELDS: Final[int] = 60
"""Fields per collection, name and slug included (WEBFLOW_API.md 3.2)."""
SYSTEM_FIELD_SLUGS: Final[frozenset[str]] = frozenset({"name", "slug"})
REFERENCE_TYPES: Final[frozenset[str]] = frozenset({"Reference", "MultiReference"})
FILE_TYPES: Final[frozenset[str]] = frozenset({"Image", "MultiImage", "File"})
NOT_WRITABLE_TYPES: Final[frozenset[str]] = frozenset({"User", "ExtFileRef"})

# phases, in the order they run; each is one `pipeline.run` of the destination
PHASE_SCHEMA: Final[str] = "schema"
PHASE_REFERENCE_FIELDS: Final[str] = "reference_fields"
PHASE_ASSETS: Final[str] = "assets"
PHASE_ITEMS: Final[str] = "items"
PHASE_LINKS: Final[str] = "links"
PHASE_PUBLISH: Final[str] = "publish"
PHASE_STATES: Final[str] = "states"
PHASE_DELETE: Final[str] = "delete"
PHASES: Final[tuple[str, ...]] = (
    PHASE_SCHEMA,
    PHASE_REFERENCE_FIELDS,
    PHASE_ASSETS,
    PHASE_ITEMS,
    PHASE_LINKS,
    PHASE_PUBLISH,
    PHASE_STATES,
    PHASE_DELETE,
)

# collections a migration never touches (e-commerce, created by Webflow itself)
ECOMMERCE_SLUGS: Final[frozenset[str]] = frozenset({"product", "sku", "category"})

# orders tried exhaustively when choosing the collection order; above this a greedy order is used
MAX_EXHAUSTIVE_COLLECTIONS: Final[int] = 6
