"""Every place the emulator follows documented/observed behaviour over the spec, or makes its own
design choice where Webflow's behaviour is unknown. One list, referenced from the code by key.

Sources: `../shared/notes/WEBFLOW_API.md` section 11 (`[S]` spec, `[D]` docs, `[O]` observed)
and `[I]` = our own choice.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Deviation:
    key: str
    source: str  # "notes-11.N" for WEBFLOW_API.md section 11 item N, or "I" for our own choice
    text: str


DEVIATIONS: tuple[Deviation, ...] = (
    Deviation(
        "metadata-vs-validations",
        "notes-11.1",
        "Option choices / reference targets are written in `metadata` and read back in "
        "`validations`; create-field echoes the `metadata` form, collection-details the "
        "`validations` form.",
    ),
    Deviation(
        "field-slug-accepted",
        "notes-11.2",
        "FieldCreate accepts `slug` although the schema lacks it (spec example and docs pass it).",
    ),
    Deviation(
        "create-items-response",
        "notes-11.4",
        "create-items (and create-item with `{items:[...]}`) answer `{items:[...]}`, one entry per "
        "item x locale, as the spec's examples show. Each entry carries both `cmsLocaleId` "
        "(example) and `cmsLocaleIds` (all locales the item was created in, the schema).",
    ),
    Deviation(
        "validation-details",
        "notes-11.5",
        "Validation errors carry `details: [{param, description}]` (observed), not "
        "`{field, message}`.",
    ),
    Deviation(
        "duplicate-slug-400",
        "notes-11.6",
        "A duplicate item slug (per collection and locale) is 400 validation_error, not 409.",
    ),
    Deviation(
        "range-operators",
        "notes-11.7",
        "Date range filters accept gt, gte, lt and lte (spec: gte/lte; changelog: gt/lt). Other "
        "operators are 400 validation_error.",
    ),
    Deviation(
        "md5-file-hash",
        "notes-11.8",
        "`fileHash` must be the MD5 hex of the bytes (the S3 upload checks it); SHA-256 fails.",
    ),
    Deviation(
        "unchanged-slug-400",
        "O (notes 4.5)",
        "A PATCH whose fieldData repeats the item's current slug fails like a duplicate slug "
        "(400 validation_error, param slug), as observed on Webflow; clients must omit "
        "unchanged slugs.",
    ),
    Deviation(
        "json-content-type",
        "I",
        "A request body must be sent with a JSON Content-Type (anything containing `json`); "
        "otherwise 400 bad_request.",
    ),
    Deviation(
        "limit-over-100",
        "I",
        "`limit` > 100 (or < 1, or offset < 0) is rejected with 400 validation_error instead of "
        "being clamped; the spec declares no maximum, the docs say 100.",
    ),
    Deviation(
        "retry-after-fractional",
        "I",
        "`Retry-After` is whole seconds (rounded up) at timeScale 1, and real seconds with 3 "
        "decimals when timeScale != 1 so that compressed-time tests can wait precisely.",
    ),
    Deviation(
        "ratelimit-window",
        "I",
        "Rate limit: fixed window of 60 emulated seconds per token, starting at the first request "
        "after the previous window ended; 429s do not count and are not applied. Requests without "
        "a valid token use the global limit keyed by nothing (they are rejected with 401 anyway).",
    ),
    Deviation(
        "ratelimit-off-no-headers",
        "I",
        "With no rate limit configured (the default, for fast tests) the emulator sends no "
        "`X-RateLimit-*` headers: Webflow always has a limit and always sends them, but nominal "
        "headers would make a pacing client wait for a limit that is not there. Tests of pacing "
        "set `rateLimit` (and `timeScale`).",
    ),
    Deviation(
        "foreign-site-403",
        "I",
        "A valid token used on a resource of a site it is not bound to gets 403 forbidden "
        "('User is not authorized to perform this action'), not 404.",
    ),
    Deviation(
        "missing-scope-403",
        "I",
        "Every operation answers 403 missing_scopes with the authorized_by message format when "
        "the token lacks the operation's scope, although the CMS/asset ops do not list 403.",
    ),
    Deviation(
        "invalid-path-id-400",
        "I",
        "A path id that is not a 24-hex ObjectId is 400 validation_error 'Validation Error: "
        "Provided ID is invalid'; a well-formed unknown id is 404 resource_not_found.",
    ),
    Deviation(
        "asset-listable-after-upload",
        "I",
        "An asset created with create-asset is invisible (list-assets, get-asset, folder `assets`) "
        "until its S3 upload succeeded; create-asset never de-duplicates by hash.",
    ),
    Deviation(
        "folder-name-unique-400",
        "I",
        "create-asset-folder with a displayName already used by a sibling folder is 400 "
        "validation_error naming `displayName` (the spec lists no 409 for this operation).",
    ),
    Deviation(
        "root-folder-null",
        "I",
        "AssetFolder.parentFolder is null for root folders (the spec's example) although the "
        "schema types it string; create-asset omits `parentFolder` when none was given.",
    ),
    Deviation(
        "field-conflict-409",
        "I",
        "create-field / update-field with a displayName (or explicit slug) already used by a field "
        "of the collection is 409 `conflict` (the spec's 409 example, `duplicate_collection`, is "
        "a copy-paste).",
    ),
    Deviation(
        "field-slug-suffix",
        "I",
        "A derived field slug that collides with a current or previously deleted field slug gets "
        "`-1`, `-2`, ... appended (observed `field-1-1` after delete + recreate).",
    ),
    Deviation(
        "field-limit-counts-system",
        "I",
        "The 60-fields-per-collection limit counts the system fields name and slug.",
    ),
    Deviation(
        "help-text-omitted",
        "I",
        "Field `helpText` is omitted when it was never set (the schema types it string, not null).",
    ),
    Deviation(
        "bulk-atomic",
        "I",
        "Bulk writes (create-item with items, create-items, update-items, delete-items and "
        "the live variants) are atomic: one invalid item fails the whole request with "
        "400/404 and nothing is applied. publish-item is the exception: it reports "
        "per-id errors (spec).",
    ),
    Deviation(
        "delete-primary-deletes-all",
        "I",
        "delete-item / delete-items in the primary locale (the default) delete the item in every "
        "locale; with a secondary cmsLocaleId only that locale's copy is removed.",
    ),
    Deviation(
        "staged-delete-removes-live",
        "I",
        "A staged delete (delete-item / delete-items) also removes the live copy at once; "
        "references to the deleted item in other items are left as they are.",
    ),
    Deviation(
        "unpublish-not-live-404",
        "I",
        "delete-item-live on an item that is not live is 404 resource_not_found.",
    ),
    Deviation(
        "publish-archived",
        "I",
        "publish-item does not publish archived items; it reports "
        "'Archived item ID <id> cannot be published.' in `errors`.",
    ),
    Deviation(
        "publish-keeps-last-updated",
        "I",
        "Publishing does not bump lastUpdated (so a published item has lastPublished >= "
        "lastUpdated); staged edits do.",
    ),
    Deviation(
        "is-draft-no-unpublish",
        "I",
        "Setting isDraft:true on a live item only marks it 'changes in draft' (post 2025-07-07 "
        "behaviour, notes 4.2); only the unpublish endpoints remove the live copy.",
    ),
    Deviation(
        "file-fetch-local-only",
        "I",
        "Image/File values given as `{url}` are fetched only when the URL is one of the "
        "emulator's own `/_cdn/` URLs; anything else counts as an invalid file (skipped with "
        "skipInvalidFiles=true, 400 validation_error otherwise).",
    ),
    Deviation(
        "item-slug-format",
        "I",
        "Item slugs must match ^[a-z0-9_-]+$ and be at most 256 characters; names 1-256 chars.",
    ),
    Deviation(
        "unknown-update-field-keys",
        "I",
        "update-field rejects keys other than isRequired, displayName, helpText (type, slug, "
        "options and reference target are immutable) with 400 validation_error.",
    ),
    Deviation(
        "s3-errors",
        "I",
        "The fake S3 answers errors as S3 XML: 400 BadDigest (MD5 != fileHash), 400 "
        "EntityTooLarge, 400 InvalidArgument (missing file or field), 403 AccessDenied "
        "(policy/signature/key mismatch). Form field names are matched "
        "case-insensitively (the JS SDK sends `policy`, `Content-Type`); fields after "
        "`file` are ignored, as S3 does.",
    ),
    Deviation(
        "stats-exclude-seed",
        "I",
        "Stats are reset after /_emulator/seed so that they count the client's traffic only.",
    ),
)

BY_KEY: dict[str, Deviation] = {d.key: d for d in DEVIATIONS}
