"""`make plan PROBE=1`: a short probe of the trainer's own step on this machine (`probe.Probe` through
`build`), stored in results/probes.json so that later plans read it instead of measuring again.

A stored probe is keyed by the device's name, the torch version and `probe.step_key` (network, dataset, image
size, batch, runtime switches): a probe from another machine or another torch is never reused. The file is
written atomically after each probe (never through a link) and read through files.load_json's bounds; one
that does not have this shape stops the plan with one line.

The probe reads the dataset's files when they are here (never downloading); CIFAR without its files is
probed on random images in the official counts (the device loader's work does not depend on the pixels);
ImageNet without its files is not probed (decoding JPEGs is part of its step).
"""

from __future__ import annotations

import copy
import gc
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from ...core import files
from ...core.distributed import Dist
from ...core.errors import DatasetError
from ...data import RawData, Split, Splits, load_splits, split_by_protocol
from ...data.cifar.reader import _OFFICIAL_COUNTS as OFFICIAL_COUNTS
from ...data.cifar.reader import CIFAR_NAMES
from ...train.build import build
from ...train.probe import Probe, device_name, outlasting_epochs, step_key
from ...train.session import select_device, setup_backends
from .figures import Figure, PlanInputError

PROBES = Path("results/probes.json")
TEXT = ("device", "torch", "date")  # what a stored probe must name (its step_key fields are only compared)


class ProbeStore:
    """results/probes.json: {"probes": [{"device", "torch", <step_key>, "step_s", "date", ...}, ...]}."""

    def __init__(self, path: Path) -> None:
        self.path, self.entries = path, read(path)

    def device(self, cfg: DictConfig) -> str:
        """The name of the device `cfg` trains on here (`trainer.device`)."""
        return device_name(select_device(cfg))

    def key(self, cfg: DictConfig) -> dict:
        """This machine's key for `cfg`'s step."""
        return {"device": self.device(cfg), "torch": torch.__version__, **step_key(cfg)}

    def name(self, cfg: DictConfig) -> str:
        return json.dumps(self.key(cfg), sort_keys=True)

    def find(self, cfg: DictConfig) -> Figure | None:
        key = self.key(cfg)
        entry = next((e for e in self.entries if all(e.get(k) == v for k, v in key.items())), None)
        if entry is None:
            return None
        return Figure(entry["step_s"], "probe", f"probe ({entry['device']}, {entry['date']})")

    def add(self, cfg: DictConfig, step_s: float, how: dict) -> Figure:
        """Store a probe of `cfg`'s step (replacing this key's) with `how` it was taken, written at once."""
        key = self.key(cfg)
        date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        entry = {**key, "step_s": step_s, "date": date, **how, "threads": torch.get_num_threads(),
                 "load": round(os.getloadavg()[0], 2)}  # fmt: skip
        self.entries = [e for e in self.entries if any(e.get(k) != v for k, v in key.items())] + [entry]
        files.write_json(self.path, {"probes": self.entries})
        return self.find(cfg)


def read(path: Path) -> list[dict]:
    """The stored probes ([] when the file is absent); PlanInputError, one line, when it is unusable."""
    try:
        data = files.load_json(path)
    except FileNotFoundError:
        return []
    except files.JsonFileError as err:
        raise PlanInputError(f"{path} {err}; {_fix(path)}") from None
    entries = data.get("probes") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise PlanInputError(f"{path} holds no 'probes' list; {_fix(path)}")
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            raise PlanInputError(f"{path}: probe {i} is not an object; {_fix(path)}")
        bad = [k for k in TEXT if not isinstance(e.get(k), str)]
        step = e.get("step_s")
        if not (isinstance(step, int | float) and not isinstance(step, bool) and math.isfinite(step)
                and step > 0):  # fmt: skip
            bad.append("step_s")
        if bad:
            raise PlanInputError(f"{path}: probe {i} has no valid {', '.join(bad)}; {_fix(path)}")
    return entries


def _fix(path: Path) -> str:
    return f"fix it, or remove {path} and measure again (make plan PROBE=1)"


def probe_missing(cfgs: list[DictConfig], store: ProbeStore, prober: Prober) -> dict[str, str]:
    """Probe each distinct step among `cfgs` that has no stored probe for this machine, one progress line
    each on stderr, storing each as it is taken; returns why a step could not be probed (by `store.name`)."""
    todo: dict[str, DictConfig] = {}
    for cfg in cfgs:
        if store.find(cfg) is None:
            todo.setdefault(store.name(cfg), cfg)
    why = {}
    for i, (name, cfg) in enumerate(todo.items(), 1):
        k = step_key(cfg)
        what = f"{k['network']} on {k['data']} b{k['batch']} {k['image_size']}px"
        where = f"{prober.steps} steps on {store.device(cfg)}"
        print(f"probe {i}/{len(todo)}: {what} ({where}) ...", end=" ", file=sys.stderr, flush=True)
        try:
            step_s, how = prober.step_s(cfg)
        except DatasetError as err:
            why[name] = f"not probed: {err}"
            print(why[name], file=sys.stderr, flush=True)
            continue
        store.add(cfg, step_s, how)
        print(f"{step_s:.3g} s/step", file=sys.stderr, flush=True)
    return why


class Prober:
    """Times `steps` training steps (after `warmup`) of a config's network on this machine."""

    def __init__(self, steps: int, warmup: int) -> None:
        self.steps, self.warmup = steps, warmup
        self._splits: dict[str, tuple[Splits, str]] = {}

    def step_s(self, cfg: DictConfig) -> tuple[float, dict]:
        """(seconds a step, how it was measured); DatasetError when the data cannot be had (ImageNet
        without its files)."""
        splits, images = self.splits(cfg)
        dev = select_device(cfg)
        setup_backends(cfg, dev)
        probe_cfg = copy.deepcopy(cfg)
        probe_cfg.trainer.epochs = outlasting_epochs(cfg, self.warmup + self.steps, len(splits.train.labels))
        built = build(probe_cfg, dev, Dist(), splits)
        probe = Probe(built.loaders.train, self.warmup, self.warmup + self.steps, dev)
        seconds = probe.run(built, probe_cfg)
        del built
        gc.collect()
        return seconds / self.steps, {"steps": self.steps, "warmup": self.warmup, "images": images}

    def splits(self, cfg: DictConfig) -> tuple[Splits, str]:
        """The run's splits from the files, never downloading; random CIFAR images when they are missing."""
        key = json.dumps(OmegaConf.to_container(cfg.dataset, resolve=True)) + str(cfg.eval)
        if key not in self._splits:
            dataset = copy.deepcopy(cfg.dataset)
            dataset.download = False
            try:
                self._splits[key] = load_splits(dataset, cfg.eval), f"the files under {dataset.root}"
            except DatasetError:
                if dataset.name not in CIFAR_NAMES:
                    raise
                raw = synthetic_cifar(dataset)
                self._splits[key] = split_by_protocol(raw, dataset, cfg.eval), "random images (no files here)"
        return self._splits[key]


def synthetic_cifar(dataset: DictConfig) -> RawData:
    """Random CIFAR-shaped images in the official counts (limits applied): the probe's stand-in for files."""
    rng = np.random.default_rng(0)
    counts = [
        lim or n for lim, n in zip((dataset.limit_train, dataset.limit_test), OFFICIAL_COUNTS, strict=True)
    ]
    train, test = (
        Split(rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8), np.arange(n) % dataset.num_classes)
        for n in counts
    )
    return RawData(train, test, int(dataset.num_classes))
