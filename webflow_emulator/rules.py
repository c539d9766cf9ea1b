"""Webflow's rules in one place: field types, field-value validation, limits, slugs, file types.

Nothing here knows about HTTP or about the state model's storage; values that need state (option
ids, referenced items, files) are checked through the small `ValueContext` protocol.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from .errors import ApiError, detail, invalid, validation_error
from .util import is_object_id, iso_ms, parse_iso

# --- limits (WEBFLOW_API.md sections 3, 4, 5, 10) ---------------------------------------------
MAX_FIELDS = 60  # per collection, name+slug included (deviations: field-limit-counts-system)
MIN_OPTIONS, MAX_OPTIONS = 1, 100
BULK_LIMIT = 100
LIST_LIMIT_MAX = 100  # deviations: limit-over-100
LIST_LIMIT_DEFAULT = 100
FILE_NAME_MAX = 99  # "File names must be less than 100 characters"
IMAGE_MAX_BYTES = 4 * 1024 * 1024
DOCUMENT_MAX_BYTES = 10 * 1024 * 1024
NAME_MAX = 256
SLUG_MAX = 256

# --- field types (collection-details enum: 17 read types) --------------------------------------
READ_TYPES = frozenset(
    {
        "Color",
        "DateTime",
        "Email",
        "ExtFileRef",
        "File",
        "Image",
        "Link",
        "MultiImage",
        "MultiReference",
        "Number",
        "Option",
        "Phone",
        "PlainText",
        "Reference",
        "RichText",
        "Switch",
        "VideoLink",
    }
)
STATIC_CREATE_TYPES = frozenset(
    {
        "Color",
        "DateTime",
        "Email",
        "File",
        "Image",
        "Link",
        "MultiImage",
        "Number",
        "Phone",
        "PlainText",
        "RichText",
        "Switch",
        "VideoLink",
    }
)
OPTION_TYPES = frozenset({"Option"})
REFERENCE_TYPES = frozenset({"Reference", "MultiReference"})
CREATE_TYPES = STATIC_CREATE_TYPES | OPTION_TYPES | REFERENCE_TYPES
FILE_TYPES = frozenset({"Image", "File", "MultiImage"})
SYSTEM_SLUGS = ("name", "slug")

# --- asset / file types (WEBFLOW_API.md section 5) ---------------------------------------------
IMAGE_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "svg": "image/svg+xml",
    "webp": "image/webp",
    "avif": "image/avif",
}
DOCUMENT_TYPES = {
    "pdf": "application/pdf",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt": "application/vnd.ms-powerpoint",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "txt": "text/plain",
    "csv": "text/csv",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odp": "application/vnd.oasis.opendocument.presentation",
    "json": "application/json",  # Lottie
    "lottie": "application/zip",  # dotLottie
}


@dataclass(frozen=True)
class FileKind:
    """What a file name's extension says: mime type, whether it is an image, its size limit."""

    extension: str
    content_type: str
    is_image: bool

    @property
    def max_bytes(self) -> int:
        return IMAGE_MAX_BYTES if self.is_image else DOCUMENT_MAX_BYTES


@functools.lru_cache(maxsize=4096)
def file_kind(file_name: str) -> FileKind | None:
    """The allowed kind for a file name, or None when Webflow would refuse its type (cached:
    every re-hosted file value asks, and a site has a few thousand names)."""
    if "." not in file_name:
        return None
    ext = file_name.rsplit(".", 1)[1].lower()
    if ext in IMAGE_TYPES:
        return FileKind(ext, IMAGE_TYPES[ext], True)
    if ext in DOCUMENT_TYPES:
        return FileKind(ext, DOCUMENT_TYPES[ext], False)
    return None


def check_file_name(file_name: Any, param: str = "fileName") -> FileKind:
    """fileName must be a string with an allowed extension and fewer than 100 characters."""
    if not isinstance(file_name, str) or not file_name.strip():
        raise invalid(param, "File name is required")
    if len(file_name) > FILE_NAME_MAX:
        raise invalid(param, "File names must be less than 100 characters")
    if "/" in file_name or "\\" in file_name:
        raise invalid(param, "File name must not contain path separators")
    kind = file_kind(file_name)
    if kind is None:
        raise invalid(param, f"Unsupported file type: {file_name}")
    return kind


MD5_RE = re.compile(r"^[0-9a-fA-F]{32}$")


