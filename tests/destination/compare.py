"""Site exports (`/_emulator/sites/{id}/export`) reduced to what a migration must preserve.

Nothing is compared by id or URL: collections and items by slug, locales by tag, options by
name, references by the referenced item's slug, files by the MD5 of their bytes, folders by path.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

_URL = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")


def _locales(export: dict[str, Any]) -> dict[str, str]:
    loc = export["site"]["locales"]
    return {x["cmsLocaleId"]: x["tag"] for x in [loc["primary"], *loc["secondary"]]}


def _md5s(export: dict[str, Any]) -> dict[str, str]:
    out = {f["url"]: f["md5"] for f in export.get("files", []) if f.get("md5")}
    out.update({a["hostedUrl"]: a["md5"] for a in export.get("assets", []) if a.get("md5")})
    return out


def canonical(export: dict[str, Any]) -> dict[str, Any]:
    tags = _locales(export)
    md5 = _md5s(export)
    colls = {c["id"]: c for c in export["collections"]}
    slug_of: dict[str, str] = {}
    for c in export["collections"]:
        for it in c["items"]:
            for body in it["locales"].values():
                slug_of[it["id"]] = body["staged"]["fieldData"]["slug"]
                break

    def value(f: dict[str, Any], v: Any) -> Any:
        t = f["type"]
        if v is None or v == [] or v == "":
            return None
        if t == "Reference":
            return slug_of.get(v, "?dangling")
        if t == "MultiReference":
            return sorted(slug_of.get(x, "?dangling") for x in v)
        if t == "Option":
            return {o["id"]: o["name"] for o in f["validations"]["options"]}.get(v, f"?{v}")
        if t in ("Image", "File"):
            return (md5.get(v.get("url"), "?url"), v.get("alt"))
        if t == "MultiImage":
            return [(md5.get(x.get("url"), "?url"), x.get("alt")) for x in v]
        if t == "RichText":
            return _URL.sub(
                lambda m: m.group(0).replace(m.group(1), md5.get(m.group(1), m.group(1))), v
            )
        return v

    out: dict[str, Any] = {"collections": {}, "assets": Counter(), "folders": set()}
    for c in export["collections"]:
        fields = {f["slug"]: f for f in c["fields"]}
        schema = sorted(
            (
                f["slug"],
                f["type"],
                f["displayName"],
                tuple(o["name"] for o in (f.get("validations") or {}).get("options") or []),
                colls[f["validations"]["collectionId"]]["slug"]
                if f["type"] in ("Reference", "MultiReference")
                else None,
            )
            for f in c["fields"]
        )
        items = {}
        for it in c["items"]:
            per_locale = {}
            for loc_id, body in it["locales"].items():
                staged, live = body.get("staged"), body.get("live")

                def fd(
                    copy: dict[str, Any] | None, fields: dict[str, Any] = fields
                ) -> dict[str, Any] | None:
                    if copy is None:
                        return None
                    return {
                        k: value(fields[k], v)
                        for k, v in copy["fieldData"].items()
                        if k in fields and value(fields[k], v) is not None
                    }

                per_locale[tags[loc_id]] = {
                    "staged": fd(staged),
                    "isDraft": staged["isDraft"],
                    "isArchived": staged["isArchived"],
                    "live": fd(live),
                }
            items[slug_of[it["id"]]] = per_locale
        out["collections"][c["slug"]] = {"name": c["displayName"], "fields": schema, "items": items}
    folders = {f["id"]: f for f in export.get("assetFolders", [])}

    def path(fid: str | None) -> str:
        parts = []
        while fid:
            parts.append(folders[fid]["displayName"])
            fid = folders[fid].get("parentFolder")
        return "/".join(reversed(parts))

    out["folders"] = {path(fid) for fid in folders}
    for a in export.get("assets", []):
        out["assets"][
            (
                a["md5"],
                a["originalFileName"],
                a.get("altText"),
                a["displayName"],
                path(a.get("folderId")),
            )
        ] += 1
    return out


def differences(source: dict[str, Any], target: dict[str, Any]) -> list[str]:
    """Human-readable differences between two canonical sites (empty when equal)."""
    diffs: list[str] = []
    s, t = canonical(source), canonical(target)
    for slug, sc in s["collections"].items():
        tc = t["collections"].get(slug)
        if tc is None:
            diffs.append(f"collection {slug} missing")
            continue
        if sc["fields"] != tc["fields"]:
            diffs.append(f"{slug} fields: {sc['fields']} != {tc['fields']}")
        for islug, locales in sc["items"].items():
            tl = tc["items"].get(islug)
            if tl is None:
                diffs.append(f"{slug}/{islug} missing")
                continue
            for tag, v in locales.items():
                if tl.get(tag) != v:
                    diffs.append(f"{slug}/{islug}[{tag}]: {v} != {tl.get(tag)}")
        for islug in tc["items"].keys() - sc["items"].keys():
            diffs.append(f"{slug}/{islug} unexpected in target")
    if s["folders"] != t["folders"]:
        diffs.append(f"folders {s['folders']} != {t['folders']}")
    if set(s["assets"]) != set(t["assets"]):
        diffs.append(f"assets {set(s['assets']) ^ set(t['assets'])}")
    return diffs
