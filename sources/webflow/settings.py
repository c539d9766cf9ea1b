"""Constants of the Webflow source and client. No logic here."""

from typing import Final

DEFAULT_BASE_URL: Final[str] = "https://api.webflow.com/v2"
DEFAULT_REQUESTS_PER_MINUTE: Final[int] = 60
# Webflow's rate limit is a fixed window per token
RATE_LIMIT_WINDOW_SECONDS: Final[float] = 60.0
DEFAULT_MAX_ASSET_BYTES: Final[int] = 10 * 1024 * 1024
DEFAULT_ASSET_STORE_PATH: Final[str] = ".webflow-sync/assets"
DEFAULT_TIMEOUT_SECONDS: Final[float] = 60.0

PAGE_LIMIT: Final[int] = 100
"""Largest `limit` the list endpoints accept."""

# retries of 5xx answers and broken connections
MAX_TRANSIENT_ATTEMPTS: Final[int] = 6
BACKOFF_BASE_SECONDS: Final[float] = 1.0
BACKOFF_MAX_SECONDS: Final[float] = 60.0
# 429 answers are waited out (Retry-After) and retried up to this many times per request
MAX_RATE_LIMIT_RETRIES: Final[int] = 20

INCREMENTAL_OVERLAP_SECONDS: Final[float] = 5.0
"""Items updated this long before the watermark are read again (clock skew, late commits)."""
# the next incremental read starts this much before the server time (`Date`) the last one
# started at: the clock behind `Date` and the one behind `lastUpdated` may differ a little
SERVER_CLOCK_SKEW_SECONDS: Final[float] = 2.0

# hosts Webflow serves asset and CMS files from; `*.` entries match any subdomain
WEBFLOW_FILE_HOSTS: Final[tuple[str, ...]] = (
    "cdn.prod.website-files.com",
    "*.website-files.com",
    "uploads-ssl.webflow.com",
    "global-uploads.webflow.com",
    "assets.website-files.com",
)

# e-commerce collections (list-collections example): slug -> displayName
ECOMMERCE_COLLECTIONS: Final[dict[str, str]] = {
    "product": "Products",
    "sku": "SKUs",
    "category": "Categories",
}

STAGED: Final[str] = "staged"
LIVE: Final[str] = "live"

# dlt data types of item columns by Webflow field type; anything else is kept as json
FIELD_TYPE_TO_DATA_TYPE: Final[dict[str, str]] = {
    "PlainText": "text",
    "RichText": "text",
    "Link": "text",
    "Email": "text",
    "Phone": "text",
    "Color": "text",
    "Option": "text",
    "Reference": "text",
    "VideoLink": "text",
    "User": "text",
    "DateTime": "timestamp",
    "Number": "double",
    "Switch": "bool",
    "Image": "json",
    "MultiImage": "json",
    "File": "json",
    "MultiReference": "json",
    "ExtFileRef": "json",
}

# tables of the source itself; a collection slug that normalizes to one of them gets `_items`
SITE_TABLE: Final[str] = "site"
LOCALES_TABLE: Final[str] = "locales"
COLLECTIONS_TABLE: Final[str] = "collections"
FIELDS_TABLE: Final[str] = "collection_fields"
ASSET_FOLDERS_TABLE: Final[str] = "asset_folders"
ASSETS_TABLE: Final[str] = "assets"
CMS_FILES_TABLE: Final[str] = "cms_files"
RESERVED_TABLES: Final[frozenset[str]] = frozenset(
    {
        SITE_TABLE,
        LOCALES_TABLE,
        COLLECTIONS_TABLE,
        FIELDS_TABLE,
        ASSET_FOLDERS_TABLE,
        ASSETS_TABLE,
        CMS_FILES_TABLE,
    }
)

# item metadata columns; a field slug that normalizes to one of them is stored as `field_<slug>`
ITEM_META_COLUMNS: Final[frozenset[str]] = frozenset(
    {
        "id",
        "cms_locale_id",
        "locale",
        "state",
        "is_draft",
        "is_archived",
        "created_on",
        "last_updated",
        "last_published",
        "is_deleted",
        "deleted_at",
        "field_data",
        "collection_id",
    }
)
