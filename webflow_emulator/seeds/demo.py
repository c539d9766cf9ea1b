"""The demo world: a realistic two-locale blog site to migrate, and an empty target site.

It holds what makes a migration hard: a self-referencing MultiReference (related posts), a
reference cycle between two collections (posts -> author, author -> featured post), Option,
DateTime, Switch, Number, Color, Link, VideoLink and Email fields, cover images, MultiImage
galleries, File attachments, rich text with inline images, the same image used by many items,
drafts, archived items, published items with unpublished changes, a queued item, French
translations, and assets in nested folders.
"""

from __future__ import annotations

from typing import Any

from ..admin_client import AdminClient
from .builder import SiteBuilder, pdf_bytes, png_bytes

LOCALES = [("en-US", "English"), ("fr-FR", "French")]
SOURCE_SCOPES = ["sites:read", "cms:read", "assets:read"]
TARGET_SCOPES = ["sites:read", "cms:read", "cms:write", "assets:read", "assets:write"]

CATEGORIES = [
    ("Engineering", "engineering", "#1F6FEB", "Ingénierie"),
    ("Design", "design", "#D2A8FF", "Design"),
    ("Product", "product", "#3FB950", "Produit"),
    ("Culture", "culture", "#F0883E", "Culture"),
    ("Announcements", "announcements", "rgb(248, 81, 73)", "Annonces"),
]
AUTHORS = [
    ("Ada Lovelace", "ada-lovelace", "ada@example.com"),
    ("Grace Hopper", "grace-hopper", "grace@example.com"),
    ("Alan Turing", "alan-turing", "alan@example.com"),
    ("Katherine Johnson", "katherine-johnson", "katherine@example.com"),
]
TOPICS = [
    "Migrating a CMS without downtime",
    "Designing for two locales",
    "What rate limits teach about batching",
    "Rich text that survives a move",
    "Reference fields and the order of things",
    "Images once, links everywhere",
    "Drafts, archives and what is live",
    "Keeping two sites in step",
    "A field guide to Option fields",
    "Counting requests, not seconds",
    "Self-references without tears",
    "The hash that saves an upload",
]
KINDS = ["Article", "Tutorial", "News"]


def build(base_url: str, admin: AdminClient) -> dict[str, Any]:
    """Creates the source and target sites and the source's content; returns ids and tokens."""
    source_site = admin.create_site("Acme Blog", locales=LOCALES)
    target_site = admin.create_site("Acme Blog (new)", locales=LOCALES)
    # seeding needs write access to the source; the demo's source token is read-only
    seed_token = admin.mint_token([source_site["id"]])
    source_token = admin.mint_token([source_site["id"]], scopes=SOURCE_SCOPES)
    target_token = admin.mint_token([target_site["id"]], scopes=TARGET_SCOPES)

    site = SiteBuilder(base_url, seed_token, source_site)
    counts = _populate(site)
    return {
        "baseUrl": base_url,
        "source": {"siteId": source_site["id"], "token": source_token},
        "target": {"siteId": target_site["id"], "token": target_token},
        "counts": counts,
    }


