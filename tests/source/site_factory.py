"""Builds a Webflow site in the emulator through the public v2 API (plus admin for site and token).

The site holds what the source must get right: two locales, every common field type (Option,
Reference, self-referencing MultiReference, Image, MultiImage, File, RichText with `<img>`,
DateTime, Number, Switch, Color, Link, Email, Phone, VideoLink), assets in folders, items created
in bulk in both locales, French translations, published / archived / draft items, items edited
after publishing, more than 100 items in one collection, and an e-commerce-looking collection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from webflow_emulator.seeds.builder import SiteBuilder, pdf_bytes, png_bytes

LOCALES = [("en-US", "English"), ("fr-FR", "French")]
READ_SCOPES = ["sites:read", "cms:read", "assets:read"]
OPTIONS = ["News", "Guide", "Opinion"]


@dataclass
class FactorySite:
    """Ids, tokens and a write-capable builder of a site made by `build_site`."""

    base_url: str
    site_id: str
    read_token: str
    write_token: str
    builder: SiteBuilder
    locale_ids: list[str]
    collections: dict[str, dict[str, Any]] = field(default_factory=dict)
    item_ids: dict[str, dict[str, str]] = field(default_factory=dict)
    assets: list[dict[str, Any]] = field(default_factory=list)

    @property
    def secondary_locale(self) -> str:
        return self.locale_ids[1]

    def collection_id(self, slug: str) -> str:
        return str(self.collections[slug]["id"])


def build_site(
    emulator: Any,
    *,
    posts: int = 30,
    tags: int = 6,
    notes: int = 130,
    images_every: int = 5,
    name: str = "Factory Site",
) -> FactorySite:
    """Creates and fills a site; `notes` items make a collection that needs several pages."""
    admin = emulator.admin
    site = admin.create_site(name, locales=LOCALES)
    write_token = admin.mint_token([site["id"]])
    read_token = admin.mint_token([site["id"]], scopes=READ_SCOPES)
    builder = SiteBuilder(emulator.base_url, write_token, site)
    fs = FactorySite(
        base_url=emulator.base_url,
        site_id=site["id"],
        read_token=read_token,
        write_token=write_token,
        builder=builder,
        locale_ids=builder.locale_ids,
    )
    _create_assets(fs)
    _create_schema(fs)
    _create_tags(fs, tags)
    _create_posts(fs, posts, images_every)
    if notes:
        _create_notes(fs, notes)
    _create_products(fs)
    return fs


def _create_assets(fs: FactorySite) -> None:
    b = fs.builder
    images = b.create_folder("Images")
    covers = b.create_folder("Covers", images["id"])
    docs = b.create_folder("Documents")
    for n in range(4):
        fs.assets.append(
            b.upload_asset(f"cover-{n}.png", png_bytes(8 + n, 6, n), covers["id"], alt=f"Cover {n}")
        )
    fs.assets.append(b.upload_asset("logo.png", png_bytes(5, 5, 99), images["id"]))
    fs.assets.append(b.upload_asset("guide.pdf", pdf_bytes("Factory guide"), docs["id"]))
    # the same bytes twice: two assets, one file in the content-addressed store
    fs.assets.append(b.upload_asset("logo-copy.png", png_bytes(5, 5, 99)))


def _create_schema(fs: FactorySite) -> None:
    b = fs.builder
    tags = b.create_collection(
        "Tags",
        "Tag",
        "tags",
        [
            {"type": "Color", "displayName": "Color", "slug": "color"},
            {"type": "Number", "displayName": "Weight", "slug": "weight"},
        ],
    )
    fs.collections["tags"] = tags
    posts = b.create_collection(
        "Blog Posts",
        "Blog Post",
        "blog-posts",
        [
            {
                "type": "PlainText",
                "displayName": "Summary",
                "slug": "summary",
                "helpText": "Teaser",
            },
            {"type": "RichText", "displayName": "Body", "slug": "body"},
            {"type": "DateTime", "displayName": "Published Date", "slug": "published-date"},
            {"type": "Number", "displayName": "Reading Time", "slug": "reading-time"},
            {"type": "Switch", "displayName": "Featured", "slug": "featured"},
            {"type": "Color", "displayName": "Accent", "slug": "accent"},
            {"type": "Link", "displayName": "External Link", "slug": "external-link"},
            {"type": "Email", "displayName": "Contact", "slug": "contact"},
            {"type": "Phone", "displayName": "Phone", "slug": "phone"},
            {"type": "VideoLink", "displayName": "Video", "slug": "video"},
            {
                "type": "Option",
                "displayName": "Kind",
                "slug": "kind",
                "metadata": {"options": [{"name": o} for o in OPTIONS]},
            },
            {
                "type": "Reference",
                "displayName": "Main Tag",
                "slug": "main-tag",
                "metadata": {"collectionId": tags["id"]},
            },
            {
                "type": "MultiReference",
                "displayName": "Tags",
                "slug": "tags",
                "metadata": {"collectionId": tags["id"]},
            },
            {"type": "Image", "displayName": "Hero Image", "slug": "hero-image"},
            {"type": "MultiImage", "displayName": "Gallery", "slug": "gallery"},
            {"type": "File", "displayName": "Attachment", "slug": "attachment"},
            # collides with an item metadata column: stored as `field_state`
            {"type": "PlainText", "displayName": "State", "slug": "state"},
        ],
    )
    b.create_field(
        posts["id"],
        {
            "type": "MultiReference",
            "displayName": "Related Posts",
            "slug": "related-posts",
            "metadata": {"collectionId": posts["id"]},
        },
    )
    fs.collections["blog-posts"] = b.collection(posts["id"])
    notes = b.create_collection(
        "Notes", "Note", "notes", [{"type": "PlainText", "displayName": "Text", "slug": "text"}]
    )
    fs.collections["notes"] = notes


def _create_tags(fs: FactorySite, count: int) -> None:
    b = fs.builder
    cid = fs.collection_id("tags")
    data = [
        {"name": f"Tag {n}", "slug": f"tag-{n}", "color": f"#{n:02d}{n:02d}AA", "weight": n * 1.5}
        for n in range(count)
    ]
    fs.item_ids["tags"] = b.create_items(cid, data)
    b.update_items(
        cid,
        [
            {"id": i, "fieldData": {"name": f"Étiquette {s}"}}
            for s, i in fs.item_ids["tags"].items()
        ],
        locale=fs.secondary_locale,
    )
    b.publish(cid, fs.item_ids["tags"].values())


def _post_data(fs: FactorySite, n: int, images_every: int) -> dict[str, Any]:
    options = fs.builder.option_ids(fs.collection_id("blog-posts"), "kind")
    tag_ids = list(fs.item_ids["tags"].values())
    covers = [a for a in fs.assets if a["originalFileName"].startswith("cover-")]
    pdf = next(a for a in fs.assets if a["originalFileName"] == "guide.pdf")
    data: dict[str, Any] = {
        "name": f"Post {n}",
        "slug": f"post-{n}",
        "summary": f"Summary of post {n}",
        "body": f"<h2>Post {n}</h2><p>Text with <strong>markup</strong> & entities.</p>",
        "published-date": f"2024-0{1 + n % 9}-1{n % 10}T10:00:00.000Z",
        "reading-time": n % 7 + 0.5,
        "featured": n % 2 == 0,
        "accent": "#1F6FEB",
        "external-link": f"https://example.com/post-{n}",
        "contact": f"author{n}@example.com",
        "phone": f"+1 555 010{n % 10}",
        "video": "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "kind": options[OPTIONS[n % len(OPTIONS)]],
        "main-tag": tag_ids[n % len(tag_ids)],
        "tags": [tag_ids[n % len(tag_ids)], tag_ids[(n + 1) % len(tag_ids)]],
        "state": "custom field value",
    }
    if images_every and n % images_every == 0:
        cover = covers[n % len(covers)]
        data["hero-image"] = {"url": cover["hostedUrl"], "alt": f"Hero {n}"}
        data["gallery"] = [
            {"url": c["hostedUrl"], "alt": f"G{k}"} for k, c in enumerate(covers[:2])
        ]
        data["attachment"] = {"url": pdf["hostedUrl"]}
        data["body"] += f'<figure><img src="{cover["hostedUrl"]}" alt="inline"></figure>'
    return data


def _create_posts(fs: FactorySite, count: int, images_every: int) -> None:
    b = fs.builder
    cid = fs.collection_id("blog-posts")
    data = [_post_data(fs, n, images_every) for n in range(count)]
    ids = b.create_items(cid, data)
    fs.item_ids["blog-posts"] = ids
    ordered = [ids[f"post-{n}"] for n in range(count)]
    # self references, and French translations of every other post
    b.update_items(
        cid,
        [
            {"id": ordered[n], "fieldData": {"related-posts": [ordered[(n + 1) % count]]}}
            for n in range(count)
        ],
    )
    b.update_items(
        cid,
        [
            {"id": ordered[n], "fieldData": {"name": f"Article {n}", "summary": f"Résumé {n}"}}
            for n in range(0, count, 2)
        ],
        locale=fs.secondary_locale,
    )
    # two thirds published; then some edited after publishing; some archived; one left as draft
    published = [ordered[n] for n in range(count) if n % 3 != 2]
    b.publish(cid, published)
    edited = [ordered[n] for n in range(0, count, 6)]
    b.update_items(
        cid, [{"id": i, "fieldData": {"summary": "Edited after publishing"}} for i in edited]
    )
    archived = [ordered[n] for n in range(count) if n % 10 == 9]
    if archived:
        b.update_items(cid, [{"id": i, "isArchived": True} for i in archived])
    drafts = [ordered[n] for n in range(count) if n % 3 == 2][:3]
    if drafts:
        b.update_items(cid, [{"id": i, "isDraft": True} for i in drafts])
    # an image that lives only in the CMS: uploaded, used by an item, then deleted from Assets
    temp = b.upload_asset("only-in-cms.png", png_bytes(7, 3, 42))
    b.update_items(
        cid, [{"id": ordered[1], "fieldData": {"hero-image": {"url": temp["hostedUrl"]}}}]
    )
    b.call("DELETE", f"/assets/{temp['id']}")


def _create_notes(fs: FactorySite, count: int) -> None:
    b = fs.builder
    cid = fs.collection_id("notes")
    data = [{"name": f"Note {n}", "slug": f"note-{n}", "text": f"text {n}"} for n in range(count)]
    fs.item_ids["notes"] = b.create_items(cid, data)
    b.publish(cid, list(fs.item_ids["notes"].values())[: count // 2])


def _create_products(fs: FactorySite) -> None:
    """A collection shaped like Webflow's e-commerce Products: the source must skip it."""
    products = fs.builder.create_collection("Products", "Product", "product", [])
    fs.collections["product"] = products
    fs.builder.create_items(products["id"], [{"name": "Widget", "slug": "widget"}])


