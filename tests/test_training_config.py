"""TrainingConfig: built from an estimator's parameters, fingerprinted for
checkpoints, and the memory guard that refuses a fit before it allocates."""

import numpy as np
import pandas as pd
import pytest
from training_data import coded_problem, training_config

from entembed import EntityEmbedder


def test_training_config_holds_every_training_parameter_of_the_estimators():
    # Column selection, the vocabulary's parameters, cv and where a fit starts
    # (a StartingPoint beside the config) are the facade's; every other
    # parameter reaches training through the config.
    facade_only = {
        "categorical_columns",
        "numeric_columns",
        "remainder",
        "task",
        "cv",
        "test_id_columns",
        "append_prediction",
        "feature_scale",
        "embedding_dims",
        "min_frequency",
        "max_categories",
        "handle_unknown",
        "handle_missing",
        "random_state",
        "init_embeddings",
        "freeze_embeddings",
        "warm_start",
        # resolved by the facade into the config's pieces
        "string_features",
        "string_buckets",
        "string_ngram_range",
    }
    training = set(EntityEmbedder().get_params()) - facade_only
    config = training_config(batch_size=7, verbose=True, hidden_units=[8, 4])
    assert training <= set(vars(config))
    assert config.batch_size == 7 and config.verbose == 1
    assert config.hidden_units == (8, 4) and config.embedding_dims == (3, 4, 6)


@pytest.mark.filterwarnings("ignore:Column 'user' has 200000 distinct")
def test_memory_guard_names_the_column_before_any_allocation(monkeypatch):
    import entembed._training_config as planning

    # One column of 200,000 categories, on a machine with 1 GiB free.
    monkeypatch.setattr(planning, "available_memory", lambda: 2**30)
    X = pd.DataFrame(
        {"user": [f"u{i}" for i in range(200_000)], "plan": ["a", "b"] * 100_000}
    )
    with pytest.raises(
        ValueError,
        match=r"Training needs at least 1\.8 GiB .* more than the 1\.0 GiB of "
        r"memory available\. The largest table, column 'user', has 200,002 "
        r"categories x 600 dimensions \(0\.45 GiB per copy\)\. Group rare "
        r"categories with min_frequency",
    ):
        EntityEmbedder(random_state=0).fit(X, np.zeros(len(X)))


def test_a_checkpoint_belongs_to_its_data_and_settings():
    codes, target = coded_problem(n=50)
    config = training_config()
    same = config.fingerprint(codes.numpy(), None, target.numpy())
    assert same == training_config(
        n_threads=2, verbose=1, checkpoint_dir="elsewhere"
    ).fingerprint(codes.numpy(), None, target.numpy())
    assert same != training_config(batch_size=7).fingerprint(
        codes.numpy(), None, target.numpy()
    )
    assert same != config.fingerprint(codes.numpy(), None, target.numpy() + 1)
    assert same != config.fingerprint(codes.numpy(), np.zeros((50, 1)), target.numpy())
