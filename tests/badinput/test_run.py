"""Run-level bad input: tokens, site ids, the staging and ledger files, a target schema that
cannot hold the source. Each stops before anything is written, with one clear line naming what
is wrong (exit code != 0, never a traceback, never the token); where the input can be fixed, the
next run completes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipelines import migrate as cli
from webflow_emulator.seeds.builder import SiteBuilder

NOTE_FIELDS = [
    {"type": "PlainText", "displayName": "Text", "slug": "text"},
    {
        "type": "Option",
        "displayName": "Mood",
        "slug": "mood",
        "metadata": {"options": [{"name": "Happy"}, {"name": "Sad"}]},
    },
]


@dataclass
class World:
    """A tiny source (3 notes), an empty target, their tokens and a CLI runner."""

    emulator: Any
    tmp: Path
    source_id: str
    target_id: str
    source_token: str
    target_token: str
    other_token: str
    monkeypatch: pytest.MonkeyPatch

    @property
    def staging(self) -> Path:
        return self.tmp / "work" / "staging.duckdb"

    def env(self, **overrides: str | None) -> None:
        values: dict[str, str | None] = {
            "SOURCES__WEBFLOW__BASE_URL": self.emulator.base_url,
            "DESTINATION__WEBFLOW__BASE_URL": self.emulator.base_url,
            "SOURCES__WEBFLOW__API_TOKEN": self.source_token,
            "DESTINATION__WEBFLOW__API_TOKEN": self.target_token,
            "SOURCES__WEBFLOW__REQUESTS_PER_MINUTE": "0",
            "DESTINATION__WEBFLOW__REQUESTS_PER_MINUTE": "0",
            "SOURCES__WEBFLOW__SITE_ID": None,
            "DESTINATION__WEBFLOW__SITE_ID": None,
        }
        values.update(overrides)
        for key, value in values.items():
            if value is None:
                self.monkeypatch.delenv(key, raising=False)
            else:
                self.monkeypatch.setenv(key, value)

    def run(
        self,
        *extra: str,
        source: str | None = None,
        target: str | None = None,
        staging: Path | None = None,
    ) -> int:
        argv = [
            "--source-site",
            source or self.source_id,
            "--target-site",
            target or self.target_id,
            "--staging",
            str(staging or self.staging),
            *extra,
        ]
        return cli.main(argv)

    def target_notes(self) -> set[str]:
        export = self.emulator.admin.export_site(self.target_id)
        return {
            next(iter(it["locales"].values()))["staged"]["fieldData"]["slug"]
            for c in export["collections"]
            for it in c["items"]
        }

    def writes(self) -> int:
        stats = self.emulator.admin.stats()["bySite"].get(self.target_id) or {}
        return sum(n for m, n in (stats.get("byMethod") or {}).items() if m != "GET")


@pytest.fixture
def world(emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    admin = emulator.admin
    src, tgt, other = (admin.create_site(n) for n in ("Notes", "Notes (new)", "Elsewhere"))
    source_token = admin.mint_token([src["id"]], scopes=["sites:read", "cms:read", "assets:read"])
    b = SiteBuilder(emulator.base_url, admin.mint_token([src["id"]]), src)
    notes = b.create_collection("Notes", "Note", "notes", NOTE_FIELDS)
    moods = b.option_ids(notes["id"], "mood")
    b.create_items(
        notes["id"],
        [
            {"name": f"Note {n}", "slug": f"note-{n}", "text": "hi", "mood": moods["Happy"]}
            for n in range(3)
        ],
    )
    w = World(
        emulator,
        tmp_path,
        src["id"],
        tgt["id"],
        source_token,
        admin.mint_token([tgt["id"]]),
        admin.mint_token([other["id"]]),
        monkeypatch,
    )
    w.env()
    emulator.admin.reset_stats()
    yield w


def _err(capsys: pytest.CaptureFixture[str]) -> str:
    out = capsys.readouterr()
    assert "Traceback" not in out.err + out.out
    return out.err


def test_missing_token(world: World) -> None:
    world.env(SOURCES__WEBFLOW__API_TOKEN=None)
    with pytest.raises(SystemExit, match=r"no API token for sources\.webflow: set SOURCES__"):
        world.run()
    world.env(DESTINATION__WEBFLOW__API_TOKEN=None)
    with pytest.raises(SystemExit, match="DESTINATION__WEBFLOW__API_TOKEN"):
        world.run()
    assert world.writes() == 0


def test_missing_site_id(world: World) -> None:
    with pytest.raises(SystemExit, match="no source site id: pass --source-site"):
        cli.main(["--target-site", world.target_id, "--staging", str(world.staging)])
    with pytest.raises(SystemExit, match="no target site id: pass --target-site"):
        cli.main(["--source-site", world.source_id, "--staging", str(world.staging)])


@pytest.mark.parametrize("side", ["source", "target"])
@pytest.mark.parametrize("token", ["abc def", "tok\nen", "t\u00f6ken", "bad\ttoken"])
def test_malformed_token(
    world: World, capsys: pytest.CaptureFixture[str], side: str, token: str
) -> None:
    """`requests` refused such a header with the token in its message: now the client refuses
    the token first, and says so without showing it."""
    key = "SOURCES__WEBFLOW__API_TOKEN" if side == "source" else "DESTINATION__WEBFLOW__API_TOKEN"
    world.env(**{key: token})
    assert world.run() == 3
    err = _err(capsys)
    assert f"the {side} token ({key}): api_token is malformed" in err
    assert token.strip() not in err
    assert world.writes() == 0


def test_surrounding_whitespace_of_a_token_is_forgiven(world: World) -> None:
    world.env(SOURCES__WEBFLOW__API_TOKEN=f"  {world.source_token}\n")
    assert world.run() == 0
    assert world.target_notes() == {"note-0", "note-1", "note-2"}


@pytest.mark.parametrize("side", ["source", "target"])
def test_token_of_another_site(world: World, capsys: pytest.CaptureFixture[str], side: str) -> None:
    key = "SOURCES__WEBFLOW__API_TOKEN" if side == "source" else "DESTINATION__WEBFLOW__API_TOKEN"
    world.env(**{key: world.other_token})
    assert world.run() == 3
    site = world.source_id if side == "source" else world.target_id
    assert (
        f"the {side} token ({key}) was refused: it has no access to site {site} (a token "
        "of another site?) [403 forbidden]"
    ) in _err(capsys)
    assert world.writes() == 0


def test_revoked_or_mistyped_token(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.env(DESTINATION__WEBFLOW__API_TOKEN="f" * 64)
    assert world.run() == 3
    assert (
        "the target token (DESTINATION__WEBFLOW__API_TOKEN) was refused: it is not valid"
        in _err(capsys)
    )


@pytest.mark.parametrize("side", ["source", "target"])
def test_site_that_does_not_exist(
    world: World, capsys: pytest.CaptureFixture[str], side: str
) -> None:
    missing = "0123456789abcdef01234567"
    assert world.run(**{side: missing}) == 4
    assert f"{side} site {missing} does not exist [404]" in _err(capsys)
    assert world.writes() == 0


def test_site_id_that_is_not_an_id(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """`../x` used to reach dlt as part of a pipeline name (InvalidPipelineName traceback)."""
    assert world.run(source="../../etc") == 4
    assert "source site id '../../etc' is not a Webflow site id" in _err(capsys)


def test_corrupted_staging_file_then_recovery(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.staging.parent.mkdir(parents=True)
    world.staging.write_bytes(os.urandom(16384))
    assert world.run() == 5
    err = _err(capsys)
    assert f"staging database {world.staging} is not a valid DuckDB file" in err
    assert "move it away and run again with --full" in err
    assert world.writes() == 0
    world.staging.rename(world.staging.with_suffix(".broken"))
    assert world.run("--full") == 0
    assert world.target_notes() == {"note-0", "note-1", "note-2"}


def test_corrupted_ledger_file(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    ledger = world.staging.with_name("staging.ledger.duckdb")
    ledger.parent.mkdir(parents=True)
    ledger.write_bytes(b"\0" * 8192)
    assert world.run() == 5
    assert f"ledger database {ledger} is not a valid DuckDB file" in _err(capsys)


def test_foreign_duckdb_file_is_not_touched(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another application's database: dlt would have added our tables to it."""
    world.staging.parent.mkdir(parents=True)
    con = duckdb.connect(str(world.staging))
    con.execute("create table invoices (id integer, amount double)")
    con.execute("insert into invoices values (1, 9.5)")
    con.close()
    before = world.staging.read_bytes()
    for extra in ((), ("--skip-extract",)):
        assert world.run(*extra) == 5
        assert (
            f"staging database {world.staging} belongs to something else (it holds "
            "main.invoices): it was not touched"
        ) in _err(capsys)
    assert world.staging.read_bytes() == before
    assert world.writes() == 0


