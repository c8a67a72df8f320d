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

A third timing, the dense floor, runs the same loop with the tables taken
out: each batch's input to the dense layers (its vectors and numeric columns)
is computed once beforehand, and the steps are the dense layers' forward,
backward (down to that input, as any table update needs) and AdamW step (the
schedule's step, tens of microseconds, is left out with the tables). It is
what the steps would cost if looking the tables up and updating them were
free, and so bounds what any cheaper table update could give.

Run: ``python benchmarks/bench_fit_floor.py [--repeat 2]``
"""

from __future__ import annotations

import statistics
import time
import warnings
from unittest import mock

import torch
from _pages import (
    CosineDecay,
    TableSGDAdamW,
    table_and_splits,
    table_arguments,
    warm_up,
)
from _timing import machine, write

from entembed import EntityEmbedder, _training
from entembed.datasets import DATASETS


def bare_train(epochs: int, seconds: list[float]):
    """A stand-in for ``_training.train``: ``epochs`` epochs of plain torch
    steps on the module's network, as the Lightning fit steps it, the steps
    timed into ``seconds``."""

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
        start = time.perf_counter()
        for _ in range(epochs):
            for batch in batches:
                output = module(batch["codes"], batch.get("numeric"))
                loss = module._losses(output, batch["target"]).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                if schedule is not None:
                    schedule.step()
        seconds.append(time.perf_counter() - start)
        return [{"epoch": e + 1} for e in range(epochs)]

    return train


def dense_floor_train(epochs: int, seconds: list[float]):
    """A stand-in for ``_training.train`` that times ``epochs`` epochs of the
    dense layers' steps alone into ``seconds``: the batches' inputs to the
    dense layers precomputed, the tables neither looked up nor updated."""

    def train(module, data, **_ignored):
        data.setup("fit")
        network = module.network
        dense = torch.nn.Sequential(network.mlp, network.head)
        optimizer = torch.optim.AdamW(
            dense.parameters(),
            lr=module.hparams.learning_rate,
            weight_decay=module.hparams.weight_decay,
            fused=True,
        )
        # Each batch's input to the dense layers, as the network's forward
        # hands it to them.
        seen: list[torch.Tensor] = []
        hook = network.mlp.register_forward_pre_hook(lambda _, a: seen.append(a[0]))
        inputs = []
        with torch.no_grad():
            for batch in data.train_dataloader():
                network(batch["codes"], batch.get("numeric"))
                inputs.append((seen.pop(), batch["target"]))
        hook.remove()
        module.train()
        start = time.perf_counter()
        for _ in range(epochs):
            for x, target in inputs:
                x.requires_grad_(True)  # the gradient a table update reads
                loss = module._losses(dense(x), target).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                x.grad = None
        seconds.append(time.perf_counter() - start)
        return [{"epoch": e + 1} for e in range(epochs)]

    return train


def run_table(name: str, rows: int, n_splits: int, repeat: int) -> dict:
    X, y, *_, splits, _categorical, _numeric = table_and_splits(name, rows, n_splits)
    fit_s, bare_s, steps_s, dense_s, epochs = [], [], [], [], []
    for split, (train, _test) in enumerate(splits):
        Xt, yt = X.iloc[train], y[train]
        for _ in range(repeat):
            start = time.perf_counter()
            fitted = EntityEmbedder(cv=None, random_state=split).fit(Xt, yt)
            fit_s.append(time.perf_counter() - start)
            n = len(fitted.history_)
            start = time.perf_counter()
            with mock.patch.object(_training, "train", bare_train(n, steps_s)):
                EntityEmbedder(cv=None, random_state=split).fit(Xt, yt)
            bare_s.append(time.perf_counter() - start)
            with mock.patch.object(_training, "train", dense_floor_train(n, dense_s)):
                EntityEmbedder(cv=None, random_state=split).fit(Xt, yt)
        epochs.append(n)
    print(f"{name}: done", flush=True)
    return {
        "name": name,
        "fit": fit_s,
        "bare": bare_s,
        "steps": steps_s,
        "dense": dense_s,
        "epochs": epochs,
    }


def _cell(seconds: list[float]) -> str:
    return f"{statistics.median(seconds):.2f} ({min(seconds):.2f}-{max(seconds):.2f})"


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
        "is the same (the bare fit), and the bare loop's steps alone. The "
        "dense steps: the same loop with the tables taken out (each batch's "
        "input to the dense layers computed beforehand; the dense layers' "
        "forward, backward down to that input and AdamW step), as if looking "
        "the tables up and updating them cost nothing; the floor is the bare "
        "fit with its steps replaced by these. The three fits run in turn, "
        f"{repeat} times per split, in one process, torch's default threads. "
        f"{machine()}.",
        "",
        "| table | epochs | fit s | bare fit s | bare steps s | dense steps s "
        "| floor s | fit / bare fit | fit / floor |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    to_bare, to_floor = [], []
    for r in results:
        floors = [
            b - s + d for b, s, d in zip(r["bare"], r["steps"], r["dense"], strict=True)
        ]
        fit = statistics.median(r["fit"])
        bare, floor = statistics.median(r["bare"]), statistics.median(floors)
        to_bare.append(fit / bare)
        to_floor.append(fit / floor)
        lines.append(
            f"| {r['name']} | {statistics.median(r['epochs']):g} | "
            f"{_cell(r['fit'])} | {_cell(r['bare'])} | {_cell(r['steps'])} | "
            f"{_cell(r['dense'])} | {_cell(floors)} | {fit / bare:.2f}x | "
            f"{fit / floor:.2f}x |"
        )
    lines += [
        "",
        "Seconds: median (range) over splits and repeats.",
        "",
        f"Median over the tables: a fit takes **{statistics.median(to_bare):.2f}x** "
        "the seconds of its bare fit. Trimming everything but the steps "
        "(Lightning, validation, early stopping) could make a single fit at "
        "most that much faster; beyond it, a fit needs fewer or cheaper "
        "steps, which the ablation page measures against quality.",
        "",
        f"A fit takes **{statistics.median(to_floor):.2f}x** (median; "
        f"{min(to_floor):.2f}x-{max(to_floor):.2f}x) the seconds of its floor: "
        "with table lookups and updates that cost nothing, and no Lightning "
        "around the steps, a fit of these epochs would be at most that much "
        "faster. What is left is the dense layers' products, set by the "
        "network's widths and the rows it trains on, not by how the tables "
        "learn, and the fit's work outside training (the vocabulary, the "
        "codes, the served tables).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = table_arguments(__doc__.splitlines()[0], DATASETS)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    warm_up(args.datasets[0])
    results = [
        run_table(name, args.rows, args.splits, args.repeat) for name in args.datasets
    ]
    write("fit_floor.md", render(results, args.rows, args.splits, args.repeat))


if __name__ == "__main__":
    main()