# --- slugs -------------------------------------------------------------------------------------
def slugify(text: str) -> str:
    """Field/collection slug normalisation: lower-case, spaces -> hyphens, drop other chars."""
    out = text.strip().lower()
    out = re.sub(r"[\s_]+", "-", out)
    out = re.sub(r"[^a-z0-9-]", "", out)
    out = re.sub(r"-{2,}", "-", out).strip("-")
    return out


def unique_slug(base: str, taken: set[str]) -> str:
    """`base`, or `base-1`, `base-2`, ... whichever is not taken (deviations: field-slug-suffix)."""
    if base not in taken:
        return base
    n = 1
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


ITEM_SLUG_RE = re.compile(r"^[a-z0-9_-]+$")


def check_item_slug(value: Any) -> str:
    """Item slugs: non-empty, url-safe lower-case, <= 256 chars (deviations: item-slug-format)."""
    if not isinstance(value, str) or not value:
        raise invalid("slug", "Field 'slug' must be a non-empty string")
    if len(value) > SLUG_MAX:
        raise invalid("slug", f"Field 'slug' must be at most {SLUG_MAX} characters")
    if not ITEM_SLUG_RE.match(value):
        raise invalid(
            "slug",
            "Field 'slug' must contain only lowercase letters, numbers, hyphens and underscores",
        )
    return value


# --- field definitions -------------------------------------------------------------------------
class FieldLike(Protocol):
    slug: str
    type: str
    is_required: bool
    validations: dict[str, Any] | None


@dataclass
class FieldSpec:
    """A validated FieldCreate body."""

    type: str
    display_name: str
    is_required: bool
    help_text: str | None
    slug: str | None
    option_names: list[str] | None
    collection_id: str | None


def _type_error(param: str, expected: str) -> ApiError:
    return invalid(param, f"Expected {expected}")


def parse_field_create(body: Any, param_prefix: str = "") -> FieldSpec:
    """Checks one FieldCreate (static / option / reference shape) and normalises it."""
    p = param_prefix
    if not isinstance(body, dict):
        raise validation_error([detail(p or "body", "Field definition must be an object")])
    ftype = body.get("type")
    if ftype not in CREATE_TYPES:
        raise invalid(
            f"{p}type",
            f"Field type must be one of {', '.join(sorted(CREATE_TYPES))}",
        )
    display_name = body.get("displayName")
    if not isinstance(display_name, str) or not display_name.strip():
        raise invalid(f"{p}displayName", "displayName is required")
    is_required = body.get("isRequired", False)
    if not isinstance(is_required, bool):
        raise _type_error(f"{p}isRequired", "a boolean")
    help_text = body.get("helpText")
    if help_text is not None and not isinstance(help_text, str):
        raise _type_error(f"{p}helpText", "a string")
    slug = body.get("slug")  # deviations: field-slug-accepted
    if slug is not None:
        if not isinstance(slug, str) or not slugify(slug):
            raise invalid(f"{p}slug", "Invalid slug")
        slug = slugify(slug)
        if slug in SYSTEM_SLUGS:
            raise invalid(f"{p}slug", f"Slug '{slug}' is reserved")
    metadata = body.get("metadata")
    option_names: list[str] | None = None
    collection_id: str | None = None
    if ftype in OPTION_TYPES:
        options = metadata.get("options") if isinstance(metadata, dict) else None
        if not isinstance(options, list):
            raise invalid(f"{p}metadata.options", "Option fields require metadata.options")
        if not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
            raise invalid(
                f"{p}metadata.options",
                f"Option fields need between {MIN_OPTIONS} and {MAX_OPTIONS} options",
            )
        option_names = []
        for i, opt in enumerate(options):
            name = opt.get("name") if isinstance(opt, dict) else None
            if not isinstance(name, str) or not name.strip():
                raise invalid(f"{p}metadata.options[{i}].name", "Option name is required")
            if name in option_names:
                raise invalid(f"{p}metadata.options[{i}].name", f"Duplicate option '{name}'")
            option_names.append(name)
    elif ftype in REFERENCE_TYPES:
        collection_id = metadata.get("collectionId") if isinstance(metadata, dict) else None
        if not is_object_id(collection_id):
            raise invalid(
                f"{p}metadata.collectionId",
                "Reference fields require metadata.collectionId (a collection id)",
            )
    elif metadata is not None and metadata != {}:
        raise invalid(f"{p}metadata", f"Fields of type {ftype} take no metadata")
    return FieldSpec(
        ftype, display_name.strip(), is_required, help_text, slug, option_names, collection_id
    )


