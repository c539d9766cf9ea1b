"""Seeded generator of synthetic Webflow sites for the benchmark (issue 7).

A site of `--items N` has five collections that exercise everything a migration must get right:

- `categories` (~1%): Color, and a self-referencing single Reference `parent` (a tree);
- `tags` (~4%): plain text;
- `authors` (~5%): RichText bio, Image avatar, Email, Link, and `featured-post` -> posts, which
  with `posts.author` -> authors forms a reference cycle between two collections;
- `posts` (~80%): RichText body with inline images, Image cover, MultiImage gallery, File
  attachment, Option, DateTime, Switch, Number, VideoLink, Reference author, MultiReference
  categories and tags, and the self-referencing MultiReference `related-posts`;
- `pages` (~10%): RichText, Image hero, Option, MultiReference -> posts (a forward-created edge).

Assets: `distinct_files(N)` distinct files (about N/10, capped), in nested folders, some with alt
text or a display name; CMS images point at them, so each file is shared by ~10 items. Two
locales: every item is created in both with `/items/bulk`, then some fields are translated with
update-items + cmsLocaleId. States: published, draft, archived, published-with-changes, queued.

Everything is built through the public API with `SiteBuilder` (bulk endpoints, rate limit off);
the same seed yields the same names, slugs, values and bytes. `changes()` applies a ~1% change set
for the incremental benchmark.

    python bench/generate.py --items 1000 [--seed 1]   # builds in a fresh in-process emulator
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` and the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import emu
from webflow_emulator.seeds.builder import SiteBuilder, pdf_bytes, png_bytes

LOCALES = [("en-US", "English"), ("fr-FR", "French")]
STATES = ("published", "draft", "archived", "published-with-changes", "queued")
# state mix of posts and pages; categories, tags and authors are all published
STATE_WEIGHTS = (0.65, 0.10, 0.08, 0.10, 0.07)
FILE_CAP = 2000
UPLOAD_THREADS = 4

KINDS = ["Article", "Tutorial", "News", "Opinion"]
SECTIONS = ["Company", "Product", "Legal", "Help"]
WORDS = [
    "alpha",
    "amber",
    "birch",
    "cedar",
    "delta",
    "ember",
    "fjord",
    "garnet",
    "harbor",
    "indigo",
    "juniper",
    "krypton",
    "lagoon",
    "maple",
    "nebula",
    "onyx",
    "prairie",
    "quartz",
    "raven",
    "sierra",
    "tundra",
    "umber",
    "violet",
    "willow",
    "xenon",
    "yarrow",
    "zephyr",
    "anchor",
    "beacon",
    "canyon",
    "dune",
    "echo",
    "falcon",
    "glacier",
    "horizon",
    "island",
    "jasper",
    "kestrel",
    "lantern",
    "meadow",
    "nectar",
    "orchid",
    "pebble",
    "quiver",
    "ripple",
    "summit",
    "thistle",
    "upland",
    "vertex",
    "wander",
    "yonder",
    "zenith",
]
FIRST = [
    "Ada",
    "Grace",
    "Alan",
    "Katherine",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "Ken",
    "Radia",
    "Linus",
    "Margaret",
]
LAST = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Johnson",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "Thompson",
    "Perlman",
    "Hamilton",
]

# folders: path -> parent path
FOLDERS = [
    ("Images", None),
    ("Images/Covers", "Images"),
    ("Images/Galleries", "Images"),
    ("Images/Galleries/2025", "Images/Galleries"),
    ("Images/Galleries/2026", "Images/Galleries"),
    ("Images/People", "Images"),
    ("Images/Inline", "Images"),
    ("Documents", None),
    ("Documents/Guides", "Documents"),
]
# (role, folder) of a png by index; every 10th file sits at the root, every 20th is a PDF
PNG_ROLES = [
    ("cover", "Images/Covers"),
    ("gallery", "Images/Galleries/2025"),
    ("cover", "Images/Covers"),
    ("gallery", "Images/Galleries/2026"),
    ("people", "Images/People"),
    ("inline", "Images/Inline"),
    ("cover", "Images/Covers"),
    ("gallery", "Images/Galleries/2025"),
]


@dataclass
class FileSpec:
    """One distinct file of the generated site, before upload."""

    index: int
    name: str
    role: str  # cover | gallery | people | inline | document
    folder: str | None
    data: bytes
    alt: str | None = None
    display_name: str | None = None


@dataclass
class GeneratedSite:
    """What `generate_site` built: ids, tokens and the counts the benchmark reports."""

    base_url: str
    items: int
    seed: int
    source_site_id: str
    source_token: str  # all scopes: the generator and `changes()` write with it
    target_site_id: str
    target_token: str
    locale_tags: list[str]
    cms_locale_ids: list[str]
    collection_ids: dict[str, str]  # collection slug -> id
    item_ids: dict[str, dict[str, str]]  # collection slug -> item slug -> id
    states: dict[str, dict[str, str]]  # collection slug -> item slug -> state
    counts: dict[str, int]  # items per collection
    state_counts: dict[str, int]
    reference_edges: dict[str, int]  # "collection.field" -> number of item -> item edges
    distinct_files: int
    folders: int
    translated: int  # items with secondary-locale fieldData different from the primary's
    build_seconds: float = 0.0
    build_requests: dict[str, int] = field(default_factory=dict)
    asset_urls: dict[str, list[str]] = field(default_factory=dict)  # role -> hostedUrls

    @property
    def total_items(self) -> int:
        return sum(self.counts.values())


def collection_sizes(items: int) -> dict[str, int]:
    """Items per collection for a requested total (the sum equals `items`)."""
    sizes = {
        "categories": max(5, items // 100),
        "tags": max(10, items * 4 // 100),
        "authors": max(5, items * 5 // 100),
        "pages": max(3, items * 10 // 100),
    }
    sizes["posts"] = max(10, items - sum(sizes.values()))
    order = ["categories", "tags", "authors", "posts", "pages"]
    return {k: sizes[k] for k in order}


def distinct_files(items: int) -> int:
    """About one distinct file per ten items, at least 20, capped at FILE_CAP."""
    return min(FILE_CAP, max(20, items // 10))


def file_specs(count: int, seed: int) -> list[FileSpec]:
    """The distinct files: deterministic bytes, each md5 unique (asserted)."""
    specs: list[FileSpec] = []
    for k in range(count):
        if k % 20 == 19:
            spec = FileSpec(
                k,
                f"guide-{k:05d}.pdf",
                "document",
                "Documents/Guides" if k % 40 == 19 else "Documents",
                pdf_bytes(f"Bench guide {k} (seed {seed})"),
            )
        else:
            role, folder = PNG_ROLES[k % len(PNG_ROLES)]
            if k % 10 == 3:
                folder = None  # some assets live at the root
            # png_bytes' colours repeat every 256 seeds: the width keeps every file distinct
            data = png_bytes(16 + seed % 7 + k // 256, 12 + seed % 5, k)
            spec = FileSpec(k, f"{role}-{k:05d}.png", role, folder, data)
        if k % 3 == 0:
            spec.alt = f"Picture {k}"
        if k % 7 == 0:
            spec.display_name = f"Bench file {k}"
        specs.append(spec)
    hashes = {hashlib.md5(s.data).hexdigest() for s in specs}
    assert len(hashes) == len(specs), "generated files must be distinct"
    return specs


def _slug(text: str) -> str:
    return "-".join("".join(c for c in w.lower() if c.isalnum()) for w in text.split())


def _state_of(rng: random.Random) -> str:
    return rng.choices(STATES, weights=STATE_WEIGHTS)[0]


def _pick(rng: random.Random, values: list[Any], n: int) -> list[Any]:
    return rng.sample(values, min(n, len(values)))


def _schema() -> list[tuple[str, str, str, list[dict[str, Any]]]]:
    """(slug, displayName, singularName, inline fields); references come after, per collection."""
    return [
        (
            "categories",
            "Categories",
            "Category",
            [
                {"type": "PlainText", "displayName": "Description", "slug": "description"},
                {"type": "Color", "displayName": "Colour", "slug": "colour"},
            ],
        ),
        (
            "tags",
            "Tags",
            "Tag",
            [{"type": "PlainText", "displayName": "Description", "slug": "description"}],
        ),
        (
            "authors",
            "Authors",
            "Author",
            [
                {"type": "RichText", "displayName": "Bio", "slug": "bio"},
                {"type": "Image", "displayName": "Avatar", "slug": "avatar"},
                {"type": "Email", "displayName": "Email", "slug": "email"},
                {"type": "Link", "displayName": "Website", "slug": "website"},
            ],
        ),
        (
            "posts",
            "Posts",
            "Post",
            [
                {"type": "PlainText", "displayName": "Summary", "slug": "summary"},
                {"type": "RichText", "displayName": "Body", "slug": "body"},
                {"type": "Image", "displayName": "Cover", "slug": "cover"},
                {"type": "MultiImage", "displayName": "Gallery", "slug": "gallery"},
                {"type": "File", "displayName": "Attachment", "slug": "attachment"},
                {
                    "type": "Option",
                    "displayName": "Kind",
                    "slug": "kind",
                    "metadata": {"options": [{"name": k} for k in KINDS]},
                },
                {"type": "DateTime", "displayName": "Published On", "slug": "published-on"},
                {"type": "Switch", "displayName": "Featured", "slug": "featured"},
                {"type": "Number", "displayName": "Reading Time", "slug": "reading-time"},
                {"type": "VideoLink", "displayName": "Video", "slug": "video"},
            ],
        ),
        (
            "pages",
            "Pages",
            "Page",
            [
                {"type": "RichText", "displayName": "Body", "slug": "body"},
                {"type": "Image", "displayName": "Hero", "slug": "hero"},
                {
                    "type": "Option",
                    "displayName": "Section",
                    "slug": "section",
                    "metadata": {"options": [{"name": s} for s in SECTIONS]},
                },
                {"type": "Number", "displayName": "Order", "slug": "order"},
            ],
        ),
    ]


# (collection, field slug, display name, type, target collection)
REFERENCES = [
    ("categories", "parent", "Parent", "Reference", "categories"),
    ("authors", "featured-post", "Featured Post", "Reference", "posts"),
    ("posts", "author", "Author", "Reference", "authors"),
    ("posts", "categories", "Categories", "MultiReference", "categories"),
    ("posts", "tags", "Tags", "MultiReference", "tags"),
    ("posts", "related-posts", "Related Posts", "MultiReference", "posts"),
    ("pages", "posts", "Posts", "MultiReference", "posts"),
]
# references written after every item exists: the self references and the cycle's back edge
DEFERRED = {("categories", "parent"), ("authors", "featured-post"), ("posts", "related-posts")}


def _upload_files(
    base_url: str, token: str, site: dict[str, Any], specs: list[FileSpec], folder_ids: dict
) -> list[dict[str, Any]]:
    """Uploads every file (create-asset + S3 POST + patch/get) on a few threads; the answers
    come back in `specs` order. Each thread has its own session."""
    local = threading.local()

    def upload(spec: FileSpec) -> dict[str, Any]:
        if not hasattr(local, "builder"):
            local.builder = SiteBuilder(base_url, token, site)
        return local.builder.upload_asset(
            spec.name,
            spec.data,
            folder_ids.get(spec.folder) if spec.folder else None,
            alt=spec.alt,
            display_name=spec.display_name,
        )

    with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
        return list(pool.map(upload, specs))


def generate_site(base_url: str, admin: Any, items: int, seed: int = 1) -> GeneratedSite:
    """Builds a source site of about `items` items (and an empty target) through the public API.

    `admin` is the emulator's `AdminClient` (or None: the admin HTTP interface is used). The
    emulator's global rate limit is switched off while building and restored afterwards.
    """
    started = time.perf_counter()
    rng = random.Random(seed)
    sizes = collection_sizes(items)
    name = f"Bench {items} (seed {seed})"
    if admin is not None:
        source_site = admin.create_site(name, locales=LOCALES)
        target_site = admin.create_site(f"{name} target", locales=LOCALES)
        source_token = admin.mint_token([source_site["id"]])
        target_token = admin.mint_token([target_site["id"]])
    else:
        source_site = emu.create_site(base_url, name, LOCALES)
        target_site = emu.create_site(base_url, f"{name} target", LOCALES)
        source_token = emu.mint_token(base_url, [source_site["id"]])
        target_token = emu.mint_token(base_url, [target_site["id"]])
    config = emu.get_config(base_url)
    emu.set_config(base_url, rateLimit=None)
    before = emu.site_stats(emu.stats(base_url), source_site["id"])
    try:
        site = SiteBuilder(base_url, source_token, source_site)
        built = _populate(site, base_url, source_token, source_site, sizes, rng, seed)
    finally:
        emu.set_config(base_url, rateLimit=config.get("rateLimit"))
    after = emu.site_stats(emu.stats(base_url), source_site["id"])
    requests_made = {op: n - before.get(op, 0) for op, n in after.items() if n - before.get(op, 0)}
    return GeneratedSite(
        base_url=base_url,
        items=items,
        seed=seed,
        source_site_id=source_site["id"],
        source_token=source_token,
        target_site_id=target_site["id"],
        target_token=target_token,
        locale_tags=[t for t, _ in LOCALES],
        cms_locale_ids=site.locale_ids,
        build_seconds=time.perf_counter() - started,
        build_requests=requests_made,
        **built,
    )


def _populate(
    site: SiteBuilder,
    base_url: str,
    token: str,
    source_site: dict[str, Any],
    sizes: dict[str, int],
    rng: random.Random,
    seed: int,
) -> dict[str, Any]:
    fr = site.locale_ids[1]

    # --- assets in nested folders ------------------------------------------------------------
    folder_ids: dict[str, str] = {}
    for path, parent in FOLDERS:
        folder_ids[path] = site.create_folder(path.rsplit("/", 1)[-1], folder_ids.get(parent))["id"]
    specs = file_specs(distinct_files(sum(sizes.values())), seed)
    assets = _upload_files(base_url, token, source_site, specs, folder_ids)
    by_role: dict[str, list[dict[str, Any]]] = {}
    for spec, asset in zip(specs, assets, strict=True):
        by_role.setdefault(spec.role, []).append(asset)

    def image(role: str, alt: str | None = None) -> dict[str, Any]:
        asset = rng.choice(by_role[role])
        value: dict[str, Any] = {"url": asset["hostedUrl"]}
        if alt or asset.get("altText"):
            value["alt"] = alt or asset["altText"]
        return value

    # --- schema ------------------------------------------------------------------------------
    coll_ids: dict[str, str] = {}
    for slug, display, singular, fields in _schema():
        coll_ids[slug] = site.create_collection(display, singular, slug, fields)["id"]
    for coll, fslug, display, ftype, target in REFERENCES:
        site.create_field(
            coll_ids[coll],
            {
                "type": ftype,
                "displayName": display,
                "slug": fslug,
                "metadata": {"collectionId": coll_ids[target]},
            },
        )
    kinds = site.option_ids(coll_ids["posts"], "kind")
    sections = site.option_ids(coll_ids["pages"], "section")

    # --- field data (no item ids needed except for backward references) -----------------------
    data: dict[str, list[dict[str, Any]]] = {}
    states: dict[str, dict[str, str]] = {}
    data["categories"] = []
    for i in range(sizes["categories"]):
        title = f"{rng.choice(WORDS).title()} {rng.choice(WORDS)} {i + 1}"
        data["categories"].append(
            {
                "name": title,
                "slug": f"{_slug(title)}",
                "description": f"Everything about {title.lower()}.",
                "colour": f"#{rng.randrange(0x1000000):06X}",
            }
        )
    data["tags"] = [
        {"name": f"#{w}-{i + 1}", "slug": f"tag-{w}-{i + 1}", "description": f"Tagged {w}."}
        for i, w in enumerate(rng.choice(WORDS) for _ in range(sizes["tags"]))
    ]
    data["authors"] = []
    for i in range(sizes["authors"]):
        person = f"{rng.choice(FIRST)} {rng.choice(LAST)} {i + 1}"
        slug = _slug(person)
        data["authors"].append(
            {
                "name": person,
                "slug": slug,
                "bio": f"<p>{person} writes about {rng.choice(WORDS)} and {rng.choice(WORDS)}.</p>",
                "avatar": image("people", person),
                "email": f"{slug}@example.com",
                "website": f"https://example.com/people/{slug}",
            }
        )
    for coll in ("categories", "tags", "authors"):
        states[coll] = {d["slug"]: "published" for d in data[coll]}

    ids: dict[str, dict[str, str]] = {}
    edges: dict[str, int] = {f"{c}.{f}": 0 for c, f, *_ in REFERENCES}

    def create(coll: str) -> None:
        """Creates a collection's items in both locales, one bulk group per initial state."""
        ids[coll] = {}
        groups: dict[tuple[bool, bool], list[dict[str, Any]]] = {}
        for d in data[coll]:
            state = states[coll][d["slug"]]
            flags = (state == "draft", state == "archived")
            groups.setdefault(flags, []).append(d)
        for (is_draft, is_archived), rows in sorted(groups.items()):
            ids[coll].update(
                site.create_items(coll_ids[coll], rows, is_draft=is_draft, is_archived=is_archived)
            )

    create("categories")
    create("tags")
    create("authors")

    cat_ids = list(ids["categories"].values())
    tag_ids = list(ids["tags"].values())
    author_ids = list(ids["authors"].values())
    data["posts"] = []
    states["posts"] = {}
    for i in range(sizes["posts"]):
        title = f"{rng.choice(WORDS).title()} {rng.choice(WORDS)} {rng.choice(WORDS)} {i + 1}"
        slug = _slug(title)
        d: dict[str, Any] = {
            "name": title,
            "slug": slug,
            "summary": f"A short read on {title.lower()}.",
            "body": _body(rng, title, by_role["inline"] if i % 3 == 0 else []),
            "cover": image("cover"),
            "kind": kinds[KINDS[i % len(KINDS)]],
            "published-on": f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}T09:30:00.000Z",
            "featured": i % 9 == 0,
            "reading-time": 2 + rng.randrange(15),
            "author": rng.choice(author_ids),
            "categories": _pick(rng, cat_ids, 1 + rng.randrange(3)),
            "tags": _pick(rng, tag_ids, rng.randrange(5)),
        }
        if i % 4 == 0:
            d["gallery"] = [image("gallery", f"View {k + 1}") for k in range(2 + rng.randrange(3))]
        if i % 10 == 0:
            d["attachment"] = {"url": rng.choice(by_role["document"])["hostedUrl"]}
        if i % 8 == 0:
            d["video"] = f"https://www.youtube.com/watch?v=bench{i:06d}"
        if not d["tags"]:
            del d["tags"]
        edges["posts.author"] += 1
        edges["posts.categories"] += len(d["categories"])
        edges["posts.tags"] += len(d.get("tags", []))
        data["posts"].append(d)
        states["posts"][slug] = _state_of(rng)
    create("posts")

    post_ids = list(ids["posts"].values())
    data["pages"] = []
    states["pages"] = {}
    for i in range(sizes["pages"]):
        title = f"{rng.choice(SECTIONS)} {rng.choice(WORDS)} page {i + 1}"
        slug = _slug(title)
        refs = _pick(rng, post_ids, 1 + rng.randrange(5))
        edges["pages.posts"] += len(refs)
        data["pages"].append(
            {
                "name": title,
                "slug": slug,
                "body": _body(rng, title, by_role["inline"] if i % 2 == 0 else []),
                "hero": image("cover"),
                "section": sections[SECTIONS[i % len(SECTIONS)]],
                "order": i + 1,
                "posts": refs,
            }
        )
        states["pages"][slug] = _state_of(rng)
    create("pages")

    # --- deferred references: self references and the cycle's back edge, in every locale ------
    cat_slugs = list(ids["categories"])
    parent_updates = []
    for n, slug in enumerate(cat_slugs):
        if n >= 5:
            parent = ids["categories"][cat_slugs[rng.randrange(min(n, 5 + n // 4))]]
            parent_updates.append({"id": ids["categories"][slug], "fieldData": {"parent": parent}})
    related_updates = []
    post_slugs = list(ids["posts"])
    for n, slug in enumerate(post_slugs):
        if n % 10 < 3:
            refs = _pick(rng, post_ids, 1 + rng.randrange(3))
            related_updates.append({"id": ids["posts"][slug], "fieldData": {"related-posts": refs}})
    featured_updates = [
        {"id": author_id, "fieldData": {"featured-post": rng.choice(post_ids)}}
        for author_id in author_ids
    ]
    edges["categories.parent"] = len(parent_updates)
    edges["posts.related-posts"] = sum(
        len(u["fieldData"]["related-posts"]) for u in related_updates
    )
    edges["authors.featured-post"] = len(featured_updates)
    for coll, updates in (
        ("categories", parent_updates),
        ("posts", related_updates),
        ("authors", featured_updates),
    ):
        for locale in site.locale_ids:
            site.update_items(coll_ids[coll], updates, locale=locale)

    # --- translations: names of every category, half the tags, summaries of half the posts ----
    translated = 0
    for coll, every, fields in (
        ("categories", 1, ("name",)),
        ("tags", 2, ("name",)),
        ("posts", 2, ("name", "summary")),
        ("pages", 3, ("name",)),
    ):
        updates = []
        for n, d in enumerate(data[coll]):
            if n % every == 0:
                fd = {f: f"[FR] {d[f]}" for f in fields}
                updates.append({"id": ids[coll][d["slug"]], "fieldData": fd})
        site.update_items(coll_ids[coll], updates, locale=fr)
        translated += len(updates)

    # --- states: publish, then edit some published items ---------------------------------------
    for coll in ids:
        to_publish = [
            ids[coll][s]
            for s, st in states[coll].items()
            if st in ("published", "published-with-changes")
        ]
        site.publish(coll_ids[coll], to_publish)
        changed = [
            {"id": ids[coll][s], "fieldData": {"name": f"{_name(data, coll, s)} (edited)"}}
            for s, st in states[coll].items()
            if st == "published-with-changes"
        ]
        site.update_items(coll_ids[coll], changed)

    state_counts = {s: 0 for s in STATES}
    for coll_states in states.values():
        for st in coll_states.values():
            state_counts[st] += 1
    return {
        "collection_ids": coll_ids,
        "item_ids": ids,
        "states": states,
        "counts": {c: len(v) for c, v in ids.items()},
        "state_counts": state_counts,
        "reference_edges": edges,
        "distinct_files": len(specs),
        "folders": len(FOLDERS),
        "translated": translated,
        "asset_urls": {r: [a["hostedUrl"] for a in v] for r, v in by_role.items()},
    }


def _name(data: dict[str, list[dict[str, Any]]], coll: str, slug: str) -> str:
    for d in data[coll]:
        if d["slug"] == slug:
            return d["name"]
    raise KeyError(slug)


def _body(rng: random.Random, title: str, inline: list[dict[str, Any]]) -> str:
    """Rich text: a heading, paragraphs, and (when `inline` is given) an inline image."""
    words = " ".join(rng.choice(WORDS) for _ in range(12))
    html = f"<h2>{title}</h2><p>{words.capitalize()}.</p>"
    if inline:
        img = rng.choice(inline)
        html += f'<figure><img src="{img["hostedUrl"]}" alt="{title}"></figure>'
    return html + '<p>See <a href="https://example.com/docs">the docs</a>.</p>'


# --- incremental change set ---------------------------------------------------------------------
@dataclass
class ChangeSet:
    """What `changes()` did to the source site (counts and the touched item slugs)."""

    edits: list[tuple[str, str]] = field(default_factory=list)  # (collection, slug)
    creates: list[tuple[str, str]] = field(default_factory=list)
    deletes: list[tuple[str, str]] = field(default_factory=list)
    state_changes: list[tuple[str, str, str, str]] = field(
        default_factory=list
    )  # c, slug, old, new
    new_assets: int = 0

    @property
    def total(self) -> int:
        return len(self.edits) + len(self.creates) + len(self.deletes) + len(self.state_changes)


def changes(gen: GeneratedSite, fraction: float = 0.01, seed: int = 2) -> ChangeSet:
    """Applies a change set of about `fraction` of the items to the source site, via the API.

    Mix: 40% edits (half of them also in the secondary locale), 25% creates (posts using a new
    asset, half published), 15% deletes (posts nothing references), 20% state changes of posts
    (draft/queued -> published, archived -> queued, otherwise -> archived), plus that one new
    asset (root folder, with alt text). The rate limit is off meanwhile. `gen.item_ids`,
    `gen.states` and `gen.counts` are updated to match.
    """
    rng = random.Random(seed * 7919 + gen.seed)
    total = max(10, round(gen.total_items * fraction))
    n_edit, n_create, n_delete = total * 40 // 100, total * 25 // 100, total * 15 // 100
    n_state = total - n_edit - n_create - n_delete
    config = emu.get_config(gen.base_url)
    emu.set_config(gen.base_url, rateLimit=None)
    try:
        return _apply_changes(gen, rng, n_edit, n_create, n_delete, n_state, seed)
    finally:
        emu.set_config(gen.base_url, rateLimit=config.get("rateLimit"))


def _apply_changes(
    gen: GeneratedSite,
    rng: random.Random,
    n_edit: int,
    n_create: int,
    n_delete: int,
    n_state: int,
    seed: int,
) -> ChangeSet:
    export = emu.export_site(gen.base_url, gen.source_site_id)
    site = SiteBuilder(gen.base_url, gen.source_token, export["site"])
    fr = site.locale_ids[1]
    cs = ChangeSet()
    referenced = _referenced_ids(export)
    posts = gen.collection_ids["posts"]

    # deletes: posts nobody references (keeps every other item's references valid)
    candidates = [s for s, i in sorted(gen.item_ids["posts"].items()) if i not in referenced]
    doomed = rng.sample(candidates, min(n_delete, len(candidates)))
    if doomed:
        site.call(
            "DELETE",
            f"/collections/{posts}/items",
            json={"items": [{"id": gen.item_ids["posts"][s]} for s in doomed]},
        )
    for s in doomed:
        cs.deletes.append(("posts", s))
        del gen.item_ids["posts"][s]
        del gen.states["posts"][s]

    # edits across collections
    pool = [(c, s) for c in ("tags", "posts", "pages") for s in sorted(gen.item_ids[c])]
    for coll, slug in rng.sample(pool, min(n_edit, len(pool))):
        item_id = gen.item_ids[coll][slug]
        site.update_items(
            gen.collection_ids[coll], [{"id": item_id, "fieldData": {"name": f"{slug} v2"}}]
        )
        if rng.random() < 0.5:
            site.update_items(
                gen.collection_ids[coll],
                [{"id": item_id, "fieldData": {"name": f"[FR] {slug} v2"}}],
                locale=fr,
            )
        cs.edits.append((coll, slug))

    # state changes
    movable = [(s, st) for s, st in sorted(gen.states["posts"].items())]
    for slug, old in rng.sample(movable, min(n_state, len(movable))):
        item_id = gen.item_ids["posts"][slug]
        if old in ("draft", "queued"):
            site.publish(posts, [item_id])
            new = "published"
        elif old == "archived":
            site.update_items(posts, [{"id": item_id, "isArchived": False}])
            new = "queued"
        else:
            site.update_items(posts, [{"id": item_id, "isArchived": True}])
            new = "archived"
        gen.states["posts"][slug] = new
        cs.state_changes.append(("posts", slug, old, new))

    # a new asset, and new posts using it
    data = png_bytes(64, 48, 100_000 + seed)
    asset = site.upload_asset(f"new-{seed}.png", data, None, alt="A new picture")
    cs.new_assets = 1
    author_ids = list(gen.item_ids["authors"].values())
    rows = []
    for n in range(n_create):
        slug = f"new-post-{seed}-{n + 1}"
        rows.append(
            {
                "name": f"New post {n + 1}",
                "slug": slug,
                "summary": "Written after the first migration.",
                "cover": {"url": asset["hostedUrl"], "alt": "A new picture"},
                "author": rng.choice(author_ids),
            }
        )
    if rows:
        created = site.create_items(posts, rows)
        gen.item_ids["posts"].update(created)
        published = [created[r["slug"]] for n, r in enumerate(rows) if n % 2 == 0]
        site.publish(posts, published)
        for n, r in enumerate(rows):
            gen.states["posts"][r["slug"]] = "published" if n % 2 == 0 else "queued"
            cs.creates.append(("posts", r["slug"]))
    gen.counts = {c: len(v) for c, v in gen.item_ids.items()}
    return cs


def _referenced_ids(export: dict[str, Any]) -> set[str]:
    """Every item id some Reference/MultiReference value of the export points at."""
    out: set[str] = set()
    for coll in export["collections"]:
        ref_slugs = [
            f["slug"] for f in coll["fields"] if f["type"] in ("Reference", "MultiReference")
        ]
        for item in coll["items"]:
            for entry in _item_versions(item):
                for slug in ref_slugs:
                    value = (entry.get("fieldData") or {}).get(slug)
                    if isinstance(value, str):
                        out.add(value)
                    elif isinstance(value, list):
                        out.update(v for v in value if isinstance(v, str))
    return out


def _item_versions(item: dict[str, Any]) -> list[dict[str, Any]]:
    """All item dicts (per locale, staged and live) in one exported item, whatever its nesting."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "fieldData" in node:
                found.append(node)
            for v in node.values():
                if isinstance(v, dict | list):
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(item)
    return found


def main(argv: list[str] | None = None, log: Callable[[str], None] = print) -> GeneratedSite:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    from webflow_emulator import EmulatorServer

    with EmulatorServer(port=0) as server:
        gen = generate_site(server.base_url, server.admin, args.items, args.seed)
        log(
            f"built {gen.total_items} items {gen.counts} | {gen.distinct_files} files | "
            f"{sum(gen.build_requests.values())} requests | {gen.build_seconds:.1f} s"
        )
        return gen


if __name__ == "__main__":
    main()