def test_foreign_file_through_the_python_api(world: World, tmp_path: Path) -> None:
    from destinations.webflow import StagingError, migrate

    path = tmp_path / "other.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create table invoices (id integer)")
    con.close()
    with pytest.raises(StagingError, match="holds no extracted Webflow site"):
        migrate(
            path,
            world.source_id,
            world.target_id,
            world.target_token,
            world.emulator.base_url,
            pipelines_dir=str(tmp_path / "p"),
        )


LOCKER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("locked", flush=True)
time.sleep(120)
"""


def test_staging_file_locked_by_another_process(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """A `duckdb` shell left open: the message names the file and the PID; nothing pending is
    lost, and the run after the lock is released migrates everything."""
    assert world.run() == 0  # a first sync: the staging file and a ledger exist
    world.emulator.admin.reset_stats()
    b = SiteBuilder(
        world.emulator.base_url,
        world.emulator.admin.mint_token([world.source_id]),
        world.emulator.admin.export_site(world.source_id)["site"],
    )
    cid = world.emulator.admin.export_site(world.source_id)["collections"][0]["id"]
    b.create_items(cid, [{"name": "Late", "slug": "late"}])
    locker = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(world.staging)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
        capsys.readouterr()
        assert world.run() == 5
        err = _err(capsys)
        assert f"staging database {world.staging} is locked by PID {locker.pid}" in err
        assert world.writes() == 0
    finally:
        locker.kill()
        locker.wait()
    assert world.run() == 0
    assert world.target_notes() == {"note-0", "note-1", "note-2", "late"}


def _target_notes(world: World, fields: list[dict[str, Any]]) -> None:
    site = world.emulator.admin.export_site(world.target_id)["site"]
    SiteBuilder(world.emulator.base_url, world.target_token, site).create_collection(
        "Notes", "Note", "notes", fields
    )
    world.emulator.admin.reset_stats()


def test_option_missing_in_the_target(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """Option ids differ per site and cannot be added through the API: the run stops before
    any write, naming the collection, the field and the option."""
    fields = [NOTE_FIELDS[0], {**NOTE_FIELDS[1], "metadata": {"options": [{"name": "Happy"}]}}]
    _target_notes(world, fields)
    assert world.run() == 2
    assert "field notes.mood -> notes.mood: options missing in the target ['Sad']" in _err(capsys)
    assert world.writes() == 0


def test_field_of_another_type_in_the_target(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    _target_notes(world, [{**NOTE_FIELDS[0], "type": "Number"}, NOTE_FIELDS[1]])
    assert world.run() == 2
    assert "field notes.text -> notes.text: type Number in the target, PlainText here" in (
        _err(capsys)
    )
    assert world.writes() == 0


def test_target_collection_near_the_field_limit(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """57 fields of its own + name/slug: the source's 2 fields would make 61. Creating them
    one by one failed at the 61st with a 400 that stopped the run half-way."""
    fields = [
        {"type": "PlainText", "displayName": f"Extra {n}", "slug": f"extra-{n}"} for n in range(57)
    ]
    _target_notes(world, fields)
    assert world.run() == 2
    assert (
        "collection notes -> notes: the target has 59 fields, 2 more (mood, text) would "
        "exceed Webflow's limit of 60 fields per collection"
    ) in _err(capsys)
    assert world.writes() == 0


def test_verify_with_a_malformed_token(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.env(DESTINATION__WEBFLOW__API_TOKEN="tok en")
    argv = ["verify", "--source-site", world.source_id, "--target-site", world.target_id]
    assert cli.main(argv) == 3
    err = _err(capsys)
    assert "ERROR: a token was refused or is malformed: api_token is malformed" in err
    assert "tok en" not in err