def _populate(site: SiteBuilder) -> dict[str, int]:
    fr = site.locale_ids[1]

    # assets in nested folders: Images/Blog/Covers, Images/People, Documents
    images = site.create_folder("Images")
    blog = site.create_folder("Blog", images["id"])
    covers = site.create_folder("Covers", blog["id"])
    people = site.create_folder("People", images["id"])
    documents = site.create_folder("Documents")
    cover_assets = [
        site.upload_asset(f"cover-{n}.png", png_bytes(96, 64, n), covers["id"], alt=f"Cover {n}")
        for n in range(1, 7)
    ]
    avatar_assets = [
        site.upload_asset(f"avatar-{n}.png", png_bytes(48, 48, 100 + n), people["id"])
        for n in range(1, len(AUTHORS) + 1)
    ]
    inline_asset = site.upload_asset(
        "diagram.png", png_bytes(120, 80, 42), blog["id"], alt="Architecture diagram"
    )
    logo = site.upload_asset("logo.png", png_bytes(32, 32, 7), None, display_name="Acme logo")
    guide = site.upload_asset("style-guide.pdf", pdf_bytes("Acme style guide"), documents["id"])
    assets = [*cover_assets, *avatar_assets, inline_asset, logo, guide]

    categories = site.create_collection(
        "Categories",
        "Category",
        "categories",
        [
            {"type": "PlainText", "displayName": "Description", "slug": "description"},
            {"type": "Color", "displayName": "Colour", "slug": "colour"},
        ],
    )
    authors = site.create_collection(
        "Authors",
        "Author",
        "authors",
        [
            {"type": "RichText", "displayName": "Bio", "slug": "bio"},
            {"type": "Image", "displayName": "Avatar", "slug": "avatar"},
            {"type": "Email", "displayName": "Email", "slug": "email"},
            {"type": "Link", "displayName": "Website", "slug": "website"},
        ],
    )
    posts = site.create_collection(
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
    # reference fields that need their target collection (and, for the cycle, each other)
    site.create_field(
        posts["id"],
        {
            "type": "Reference",
            "displayName": "Author",
            "slug": "author",
            "metadata": {"collectionId": authors["id"]},
        },
    )
    site.create_field(
        posts["id"],
        {
            "type": "MultiReference",
            "displayName": "Related Posts",
            "slug": "related-posts",
            "metadata": {"collectionId": posts["id"]},
        },
    )
    site.create_field(
        authors["id"],
        {
            "type": "Reference",
            "displayName": "Featured Post",
            "slug": "featured-post",
            "metadata": {"collectionId": posts["id"]},
        },
    )
    kinds = site.option_ids(posts["id"], "kind")

    category_ids = site.create_items(
        categories["id"],
        [
            {"name": name, "slug": slug, "description": f"Posts about {name.lower()}.", "colour": c}
            for name, slug, c, _ in CATEGORIES
        ],
    )
    site.update_items(
        categories["id"],
        [
            {"id": category_ids[slug], "fieldData": {"name": fr_name}}
            for _, slug, _, fr_name in CATEGORIES
        ],
        locale=fr,
    )
    author_ids = site.create_items(
        authors["id"],
        [
            {
                "name": name,
                "slug": slug,
                "bio": f"<p>{name} writes about software.</p>",
                "avatar": {"url": avatar_assets[n]["hostedUrl"], "alt": name},
                "email": email,
                "website": f"https://example.com/{slug}",
            }
            for n, (name, slug, email) in enumerate(AUTHORS)
        ],
    )

    post_data = []
    for n, topic in enumerate(TOPICS * 3):
        round_no = n // len(TOPICS)
        title = topic if round_no == 0 else f"{topic}, part {round_no + 1}"
        slug = "-".join(w.strip(",").lower() for w in title.split())
        cover = cover_assets[n % len(cover_assets)]  # the same cover used by many posts
        body = (
            f"<h2>{title}</h2><p>Notes on {topic.lower()}.</p>"
            f'<figure><img src="{inline_asset["hostedUrl"]}" alt="diagram"></figure>'
            '<p>Second paragraph with a <a href="https://example.com">link</a>.</p>'
        )
        data: dict[str, Any] = {
            "name": title,
            "slug": slug,
            "summary": f"A short read on {topic.lower()}.",
            "body": body,
            "cover": {"url": cover["hostedUrl"], "alt": cover.get("altText") or title},
            "kind": kinds[KINDS[n % len(KINDS)]],
            "published-on": f"2025-{1 + n % 12:02d}-{1 + n % 27:02d}T09:30:00.000Z",
            "featured": n % 5 == 0,
            "reading-time": 3 + n % 9,
            "author": author_ids[AUTHORS[n % len(AUTHORS)][1]],
            "categories": [CATEGORIES[n % 5][1], CATEGORIES[(n + 2) % 5][1]],
        }
        data["categories"] = [category_ids[s] for s in data["categories"]]
        if n % 3 == 0:
            data["gallery"] = [
                {"url": cover_assets[(n + k) % len(cover_assets)]["hostedUrl"], "alt": f"View {k}"}
                for k in range(3)
            ]
        if n % 4 == 0:
            data["video"] = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
        if n % 6 == 0:
            data["attachment"] = {"url": guide["hostedUrl"]}
        post_data.append(data)
    post_ids = site.create_items(posts["id"], post_data)
    slugs = [d["slug"] for d in post_data]

    # self-references and the cycle, set once every item exists
    site.update_items(
        posts["id"],
        [
            {
                "id": post_ids[slug],
                "fieldData": {
                    "related-posts": [post_ids[slugs[(n + 1) % len(slugs)]], post_ids[slug]]
                    if n % 7 == 0
                    else [post_ids[slugs[(n + 1) % len(slugs)]]]
                },
            }
            for n, slug in enumerate(slugs)
        ],
    )
    site.update_items(
        authors["id"],
        [
            {"id": author_ids[slug], "fieldData": {"featured-post": post_ids[slugs[n]]}}
            for n, (_, slug, _) in enumerate(AUTHORS)
        ],
    )
    # French translations of every post's title and summary
    site.update_items(
        posts["id"],
        [
            {"id": post_ids[slug], "fieldData": {"name": f"[FR] {d['name']}", "summary": "Résumé."}}
            for slug, d in zip(slugs, post_data, strict=True)
        ],
        locale=fr,
    )

    # states: publish most, then leave drafts, archived and edited-after-publish items
    drafts = set(slugs[5::9])  # never published
    queued = {slugs[8]}  # not a draft, never published: "queued to publish"
    published = [post_ids[s] for s in slugs if s not in drafts and s not in queued]
    site.publish(categories["id"], category_ids.values())
    site.publish(authors["id"], author_ids.values())
    site.publish(posts["id"], published)
    site.update_items(posts["id"], [{"id": post_ids[s], "isDraft": True} for s in sorted(drafts)])
    archived = [post_ids[s] for s in slugs[4::11] if s not in drafts]
    site.update_items(posts["id"], [{"id": i, "isArchived": True} for i in archived])
    changed = [post_ids[s] for s in slugs[2::10] if s not in drafts and post_ids[s] not in archived]
    site.update_items(
        posts["id"],
        [{"id": i, "fieldData": {"summary": "Edited after publishing."}} for i in changed],
    )

    return {
        "collections": 3,
        "items": len(category_ids) + len(author_ids) + len(post_ids),
        "itemLocales": (len(category_ids) + len(author_ids) + len(post_ids)) * len(site.locale_ids),
        "assets": len(assets),
        "assetFolders": 5,
        "drafts": len(drafts),
        "archived": len(archived),
        "publishedWithChanges": len(changed),
    }