def add_items(fs: FactorySite, slug: str, data: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Creates more items (every locale) in a collection; returns slug -> id."""
    ids = fs.builder.create_items(fs.collection_id(slug), list(data))
    fs.item_ids.setdefault(slug, {}).update(ids)
    return ids


def add_rich_text_only_image(fs: FactorySite, post_slug: str) -> str:
    """Shows an image that is not in the Assets panel in a post's RichText body: the CMS copy of
    post-1's hero image (its asset was deleted). The destination uploads such files itself.
    Returns the image's url."""
    b = fs.builder
    cid = fs.collection_id("blog-posts")
    post_1 = b.call("GET", f"/collections/{cid}/items/{fs.item_ids['blog-posts']['post-1']}")
    url = post_1["fieldData"]["hero-image"]["url"]
    body = f'<p>Inline only</p><figure><img src="{url}" alt="inline"></figure>'
    b.update_items(cid, [{"id": fs.item_ids["blog-posts"][post_slug], "fieldData": {"body": body}}])
    return url


def build_big_site(emulator: Any, items: int, *, name: str = "Big Site") -> FactorySite:
    """A site with `items` notes (bulk-created in both locales, half published), rest small."""
    return build_site(emulator, posts=10, tags=4, notes=items, images_every=5, name=name)
