import pytest
from scipy.spatial.distance import pdist
from scipy.stats import spearmanr

from entembed import EntityEmbedder
from entembed.datasets import load_dataset, make_synthetic

REAL = {
    "flights": (327_346, "delayed", {"carrier", "flight", "tailnum", "dest"}),
    "baseball": (26_426, "log_salary", {"playerID", "teamID", "birthState"}),
    "scorecard": (32_739, "earnings_med", {"unitid", "state_abbr"}),
    "hotels": (15_402, "avg_price_per_room", {"agent", "company", "country"}),
    "loans": (10_000, "interest_rate", {"emp_title", "state"}),
    "grants": (8_190, "successful", {"sponsor_code", "contract_value_band"}),
    "road_deaths": (26_217, "dead", {"caseid", "dvcat", "seatbelt"}),
    "police_force": (12_925, "force_type", {"primary_offense", "problem"}),
    "seattle_pets": (52_519, "species", {"animal_name", "zip_code"}),
    "lectures": (73_421, "rating", {"student", "lecturer", "department"}),
    "movielens": (99_997, "liked", {"user", "movie", "genres"}),
    # held out: kept out of every choice of a default
    "movies": (58_788, "rating", {"title", "mpaa", "genres"}),
    "chemistry": (31_022, "score", {"school", "lea", "gender"}),
    "census": (29_501, "log_weekly_income", {"state", "area", "schooling"}),
    "star": (24_450, "math", {"pupil", "teacher", "school", "grade"}),
}
# Columns that would give a table's target away, by table.
LEAKS = {
    "flights": {"dep_delay"},
    "loans": {"grade", "sub_grade", "installment"},
    "road_deaths": {"injSeverity"},
    "police_force": {"force_type_action"},
    "seattle_pets": {"primary_breed", "secondary_breed"},
    "grants": {"class"},
    "movies": {f"r{score}" for score in range(1, 11)},
    "chemistry": {"gcsecnt"},
    "movielens": {"rating", "timestamp"},
    "census": {"lweekinc"},
    "star": {"read"},
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(REAL))
def test_real_datasets_load_offline(name):
    n_rows, target, columns = REAL[name]
    X, y = load_dataset(name)
    assert len(X) == len(y) == n_rows
    assert y.name == target and not y.isna().any()
    assert columns <= set(X.columns)
    # Columns that give the answer away are left out.
    assert not LEAKS.get(name, set()) & set(X.columns)
    small, small_y = load_dataset(name, n_rows=500, random_state=1)
    again, _ = load_dataset(name, n_rows=500, random_state=1)
    assert len(small) == 500 and small.equals(again)
    assert list(small.index) == list(range(500)) and len(small_y) == 500


def test_unknown_dataset_is_named():
    with pytest.raises(ValueError, match=r"Unknown dataset 'iris'; choose one of"):
        load_dataset("iris")


def test_make_synthetic_shapes_and_binary_task():
    X, _, latents = make_synthetic(1000, (5, 40), latent_dim=3, random_state=0)
    assert X.shape == (1000, 2) and latents["c1"].shape == (40, 3)
    assert set(X["c0"]) <= set(latents["c0"].index)
    _, labels, _ = make_synthetic(1000, (5,), task="binary", random_state=0)
    assert set(labels) == {0, 1}
    with pytest.raises(ValueError, match=r"task must be 'regression' or 'binary'"):
        make_synthetic(10, task="ranking")


@pytest.mark.slow
def test_learned_embeddings_recover_the_latent_geometry():
    X, y, latents = make_synthetic(
        20_000, (40, 30), latent_dim=2, noise=0.05, random_state=0
    )
    embedder = EntityEmbedder(
        embedding_dims=4, hidden_units=(32,), max_epochs=15, random_state=0
    ).fit(X, y)
    learned = embedder.embeddings_["c0"].iloc[2:]
    true = latents["c0"].loc[learned.index]
    rho = spearmanr(pdist(learned.to_numpy()), pdist(true.to_numpy())).statistic
    assert rho > 0.8, rho
