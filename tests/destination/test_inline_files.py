"""Rich text showing a file that is not in the Assets panel: uploaded once, then pointed at."""

from __future__ import annotations

from webflow_emulator.seeds.builder import png_bytes

from .compare import canonical, differences
from .conftest import Migrator


def test_rich_text_file_outside_the_assets_panel_is_uploaded_once(small: Migrator) -> None:
    export = small.emulator.admin.export_site(small.sites.source_id)
    from webflow_emulator.seeds.builder import SiteBuilder

    b = SiteBuilder(
        small.sites.base_url,
        small.emulator.admin.mint_token([small.sites.source_id]),
        export["site"],
    )
    posts = next(c for c in export["collections"] if c["slug"] == "posts")
    # an image used in a CMS item, then deleted from the Assets panel: only the CMS file stays
    temp = b.upload_asset("orphan.png", png_bytes(9, 9, 77))
    made = b.create_items(
        posts["id"], [{"name": "Holder", "slug": "holder", "cover": {"url": temp["hostedUrl"]}}]
    )
    b.call("DELETE", f"/assets/{temp['id']}")
    holder = b.call("GET", f"/collections/{posts['id']}/items/{made['holder']}")
    cms_url = holder["fieldData"]["cover"]["url"]
    body = f'<p>Inline</p><img src="{cms_url}" alt="o"><img src="{cms_url}" alt="again">'
    b.create_items(posts["id"], [{"name": "Inline", "slug": "inline", "body": body}])
    small.extract()
    small.emulator.admin.reset_stats()
    report = small.migrate()
    assert report.ok, report.summary()
    assert small.target_stats()["byOperation"]["create-asset"] == 3  # shared, other, orphan
    src = small.emulator.admin.export_site(small.sites.source_id)
    tgt = small.emulator.admin.export_site(small.sites.target_id)
    assert [d for d in differences(src, tgt) if not d.startswith("assets")] == []
    target_urls = {a["hostedUrl"] for a in tgt["assets"]}
    body_out = canonical(tgt)["collections"]["posts"]["items"]["inline"]["en-US"]["staged"]["body"]
    primary = tgt["site"]["locales"]["primary"]["cmsLocaleId"]
    raw = next(
        it["locales"][primary]["staged"]["fieldData"]["body"]
        for c in tgt["collections"]
        if c["slug"] == "posts"
        for it in c["items"]
        if it["locales"][primary]["staged"]["fieldData"]["slug"] == "inline"
    )
    assert cms_url not in raw
    assert any(u in raw for u in target_urls)
    assert body_out.count("<img") == 2
