"""Fit floor: how much of a single fit is the training steps themselves?

On each table of the quality page (20,000 rows, the same 3 random 80/20
splits), ``EntityEmbedder(cv=None, random_state=split).fit`` on the training
rows is timed twice, in turn: as it is, and with Lightning's loop replaced by a
bare torch loop that takes the same steps (the same network, optimiser,
cosine schedule, batches and number of epochs as the fit that ran), without
validation, early stopping, callbacks or Lightning. Everything else (reading
the table, the vocabulary, the codes, the numpy copy of the network) is the
same in both. The bare fit is the floor of a fit that takes these steps: the
ratio says how much faster a single fit could get by trimming everything but
the steps, and so what fewer or cheaper steps would have to give beyond it.

Run: ``python benchmarks/bench_fit_floor.py [--repeat 2]``
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from unittest import mock

import numpy as np
import torch
from _timing import machine, write
from bench_quality import table_and_splits

from entembed import EntityEmbedder, _training
from entembed._lightning_module import CosineDecay, TableSGDAdamW
from entembed.datasets import DATASETS


def bare_train(epochs: int):
    """A stand-in for ``_training.train``: ``epochs`` epochs of plain torch
    steps on the module's network, as the Lightning fit steps it."""

    def train(module, data, *, max_epochs, **_ignored):
        data.setup("fit")
        batches = data.train_dataloader()
        hp = module.hparams
        tables = set(module.network.table_parameters())
        optimizer = TableSGDAdamW(
            [p for p in module.parameters() if p in tables],
            [p for p in module.parameters() if p not in tables],
            table_lr=hp.table_learning_rate,
            lr=hp.learning_rate,
            weight_decay=hp.weight_decay,
        )
        schedule = None
        if hp.learning_rate_schedule == "cosine":
            schedule = torch.optim.lr_scheduler.LambdaLR(
                optimizer, CosineDecay(max_epochs * len(batches))
            )
        module.train()
        for _ in range(epochs):
            for batch in batches:
                output = module(batch["codes"], batch.get("numeric"))
                loss = module._losses(output, batch["target"]).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                if schedule is not None:
                    schedule.step()
        return [{"epoch": e + 1} for e in range(epochs)]

    return train


def run_table(name: str, rows: int, n_splits: int, repeat: int) -> dict:
    X, y, *_, splits, _categorical, _numeric = table_and_splits(name, rows, n_splits)
    fit_s, bare_s, epochs = [], [], []
    for split, (train, _test) in enumerate(splits):
        Xt, yt = X.iloc[train], y[train]
        for _ in range(repeat):
            start = time.perf_counter()
            fitted = EntityEmbedder(cv=None, random_state=split).fit(Xt, yt)
            fit_s.append(time.perf_counter() - start)
            n = len(fitted.history_)
            start = time.perf_counter()
            with mock.patch.object(_training, "train", bare_train(n)):
                EntityEmbedder(cv=None, random_state=split).fit(Xt, yt)
            bare_s.append(time.perf_counter() - start)
        epochs.append(n)
    print(f"{name}: done", flush=True)
    return {"name": name, "fit": fit_s, "bare": bare_s, "epochs": epochs}


def render(results: list[dict], rows: int, splits: int, repeat: int) -> str:
    lines = [
        "# Fit floor: a single fit against its bare training steps",
        "",
        f"The quality page's tables ({rows:,} rows, {splits} random 80/20 "
        "splits), `EntityEmbedder(cv=None, random_state=split).fit` on the "
        "training rows, timed as it is and with Lightning's loop replaced by "
        "a bare torch loop over the same steps (network, optimiser, cosine "
        "schedule, batches and epochs of the fit that ran), without "
        "validation, early stopping or Lightning; everything else in the fit "
        f"is the same. The two run in turn, {repeat} times per split, in one "
        f"process, torch's default threads. {machine()}.",
        "",
        "| table | epochs | fit s | bare steps s | fit / bare |",
        "|---|---:|---:|---:|---:|",
    ]
    ratios = []
    for r in results:
        fit, bare = statistics.median(r["fit"]), statistics.median(r["bare"])
        ratios.append(fit / bare)
        lines.append(
            f"| {r['name']} | {statistics.median(r['epochs']):g} | {fit:.2f} "
            f"({min(r['fit']):.2f}-{max(r['fit']):.2f}) | {bare:.2f} "
            f"({min(r['bare']):.2f}-{max(r['bare']):.2f}) | {fit / bare:.2f}x |"
        )
    lines += [
        "",
        "Seconds: median (range) over splits and repeats.",
        "",
        f"Median over the tables: a fit takes **{statistics.median(ratios):.2f}x** "
        "the seconds of its bare steps. Trimming everything but the steps "
        "(Lightning, validation, early stopping) could make a single fit at "
        "most that much faster; beyond it, a fit needs fewer or cheaper "
        "steps, which the ablation page measures against quality.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    # Imports and first-call costs, outside the timings.
    X, y, *_ = table_and_splits(args.datasets[0], 500, 1)
    EntityEmbedder(cv=None, max_epochs=1).fit(X, np.asarray(y))
    results = [
        run_table(name, args.rows, args.splits, args.repeat) for name in args.datasets
    ]
    write("fit_floor.md", render(results, args.rows, args.splits, args.repeat))


if __name__ == "__main__":
    main()
