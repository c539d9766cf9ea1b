"""Helpers of the sync tests: the migrate CLI as a subprocess against the in-process emulator,
and checks that a target holds no duplicate and that the source was only read."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pipelines.verify import SiteRef, VerifyReport, verify_sites
from webflow_emulator import EmulatorServer
from webflow_emulator.seeds.builder import SiteBuilder

ROOT = Path(__file__).resolve().parents[2]
MIGRATE = ROOT / "pipelines" / "migrate.py"


@dataclass
class World:
    """A seeded source and target of the emulator, and where the CLI keeps its files."""

    emu: EmulatorServer
    source_id: str
    source_token: str
    target_id: str
    target_token: str
    tmp_path: Path

    @property
    def staging(self) -> Path:
        return self.tmp_path / "work" / "staging.duckdb"

    def env(self, **extra: str) -> dict[str, str]:
        """Tokens and base URLs through the environment (never argv), no pacing, fast retries."""
        env = dict(os.environ)
        env.update(
            SOURCES__WEBFLOW__API_TOKEN=self.source_token,
            DESTINATION__WEBFLOW__API_TOKEN=self.target_token,
            SOURCES__WEBFLOW__BASE_URL=self.emu.base_url,
            DESTINATION__WEBFLOW__BASE_URL=self.emu.base_url,
            SOURCES__WEBFLOW__REQUESTS_PER_MINUTE="0",
            DESTINATION__WEBFLOW__REQUESTS_PER_MINUTE="0",
            RUNTIME__DLTHUB_TELEMETRY="false",
            LOAD__RAISE_ON_MAX_RETRIES="5",
        )
        env.update(extra)
        return env

    def argv(self, *args: str) -> list[str]:
        return [
            sys.executable,
            str(MIGRATE),
            *args,
            "--source-site",
            self.source_id,
            "--target-site",
            self.target_id,
            "--staging",
            str(self.staging),
        ]

    def popen(self, *args: str, log: Path, **env: str) -> subprocess.Popen[bytes]:
        out = log.open("wb")
        return subprocess.Popen(
            self.argv(*args), env=self.env(**env), stdout=out, stderr=out, cwd=self.tmp_path
        )

    def cli(self, *args: str, timeout: float = 240, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.argv(*args),
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.tmp_path,
        )

    def verify(self) -> VerifyReport:
        return verify_sites(
            SiteRef(self.emu.base_url, self.source_token, self.source_id),
            SiteRef(self.emu.base_url, self.target_token, self.target_id),
        )

    def stats(self, site: str) -> dict[str, Any]:
        return self.emu.admin.stats()["bySite"].get(site) or {"byMethod": {}, "byOperation": {}}

    def builder(self, site_id: str) -> SiteBuilder:
        """Edits a site the way a user would (an admin-minted all-scopes token; the product's
        source token is read-only). Reset the stats after setup edits."""
        token = self.emu.admin.mint_token([site_id])
        return SiteBuilder(self.emu.base_url, token, self.emu.admin.export_site(site_id)["site"])

    def target_writes(self) -> int:
        return sum(n for m, n in self.stats(self.target_id)["byMethod"].items() if m != "GET")


def duplicates(export: dict[str, Any]) -> list[str]:
    """Everything the target holds twice: items per slug per locale (per collection), assets per
    MD5, folders per name + parent, collections per slug."""
    found: list[str] = []

    def dup(kind: str, keys: list[Any]) -> None:
        found.extend(f"{kind} {k!r} x{n}" for k, n in Counter(keys).items() if n > 1)

    dup("collection", [c["slug"] for c in export["collections"]])
    for c in export["collections"]:
        dup("field", [(c["slug"], f["slug"]) for f in c.get("fields") or []])
        keys = []
        for it in c["items"]:
            for loc, copy in it["locales"].items():
                keys.append((c["slug"], loc, copy["staged"]["fieldData"].get("slug")))
        dup("item", keys)
    dup("asset", [a.get("md5") for a in export["assets"]])
    dup("folder", [(f.get("displayName"), f.get("parentFolder")) for f in export["assetFolders"]])
    return found


def assert_source_only_read(world: World) -> None:
    """The source site must never be written to: only GETs in its request counts."""
    methods = world.stats(world.source_id)["byMethod"]
    assert set(methods) <= {"GET"}, methods


@pytest.fixture
def demo_world(emulator: EmulatorServer, tmp_path: Path) -> World:
    """The demo seed (two locales, reference cycle, assets in folders, every state), stats reset."""
    w = emulator.admin.seed("demo")
    (tmp_path / "work").mkdir()
    return World(
        emulator,
        w["source"]["siteId"],
        w["source"]["token"],
        w["target"]["siteId"],
        w["target"]["token"],
        tmp_path,
    )
