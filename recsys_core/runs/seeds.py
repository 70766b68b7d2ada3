"""Runs of one configuration that differ only in their seed: what ``train --trials N`` makes.

``recsys-core train --trials N`` and the Train page's trials save N runs whose configurations are
equal apart from ``train.seed`` (seed, seed + 1, ...); the data split (``split_seed``) stays fixed.
The run folder records no group id, and runs trained one by one with the same settings and other
seeds are just as much a set of seeds, so a set is recognised by its configuration alone.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from typing import Any

from recsys_core.errors import RunStoreError
from recsys_core.runs.store import RunStore


def config_key(meta: Mapping[str, Any]) -> str:
    """The run's configuration without its seed, as canonical JSON: equal for seeds of one config."""
    config = copy.deepcopy(dict(meta.get("config") or {}))
    train = dict(config.get("train") or {})
    train.pop("seed", None)
    config["train"] = train
    config.setdefault("refit", False)  # as RunConfig.from_dict reads runs saved before refitting
    return json.dumps(config, sort_keys=True, default=str)


def seed_of(meta: Mapping[str, Any]) -> int | None:
    seed = ((meta.get("config") or {}).get("train") or {}).get("seed")
    return int(seed) if isinstance(seed, int) else None


def seeds_of_one_config(metas: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the runs are two or more seeds of one configuration (equal configs, other seeds)."""
    if len(metas) < 2 or len({config_key(m) for m in metas}) != 1:
        return False
    seeds = [seed_of(m) for m in metas]
    return None not in seeds and len(set(seeds)) == len(seeds)


def seed_group(store: RunStore, run_id: str) -> list[str]:
    """The runs of ``store`` with ``run_id``'s configuration apart from the seed, ``run_id``
    included, by seed; just ``[run_id]`` when it has no such sibling. Unreadable runs are skipped;
    of runs with one seed (a run trained twice alike), the first by id stands for that seed."""
    key = config_key(store.open(run_id).meta)
    found: dict[int, str] = {}
    for path in sorted(store.root.iterdir()) if store.root.is_dir() else []:
        if path.name.startswith(".") or not (path / "run.json").is_file():
            continue
        try:
            meta = store.open(path.name).meta
        except RunStoreError:
            continue
        seed = seed_of(meta)
        if seed is None or config_key(meta) != key:
            continue
        if path.name == run_id or seed not in found:
            found[seed] = path.name
    return [found[s] for s in sorted(found)] or [run_id]
