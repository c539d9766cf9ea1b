"""Builds the same small two-locale site in any number of emulator sites, for verify's tests.

A site built twice is what a perfect migration would produce; tests then break one thing in the
target through the public API and check that verify reports exactly that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from webflow_emulator.seeds.builder import SiteBuilder, pdf_bytes, png_bytes

LOCALES = [("en-US", "English"), ("fr-FR", "French")]
KINDS = ["Article", "Tutorial", "News"]
NOTES = 55
"""Items of the plain "notes" collection: 110 item x locale entries, so listings take two pages."""
POSTS = [
    # slug, state
    ("published-one", "published"),
    ("published-two", "published"),
    ("a-draft", "draft"),
    ("an-archived-one", "archived"),
    ("changed-after-publish", "changed"),
    ("queued-one", "queued"),
    ("self-referencing", "published"),
    ("another-draft", "draft"),
]


@dataclass
class BuiltSite:
    """What a test needs to poke the built site: builder, ids by slug, assets by name."""

    builder: SiteBuilder
    token: str
    collections: dict[str, str] = field(default_factory=dict)
    """collection slug -> id"""
    items: dict[str, dict[str, str]] = field(default_factory=dict)
    """collection slug -> item slug -> id"""
    assets: dict[str, dict[str, Any]] = field(default_factory=dict)
    """file name -> asset"""
    folders: dict[str, str] = field(default_factory=dict)
    """folder path -> id"""
    kinds: dict[str, str] = field(default_factory=dict)
    """option name -> id"""

    @property
    def site_id(self) -> str:
        return self.builder.site_id

    @property
    def fr(self) -> str:
        return self.builder.locale_ids[1]

    def item(self, collection: str, slug: str) -> str:
        return self.items[collection][slug]


def build_site(
    emulator: Any, name: str, *, logo_folder: str | None = None, extra_bytes: bytes = b""
) -> BuiltSite:
    """Creates a site with every field type, state, locale and asset kind verify compares."""
    admin = emulator.admin
    site = admin.create_site(name, locales=LOCALES)
    token = admin.mint_token([site["id"]])
    b = SiteBuilder(emulator.base_url, token, site)
    out = BuiltSite(builder=b, token=token)

    images = b.create_folder("Images")
    covers = b.create_folder("Covers", images["id"])
    docs = b.create_folder("Documents")
    out.folders = {"Images": images["id"], "Images/Covers": covers["id"], "Documents": docs["id"]}
    for n in (1, 2, 3):
        out.assets[f"cover-{n}.png"] = b.upload_asset(
            f"cover-{n}.png", png_bytes(24, 16, n), covers["id"], alt=f"Cover {n}"
        )
    out.assets["diagram.png"] = b.upload_asset(
        "diagram.png", png_bytes(30, 20, 42), images["id"], alt="Diagram"
    )
    out.assets["other.png"] = b.upload_asset("other.png", png_bytes(30, 20, 43) + extra_bytes)
    out.assets["guide.pdf"] = b.upload_asset("guide.pdf", pdf_bytes("Guide"), docs["id"])
    out.assets["logo.png"] = b.upload_asset(
        "logo.png",
        png_bytes(16, 16, 7),
        out.folders[logo_folder] if logo_folder else None,
        display_name="Acme logo",
    )

    categories = b.create_collection(
        "Categories",
        "Category",
        "categories",
        [
            {"type": "PlainText", "displayName": "Description", "slug": "description"},
            {"type": "Color", "displayName": "Colour", "slug": "colour"},
        ],
    )
    authors = b.create_collection(
        "Authors",
        "Author",
        "authors",
        [
            {"type": "Image", "displayName": "Avatar", "slug": "avatar"},
            {"type": "Email", "displayName": "Email", "slug": "email"},
            {"type": "Phone", "displayName": "Phone", "slug": "phone"},
            {"type": "Link", "displayName": "Website", "slug": "website"},
        ],
    )
    posts = b.create_collection(
        "Blog Posts",
        "Blog Post",
        "blog-posts",
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
            {
                "type": "MultiReference",
                "displayName": "Categories",
                "slug": "categories",
                "metadata": {"collectionId": categories["id"]},
            },
        ],
    )
    b.create_field(
        posts["id"],
        {
            "type": "Reference",
            "displayName": "Author",
            "slug": "author",
            "metadata": {"collectionId": authors["id"]},
        },
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
    out.collections = {
        "categories": categories["id"],
        "authors": authors["id"],
        "blog-posts": posts["id"],
    }
    out.kinds = b.option_ids(posts["id"], "kind")

    cats = b.create_items(
        categories["id"],
        [
            {"name": "Engineering", "slug": "engineering", "colour": "#1F6FEB"},
            {"name": "Design", "slug": "design", "colour": "rgb(248, 81, 73)"},
            {"name": "Culture", "slug": "culture", "description": "People."},
        ],
    )
    b.update_items(
        categories["id"],
        [{"id": cats["engineering"], "fieldData": {"name": "Ingénierie"}}],
        locale=out.fr,
    )
    people = b.create_items(
        authors["id"],
        [
            {
                "name": "Ada Lovelace",
                "slug": "ada",
                "avatar": {"url": out.assets["cover-1.png"]["hostedUrl"], "alt": "Ada"},
                "email": "ada@example.com",
                "phone": "+44 20 7946 0000",
                "website": "https://example.com/ada",
            },
            {"name": "Alan Turing", "slug": "alan", "email": "alan@example.com"},
        ],
    )
    diagram = out.assets["diagram.png"]["hostedUrl"]
    data = []
    for n, (slug, _state) in enumerate(POSTS):
        d: dict[str, Any] = {
            "name": slug.replace("-", " ").title(),
            "slug": slug,
            "summary": f"Summary {n}.",
            "body": f'<h2>Post {n}</h2><p>Text.</p><figure><img src="{diagram}" alt="d"></figure>'
            '<p><a href="https://example.com/x">a link</a></p>',
            "cover": {"url": out.assets[f"cover-{1 + n % 3}.png"]["hostedUrl"], "alt": f"C{n}"},
            "kind": out.kinds[KINDS[n % 3]],
            "published-on": f"2025-0{1 + n}-0{1 + n}T09:30:00.000Z",
            "featured": n % 2 == 0,
            "reading-time": 3 + n,
            "author": people["ada" if n % 2 == 0 else "alan"],
            "categories": [cats["engineering"], cats["design"]] if n % 2 else [cats["culture"]],
        }
        if n % 3 == 0:
            d["gallery"] = [
                {"url": out.assets["cover-2.png"]["hostedUrl"], "alt": "G1"},
                {"url": out.assets["cover-3.png"]["hostedUrl"], "alt": "G2"},
            ]
            d["video"] = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
            d["attachment"] = {"url": out.assets["guide.pdf"]["hostedUrl"]}
        data.append(d)
    post_ids = b.create_items(posts["id"], data)
    b.update_items(
        posts["id"],
        [
            {
                "id": post_ids["self-referencing"],
                "fieldData": {
                    "related-posts": [post_ids["self-referencing"], post_ids["published-one"]]
                },
            },
            {
                "id": post_ids["published-one"],
                "fieldData": {"related-posts": [post_ids["published-two"]]},
            },
        ],
    )
    b.update_items(
        posts["id"],
        [
            {"id": post_ids[slug], "fieldData": {"name": f"[FR] {slug}", "summary": "Résumé."}}
            for slug, _ in POSTS
        ],
        locale=out.fr,
    )
    notes = b.create_collection(
        "Notes", "Note", "notes", [{"type": "Number", "displayName": "Rank", "slug": "rank"}]
    )
    note_ids = b.create_items(
        notes["id"],
        [{"name": f"Note {n}", "slug": f"note-{n}", "rank": n / 4} for n in range(NOTES)],
    )
    b.publish(notes["id"], note_ids.values())
    out.collections["notes"] = notes["id"]
    out.items = {"categories": cats, "authors": people, "blog-posts": post_ids, "notes": note_ids}

    # states
    b.publish(categories["id"], cats.values())
    b.publish(authors["id"], people.values())
    b.publish(
        posts["id"],
        [post_ids[s] for s, state in POSTS if state in ("published", "archived", "changed")],
    )
    b.update_items(
        posts["id"], [{"id": post_ids[s], "isDraft": True} for s, st in POSTS if st == "draft"]
    )
    b.update_items(
        posts["id"],
        [{"id": post_ids[s], "isArchived": True} for s, st in POSTS if st == "archived"],
    )
    b.update_items(
        posts["id"],
        [
            {"id": post_ids[s], "fieldData": {"summary": "Edited after publishing."}}
            for s, st in POSTS
            if st == "changed"
        ],
    )
    return out