# --- field values --------------------------------------------------------------------------------
SKIP = object()  # a file value that is dropped (skipInvalidFiles=true)


class ValueContext(Protocol):
    """State lookups the value checks need (implemented by the model)."""

    def reference_exists(self, collection_id: str, item_id: str) -> bool: ...

    def resolve_file(self, field: FieldLike, value: dict[str, Any]) -> dict[str, Any] | None:
        """A stored `{fileId, url, alt}` for a written value, or None when it cannot be used."""
        ...


EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_RE = re.compile(r"^\+?[0-9 ().\-/]{3,40}$")
HEX_COLOR_RE = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")
_NUM = r"\s*-?(?:\d+\.?\d*|\.\d+)%?\s*"
_HUE = r"\s*-?(?:\d+\.?\d*|\.\d+)(?:deg)?\s*"
FUNC_COLOR_RE = re.compile(
    rf"^(?:rgba?\({_NUM},{_NUM},{_NUM}(?:,{_NUM})?\)|hsla?\({_HUE},{_NUM},{_NUM}(?:,{_NUM})?\))$",
    re.IGNORECASE,
)
CSS_COLOR_NAMES = frozenset(
    [
        "aliceblue",
        "antiquewhite",
        "aqua",
        "aquamarine",
        "azure",
        "beige",
        "bisque",
        "black",
        "blanchedalmond",
        "blue",
        "blueviolet",
        "brown",
        "burlywood",
        "cadetblue",
        "chartreuse",
        "chocolate",
        "coral",
        "cornflowerblue",
        "cornsilk",
        "crimson",
        "cyan",
        "darkblue",
        "darkcyan",
        "darkgoldenrod",
        "darkgray",
        "darkgreen",
        "darkgrey",
        "darkkhaki",
        "darkmagenta",
        "darkolivegreen",
        "darkorange",
        "darkorchid",
        "darkred",
        "darksalmon",
        "darkseagreen",
        "darkslateblue",
        "darkslategray",
        "darkslategrey",
        "darkturquoise",
        "darkviolet",
        "deeppink",
        "deepskyblue",
        "dimgray",
        "dimgrey",
        "dodgerblue",
        "firebrick",
        "floralwhite",
        "forestgreen",
        "fuchsia",
        "gainsboro",
        "ghostwhite",
        "gold",
        "goldenrod",
        "gray",
        "green",
        "greenyellow",
        "grey",
        "honeydew",
        "hotpink",
        "indianred",
        "indigo",
        "ivory",
        "khaki",
        "lavender",
        "lavenderblush",
        "lawngreen",
        "lemonchiffon",
        "lightblue",
        "lightcoral",
        "lightcyan",
        "lightgoldenrodyellow",
        "lightgray",
        "lightgreen",
        "lightgrey",
        "lightpink",
        "lightsalmon",
        "lightseagreen",
        "lightskyblue",
        "lightslategray",
        "lightslategrey",
        "lightsteelblue",
        "lightyellow",
        "lime",
        "limegreen",
        "linen",
        "magenta",
        "maroon",
        "mediumaquamarine",
        "mediumblue",
        "mediumorchid",
        "mediumpurple",
        "mediumseagreen",
        "mediumslateblue",
        "mediumspringgreen",
        "mediumturquoise",
        "mediumvioletred",
        "midnightblue",
        "mintcream",
        "mistyrose",
        "moccasin",
        "navajowhite",
        "navy",
        "oldlace",
        "olive",
        "olivedrab",
        "orange",
        "orangered",
        "orchid",
        "palegoldenrod",
        "palegreen",
        "paleturquoise",
        "palevioletred",
        "papayawhip",
        "peachpuff",
        "peru",
        "pink",
        "plum",
        "powderblue",
        "purple",
        "rebeccapurple",
        "red",
        "rosybrown",
        "royalblue",
        "saddlebrown",
        "salmon",
        "sandybrown",
        "seagreen",
        "seashell",
        "sienna",
        "silver",
        "skyblue",
        "slateblue",
        "slategray",
        "slategrey",
        "snow",
        "springgreen",
        "steelblue",
        "tan",
        "teal",
        "thistle",
        "tomato",
        "turquoise",
        "violet",
        "wheat",
        "white",
        "whitesmoke",
        "yellow",
        "yellowgreen",
        "transparent",
    ]
)


