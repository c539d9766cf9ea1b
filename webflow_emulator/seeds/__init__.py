"""Seed registry: `webflow_emulator.seeds.<name>.build(base_url, admin) -> dict`.

A seed builds sites through the public /v2 API and the admin interface over HTTP (never by
poking the model), and returns what a user needs: site ids, tokens, base URL.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import ApiError

if TYPE_CHECKING:
    from ..admin_client import AdminClient

SeedBuild = Callable[[str, "AdminClient"], dict[str, Any]]

# name -> module under webflow_emulator.seeds (modules may be absent, e.g. `demo` until written)
SEEDS: dict[str, str] = {"minimal": "minimal", "demo": "demo"}


def get_seed(name: str) -> SeedBuild:
    """The `build` function of a registered (or any importable, well-named) seed module."""
    module_name = SEEDS.get(name, name)
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", module_name or ""):
        raise ApiError(404, "resource_not_found", f"Requested resource not found: seed {name!r}")
    try:
        module = importlib.import_module(f"{__name__}.{module_name}")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.endswith(module_name):
            raise ApiError(
                404, "resource_not_found", f"Requested resource not found: seed {name!r}"
            ) from None
        raise
    build = getattr(module, "build", None)
    if not callable(build):
        raise ApiError(404, "resource_not_found", f"Seed {name!r} has no build()")
    return build