def is_color(value: str) -> bool:
    """Color formats of WEBFLOW_API.md 4.7: hex 3/4/6/8, rgb(a)/hsl(a), CSS names, transparent."""
    v = value.strip()
    return bool(HEX_COLOR_RE.match(v) or FUNC_COLOR_RE.match(v) or v.lower() in CSS_COLOR_NAMES)


def is_url(value: str, schemes: tuple[str, ...] = ("http", "https")) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    if parts.scheme.lower() not in schemes:
        return False
    if parts.scheme.lower() in ("http", "https"):
        return bool(parts.netloc) and " " not in value
    return bool(parts.path)


def _check_length(field: FieldLike, value: str) -> str | None:
    v = field.validations or {}
    max_len, min_len = v.get("maxLength"), v.get("minLength")
    if isinstance(max_len, int) and len(value) > max_len:
        return f"Value must be at most {max_len} characters"
    if isinstance(min_len, int) and value and len(value) < min_len:
        return f"Value must be at least {min_len} characters"
    return None


def _check_number(field: FieldLike, value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "Expected a number"
    if isinstance(value, float) and not math.isfinite(value):
        return "Expected a finite number"
    v = field.validations or {}
    if v.get("format") == "integer" and not float(value).is_integer():
        return "Expected an integer"
    if v.get("allowNegative") is False and value < 0:
        return "Negative numbers are not allowed"
    if v.get("allowZero") is False and value == 0:
        return "Zero is not allowed"
    min_v, max_v = v.get("minValue"), v.get("maxValue")
    if isinstance(min_v, int | float) and value < min_v:
        return f"Value must be at least {min_v}"
    if isinstance(max_v, int | float) and value > max_v:
        return f"Value must be at most {max_v}"
    return None


def check_value(field: FieldLike, value: Any, ctx: ValueContext, skip_invalid_files: bool) -> Any:
    """Validates and normalises one non-null field value; raises ApiError naming the field.

    Returns SKIP when an invalid file is to be dropped (skipInvalidFiles=true).
    """
    slug, ftype = field.slug, field.type
    if slug == "slug":
        return check_item_slug(value)
    if slug == "name":
        if not isinstance(value, str) or not value.strip():
            raise invalid("name", "Field 'name' must be a non-empty string")
        if len(value) > NAME_MAX:
            raise invalid("name", f"Field 'name' must be at most {NAME_MAX} characters")
        return value
    problem: str | None = None
    if ftype in ("PlainText", "RichText"):
        if not isinstance(value, str):
            raise invalid(slug, "Expected a string")
        problem = _check_length(field, value)
    elif ftype == "Email":
        if not isinstance(value, str) or not EMAIL_RE.match(value):
            problem = "Expected a valid email address"
    elif ftype == "Phone":
        if not isinstance(value, str) or not PHONE_RE.match(value):
            problem = "Expected a valid phone number"
    elif ftype == "Link":
        if not isinstance(value, str) or not is_url(value, ("http", "https", "mailto", "tel")):
            problem = "Expected a valid URL"
    elif ftype == "VideoLink":
        if not isinstance(value, str) or not is_url(value):
            problem = "Expected a valid video URL"
    elif ftype == "Color":
        if not isinstance(value, str) or not is_color(value):
            problem = "Expected a valid color"
    elif ftype == "Number":
        problem = _check_number(field, value)
    elif ftype == "DateTime":
        ms = parse_iso(value) if isinstance(value, str) else None
        if ms is None:
            problem = "Expected an ISO-8601 date"
        else:
            return iso_ms(ms)
    elif ftype == "Switch":
        if not isinstance(value, bool):
            problem = "Expected a boolean"
    elif ftype == "Option":
        options = (field.validations or {}).get("options") or []
        if not isinstance(value, str) or value not in {o["id"] for o in options}:
            problem = f"Invalid option id: {value!r}"
    elif ftype == "Reference":
        target = (field.validations or {}).get("collectionId", "")
        if not is_object_id(value) or not ctx.reference_exists(target, value):
            problem = f"Referenced item not found: {value!r}"
    elif ftype == "MultiReference":
        target = (field.validations or {}).get("collectionId", "")
        if not isinstance(value, list):
            problem = "Expected a list of item ids"
        else:
            for ref in value:
                if not is_object_id(ref) or not ctx.reference_exists(target, ref):
                    problem = f"Referenced item not found: {ref!r}"
                    break
            else:
                return list(dict.fromkeys(value))
    elif ftype in ("Image", "File"):
        return _check_file(field, value, ctx, skip_invalid_files)
    elif ftype == "MultiImage":
        if not isinstance(value, list):
            raise invalid(slug, "Expected a list of images")
        out = []
        for element in value:
            resolved = _check_file(field, element, ctx, skip_invalid_files)
            if resolved is not SKIP:
                out.append(resolved)
        return out
    else:  # ExtFileRef and anything not creatable through the API
        problem = f"Field type {ftype} cannot be written through the API"
    if problem:
        raise invalid(slug, problem)
    return value


def _check_file(field: FieldLike, value: Any, ctx: ValueContext, skip: bool) -> Any:
    """Image/File element: `{url, alt?}` (re-hosted) or `{fileId, url}` of an existing file."""
    if not isinstance(value, dict) or not isinstance(value.get("url") or value.get("fileId"), str):
        raise invalid(field.slug, "Expected an object with url (and optionally alt)")
    alt = value.get("alt")
    if alt is not None and not isinstance(alt, str):
        raise invalid(field.slug, "alt must be a string")
    resolved = ctx.resolve_file(field, value)
    if resolved is None:
        if skip:
            return SKIP
        raise invalid(field.slug, f"Invalid file: {value.get('url') or value.get('fileId')}")
    return resolved


def check_field_data(
    fields: dict[str, FieldLike],
    data: Any,
    *,
    creating: bool,
    ctx: ValueContext,
    skip_invalid_files: bool,
    param: str = "fieldData",
) -> dict[str, Any]:
    """Validates a fieldData object against a collection's fields.

    Returns {slug: normalised value, or None = clear}. Unknown slugs, missing required fields
    (on create) and null for required fields are validation errors naming the field.
    """
    if not isinstance(data, dict):
        raise invalid(param, "fieldData must be an object")
    errors: list[dict[str, str]] = []
    failed: set[str] = set()
    out: dict[str, Any] = {}
    for key, value in data.items():
        field = fields.get(key)
        if field is None:
            errors.append(detail(key, f"Field not described in schema: '{key}'"))
            continue
        if value is None or (value == "" and field.slug not in SYSTEM_SLUGS):
            if field.is_required:
                errors.append(detail(key, f"Field '{key}' is required"))
                failed.add(key)
            else:
                out[key] = None
            continue
        try:
            checked = check_value(field, value, ctx, skip_invalid_files)
        except ApiError as exc:
            errors.extend(exc.details)
            failed.add(key)
            continue
        if checked is SKIP:
            continue  # an invalid file dropped (skipInvalidFiles=true): the value stays as it was
        if isinstance(checked, list) and not checked and field.type == "MultiImage":
            checked = None
        if checked is None and field.is_required:
            errors.append(detail(key, f"Field '{key}' is required"))
            failed.add(key)
            continue
        out[key] = checked
    if creating:
        for slug, field in fields.items():
            if field.is_required and out.get(slug) is None and slug not in failed:
                errors.append(detail(slug, f"Field '{slug}' is required"))
    if errors:
        raise validation_error(errors)
    return out


def parse_bool_param(value: str | None, default: bool, param: str) -> bool:
    """Query booleans: true/false (case-insensitive)."""
    if value is None:
        return default
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise invalid(param, "Expected true or false")


def parse_paging(offset: str | None, limit: str | None) -> tuple[int, int]:
    """offset >= 0 and 1 <= limit <= 100 (deviations: limit-over-100)."""
    try:
        off = int(offset) if offset not in (None, "") else 0
    except ValueError:
        raise invalid("offset", "offset must be an integer") from None
    try:
        lim = int(limit) if limit not in (None, "") else LIST_LIMIT_DEFAULT
    except ValueError:
        raise invalid("limit", "limit must be an integer") from None
    if off < 0:
        raise invalid("offset", "offset must be >= 0")
    if lim < 1 or lim > LIST_LIMIT_MAX:
        raise invalid("limit", f"limit must be between 1 and {LIST_LIMIT_MAX}")
    return off, lim


def check_bulk(items: Any, param: str = "items") -> list[Any]:
    """A bulk array: a non-empty list of at most 100 entries."""
    if not isinstance(items, list):
        raise invalid(param, f"{param} must be an array")
    if not items:
        raise invalid(param, f"{param} must not be empty")
    if len(items) > BULK_LIMIT:
        raise invalid(param, f"{param} must contain at most {BULK_LIMIT} entries")
    return items
