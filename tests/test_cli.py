"""The command line: every subcommand, its outputs, and its one-line errors."""

import datetime
import re
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from training_data import interrupt_at_epoch

from entembed import EntityEmbedder, EntityEmbeddingRegressor, load
from entembed._cli import main
from entembed.datasets import make_synthetic

TRAIN = ["--max-epochs", "3", "--quiet"]


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    X, y, _ = make_synthetic(600, (8, 30), random_state=0)
    data = X.assign(size=np.arange(600) % 7, target=y)
    data.to_csv(folder / "data.csv", index=False)
    data.to_parquet(folder / "data.parquet")
    return folder


def test_cli_fit_transform_and_plot(table, capsys):
    model = table / "model.npz"
    assert (
        main(
            [
                "fit",
                str(table / "data.csv"),
                "--target",
                "target",
                "--out",
                str(model),
                "--columns",
                "c0",
                "c1",
                *TRAIN,
            ]
        )
        == 0
    )
    assert load(model).categorical_columns_ == ["c0", "c1"]
    for name in ("features.parquet", "features.csv"):
        assert (
            main(
                [
                    "transform",
                    str(model),
                    str(table / "data.parquet"),
                    "--out",
                    str(table / name),
                    "--quiet",
                ]
            )
            == 0
        )
    features = pd.read_csv(table / "features.csv")
    assert len(features) == 600 and features.columns[0] == "c0_emb0"
    assert (
        main(["plot", str(model), "--column", "c1", "--out", str(table / "map.png")])
        == 0
    )
    assert (table / "map.png").read_bytes()[:4] == b"\x89PNG"
    assert "written to" in capsys.readouterr().out


@pytest.mark.slow
def test_cli_compare_prints_and_writes_the_table(table, capsys):
    out = table / "table.md"
    assert (
        main(
            [
                "compare",
                str(table / "data.csv"),
                "--target",
                "target",
                "--folds",
                "2",
                "--out",
                str(out),
                *TRAIN,
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "| entity embeddings |" in printed and "| target encoding |" in printed
    assert "RMSE, mean ± std over folds (lower is better)" in printed
    assert out.read_text().strip() == printed.strip()


@pytest.mark.parametrize(
    "command", ["fit", "transform", "compare", "plot", "export", "demo"]
)
def test_cli_help_for_every_subcommand(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: entembed " + command in capsys.readouterr().out


def test_cli_every_option_says_what_it_does():
    from entembed._cli import build_parser

    commands = build_parser()._subparsers._group_actions[0].choices
    for name, command in commands.items():
        for action in command._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"entembed {name} {action.option_strings[0]}"
    cv = next(a for a in commands["fit"]._actions if a.dest == "cv")
    assert "fewer than 10 training rows per category, or fewer than 50" in cv.help


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["fit", "missing.csv", "--target", "y", "--out", "m.npz"],
            r"entembed fit: error: file 'missing.csv' not found",
        ),
        (
            ["fit", "{table}/data.txt", "--target", "y", "--out", "m.npz"],
            r"cannot read '.*data.txt': unknown format '.txt'",
        ),
        (
            ["fit", "{table}/data.csv", "--target", "price", "--out", "m.npz"],
            r"target column 'price' is not in .*data.csv "
            r"\(columns: c0, c1, size, target",
        ),
        (
            ["fit", "{table}/nan.csv", "--target", "target", "--out", "m.npz"],
            r"target column 'target' has 1 missing value\(s\); drop those rows first",
        ),
        (
            ["transform", "{table}/none.npz", "{table}/data.csv", "--out", "f.csv"],
            r"model file '.*none.npz' not found",
        ),
        (["compare", "--quiet"], r"pass DATA with --target COL, or --dataset NAME"),
        (
            ["fit", "{table}/garbage.csv", "--target", "a", "--out", "m.npz"],
            r"entembed fit: error: ",
        ),
    ],
    ids=[
        "missing-file",
        "format",
        "unknown-target",
        "nan-target",
        "missing-model",
        "no-data",
        "unreadable",
    ],
)
def test_cli_bad_input_is_one_line_and_status_1(table, args, message, capsys):
    pd.read_csv(table / "data.csv").assign(
        target=lambda d: d["target"].where(d.index != 3)
    ).to_csv(table / "nan.csv", index=False)
    (table / "data.txt").write_text("a,b\n")
    (table / "garbage.csv").write_bytes(b'\x00\xff\x00 not a table "unclosed\n')
    args = [a.format(table=table) for a in args]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    assert re.search(message, err), err


def test_plot_error_names_the_embedded_columns(table, capsys):
    model = table / "model_plot.npz"
    main(
        [
            "fit",
            str(table / "data.csv"),
            "--target",
            "target",
            "--out",
            str(model),
            *TRAIN,
        ]
    )
    assert (
        main(["plot", str(model), "--column", "size", "--out", str(table / "x.png")])
        == 1
    )
    assert "Column 'size' is not embedded; the embedded columns are ['c0', 'c1']" in (
        capsys.readouterr().err
    )


@pytest.mark.slow
def test_cli_demo_on_a_small_sample(tmp_path, capsys):
    out = tmp_path / "demo"
    assert (
        main(
            [
                "demo",
                "--out-dir",
                str(out),
                "--n-rows",
                "1500",
                "--folds",
                "2",
                "--max-epochs",
                "2",
            ]
        )
        == 0
    )
    printed = capsys.readouterr()
    story = printed.out
    assert "| entity embeddings |" in story and "lower is better" in story
    # what was fitted, why it cross-fitted, where the pictures are
    assert "2. An embedder fitted on every row" in story
    assert re.search(r"embedded 7 column\(s\) in [\d.]+ s, 2 epoch", story)
    assert "cross-fitted in 5 folds" in story
    assert re.search(r"cv='auto' cross-fits in 5 folds .*'playerID'", printed.err)
    assert "map_teamID.png, map_birthState.png" in story
    assert {p.name for p in out.iterdir()} == {
        "compare_baseball.md",
        "baseball.npz",
        "map_teamID.png",
        "map_birthState.png",
    }


def test_cli_demo_refuses_an_output_folder_that_is_a_file(tmp_path, capsys):
    blocker = tmp_path / "taken"
    blocker.write_text("")
    assert main(["demo", "--out-dir", str(blocker), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("entembed demo: error: ") and len(err.splitlines()) == 1


def _one_line_error(capsys, pattern):
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert re.search(pattern, err), err


def test_cli_refuses_an_output_that_is_an_input_before_any_work(table, capsys):
    data = table / "data.csv"
    before = data.read_bytes()
    assert main(["fit", str(data), "--target", "target", "--out", str(data)]) == 1
    _one_line_error(capsys, r"error: --out '.*data.csv' is one of the inputs")
    assert data.read_bytes() == before
    missing = table / "nowhere" / "model.npz"
    assert main(["fit", str(data), "--target", "target", "--out", str(missing)]) == 1
    _one_line_error(
        capsys, r"Cannot write .*model.npz: the folder .*nowhere does not exist"
    )


def test_cli_reads_and_writes_tsv_gz_and_upper_case_extensions(table, capsys):
    frame = pd.read_csv(table / "data.csv")
    frame.to_csv(table / "DATA.TSV.GZ", sep="\t", index=False, compression="gzip")
    model = table / "model_tsv.npz"
    args = ["fit", str(table / "DATA.TSV.GZ"), "--target", "target"]
    assert main([*args, "--out", str(model), *TRAIN]) == 0
    out = table / "features.tsv.gz"
    assert (
        main(
            [
                "transform",
                str(model),
                str(table / "DATA.TSV.GZ"),
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    features = pd.read_csv(out, sep="\t")
    assert len(features) == len(frame)
    assert features.columns[0].startswith("c0_emb")


def test_cli_transform_serves_a_saved_predictor_s_embeddings(table, tmp_path):
    X = pd.read_csv(table / "data.csv")
    y = X.pop("target")
    model = tmp_path / "regressor.npz"
    EntityEmbeddingRegressor(hidden_units=(8,), max_epochs=2, random_state=0).fit(
        X, y
    ).save(model)
    out = tmp_path / "features.csv"
    assert _transform(model, table / "data.csv", out) == 0
    loaded = load(model)
    written = pd.read_csv(out)
    names = loaded.get_embedding_names_out().tolist()
    assert list(written.columns) == [*names, "size", "target"]
    np.testing.assert_allclose(
        written[names].to_numpy(), loaded.transform_embeddings(X), rtol=1e-6
    )


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (
            FloatingPointError("Training loss became NaN or infinite in epoch 2"),
            r"error: Training loss became NaN or infinite in epoch 2$",
        ),
        (MemoryError(), r"error: out of memory; use fewer rows or narrower tables"),
    ],
    ids=["diverged", "out-of-memory"],
)
def test_cli_training_failures_are_one_line(table, capsys, monkeypatch, error, message):
    def fit(self, X, y):
        raise error

    monkeypatch.setattr(EntityEmbedder, "fit", fit)
    out = table / "never.npz"
    assert (
        main(["fit", str(table / "data.csv"), "--target", "target", "--out", str(out)])
        == 1
    )
    _one_line_error(capsys, message)
    assert not out.exists()


def test_cli_ctrl_c_prints_one_line_exits_130_and_writes_nothing(
    table, capsys, monkeypatch
):
    interrupt_at_epoch(monkeypatch, 1)
    out = table / "interrupted.npz"
    args = ["fit", str(table / "data.csv"), "--target", "target", "--out", str(out)]
    assert main([*args, *TRAIN]) == 130
    _one_line_error(capsys, r"^entembed fit: interrupted$")
    assert not out.exists()


def test_cli_refuses_categories_it_cannot_store_before_training(
    tmp_path, capsys, monkeypatch
):
    frame = pd.DataFrame(
        {"day": [datetime.date(2024, 1, d) for d in (1, 2, 3)] * 10, "y": range(30)}
    )
    frame.to_parquet(tmp_path / "days.parquet")

    def fit(self, X, y):
        raise AssertionError("training started")

    monkeypatch.setattr(EntityEmbedder, "fit", fit)
    args = ["fit", str(tmp_path / "days.parquet"), "--target", "y"]
    assert main([*args, "--out", str(tmp_path / "m.npz")]) == 1
    _one_line_error(capsys, r"Column 'day' has a category of type date")


def test_cli_fit_with_a_checkpoint_dir_cleans_up_when_done(table, tmp_path):
    checkpoints = tmp_path / "checkpoints"
    args = ["fit", str(table / "data.csv"), "--target", "target"]
    out = tmp_path / "model.npz"
    assert (
        main([*args, "--out", str(out), "--checkpoint-dir", str(checkpoints), *TRAIN])
        == 0
    )
    assert load(out).get_params()["checkpoint_dir"] == str(checkpoints)
    assert list(checkpoints.iterdir()) == []


@pytest.mark.slow
def test_cli_process_interrupted_by_sigint_exits_130(table, tmp_path):
    # A real SIGINT to a real `entembed fit` process, at the end of epoch 1.
    script = textwrap.dedent(f"""
        import os, signal, sys
        from entembed._cli import main
        from entembed._training import History

        original = History.on_train_epoch_end
        def on_train_epoch_end(self, trainer, pl_module):
            original(self, trainer, pl_module)
            os.kill(os.getpid(), signal.SIGINT)
        History.on_train_epoch_end = on_train_epoch_end
        sys.exit(main(["fit", {str(table / "data.csv")!r}, "--target", "target",
                       "--out", {str(tmp_path / "model.npz")!r}, "--quiet"]))
    """)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 130, result.stderr[-2000:]
    assert result.stderr.strip() == "entembed fit: interrupted"
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------ parameters, export, summary
def _transform(model, data, out, *extra):
    return main(
        ["transform", str(model), str(data), "--out", str(out), "--quiet", *extra]
    )


def _fit(table, out, *extra):
    data = str(table / "data.csv")
    return main(["fit", data, "--target", "target", "--out", str(out), *extra])


def test_cli_version(capsys):
    from entembed import __version__

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"entembed {__version__}"


def test_cli_takes_every_parameter_from_config_and_param(table, tmp_path, capsys):
    (tmp_path / "config.yaml").write_text(
        "hidden_units: [8, 4]\nmax_epochs: 5\nbatch_size: 64\nmin_frequency: 2\n"
    )
    out = tmp_path / "model.npz"
    args = ["--config", str(tmp_path / "config.yaml"), "--param", "embedding_dims=3"]
    args += ["--param", "dropout=0.1", "--max-epochs", "2", "--accelerator", "cpu"]
    assert _fit(table, out, *args, "--devices", "1") == 0
    params = load(out).get_params()
    assert params["hidden_units"] == (8, 4) and params["batch_size"] == 64
    assert params["embedding_dims"] == 3 and params["dropout"] == 0.1
    assert params["min_frequency"] == 2 and params["accelerator"] == "cpu"
    assert params["max_epochs"] == 2  # the dedicated option wins over the config
    summary = capsys.readouterr().out
    assert re.search(
        r"embedded 2 column\(s\) in [\d.]+ s, 2 epoch\(s\), best val_loss", summary
    )
    assert re.search(r"  c0: \d+ codes -> 3 dimensions", summary)
    (tmp_path / "config.json").write_text('{"max_epochs": 1, "verbose": 0}')
    assert _fit(table, out, "--config", str(tmp_path / "config.json")) == 0
    assert len(load(out).history_) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--param", "colour=red"],
            r"Invalid parameter 'colour' for estimator EntityEmbedder",
        ),
        (
            ["--param", "max_epochs=0"],
            r"The 'max_epochs' parameter of EntityEmbedder must be an int in the "
            r"range \[1, inf\)\. Got 0 instead",
        ),
        (["--param", "max_epochs"], r"--param 'max_epochs' is not NAME=VALUE"),
        (["--param", "logger=csv"], r"logger takes Lightning objects"),
        (["--config", "{tmp}/list.json"], r"must hold one mapping of parameter names"),
        (["--config", "{tmp}/bad.yaml"], r"config file '.*bad.yaml' is not valid YAML"),
        (["--config", "{tmp}/config.toml"], r"use a \.json, \.yaml or \.yml file"),
        (["--config", "{tmp}/none.json"], r"config file '.*none.json' not found"),
    ],
    ids=["unknown", "bad-value", "not-pair", "object", "list", "yaml", "toml", "none"],
)
def test_cli_bad_parameters_are_one_line_before_reading_data(
    table, tmp_path, args, message, capsys
):
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "bad.yaml").write_text("a: [1,\n")
    (tmp_path / "config.toml").write_text("a = 1")
    args = [a.format(tmp=tmp_path) for a in args]
    assert _fit(table, tmp_path / "m.npz", *args) == 1
    _one_line_error(capsys, message)
    assert not (tmp_path / "m.npz").exists()


def test_cli_warm_start_continues_the_model_at_out_and_init_from_a_file(
    table, tmp_path
):
    out = tmp_path / "model.npz"
    assert _fit(table, out, *TRAIN) == 0
    first = load(out)
    assert _fit(table, out, *TRAIN, "--param", "warm_start=true") == 0
    continued = load(out)
    assert continued.history_["epoch"].tolist() == list(range(1, 7))
    assert continued.cardinalities_ == first.cardinalities_
    source = tmp_path / "source.npz"
    EntityEmbedder(embedding_dims=5, max_epochs=1, random_state=0).fit(
        pd.read_csv(table / "data.csv").drop(columns="target"),
        pd.read_csv(table / "data.csv")["target"],
    ).save(source)
    assert _fit(table, out, *TRAIN, "--param", f"init_embeddings={source}") == 0
    assert set(load(out).embedding_dims_.values()) == {5}


def test_cli_export_projector_and_onnx(table, tmp_path, capsys):
    model = tmp_path / "model.npz"
    assert _fit(table, model, *TRAIN) == 0
    assert main(["export", str(model), "--projector", str(tmp_path / "p")]) == 0
    assert (tmp_path / "p" / "projector_config.pbtxt").is_file()
    assert "tensorboard --logdir" in capsys.readouterr().out
    assert main(["export", str(model), "--quiet"]) == 1
    _one_line_error(capsys, r"pass --onnx FILE.onnx, --projector DIR, or both")
    pytest.importorskip("skl2onnx", reason="needs the onnx extra")
    ort = pytest.importorskip("onnxruntime", reason="needs the onnx extra")
    import onnx

    from entembed.onnx import input_feed

    assert main(["export", str(model), "--onnx", str(tmp_path / "m.onnx")]) == 0
    graph = onnx.load(tmp_path / "m.onnx")
    data = pd.read_csv(table / "data.csv").head(50)
    session = ort.InferenceSession(graph.SerializeToString())
    (features,) = session.run(None, input_feed(graph, data))
    np.testing.assert_array_equal(features, load(model).transform(data))


@pytest.mark.filterwarnings("ignore:Columns 'c0'")
def test_cli_transform_keeps_the_other_columns_in_input_order(table, tmp_path):
    model = tmp_path / "model.npz"
    assert _fit(table, model, "--columns", "c1", *TRAIN) == 0
    out = tmp_path / "rejoined.csv"
    args = ["transform", str(model), str(table / "data.csv"), "--quiet"]
    assert main([*args, "--out", str(out)]) == 0
    data, rejoined = pd.read_csv(table / "data.csv"), pd.read_csv(out)
    vectors = load(model).get_embedding_names_out().tolist()
    assert list(rejoined.columns) == ["c0", *vectors, "size", "target"]
    pd.testing.assert_frame_equal(
        rejoined[["c0", "size", "target"]], data[["c0", "size", "target"]]
    )
    assert main([*args, "--out", str(out), "--features-only"]) == 0
    assert list(pd.read_csv(out).columns) == [*vectors, "size"]  # as served


def test_cli_quiet_fit_prints_one_line_that_says_what_happened(table, tmp_path, capsys):
    model = tmp_path / "model.npz"
    assert _fit(table, model, *TRAIN) == 0
    (line,) = capsys.readouterr().out.strip().splitlines()
    assert re.fullmatch(
        r"embedded 2 column\(s\) in [\d.]+ s, 3 epoch\(s\), best val_loss [\d.]+ at "
        r"epoch \d; (in-sample features|cross-fitted in 5 folds); 1 column\(s\) "
        rf"passed through; model saved to {re.escape(str(model))}",
        line,
    )


def test_cli_fit_says_why_it_cross_fits_and_names_each_bar(tmp_path, capfd):
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 100, 400)
    data = pd.DataFrame(
        {"customer": [f"c{i}" for i in ids], "target": rng.normal(0, 1, 100)[ids]}
    )
    data.to_csv(tmp_path / "data.csv", index=False)
    args = ["fit", str(tmp_path / "data.csv"), "--target", "target"]
    assert main([*args, "--out", str(tmp_path / "m.npz"), "--max-epochs", "2"]) == 0
    err = capfd.readouterr().err
    assert re.search(
        r"EntityEmbedder: cv='auto' cross-fits in 5 folds \(5 more fits\): "
        r"'customer' \(4.0 training rows per category\) is ID-like",
        err,
    )
    assert all(f"fold {k}/5" in err for k in range(1, 6))
    assert "fit: " in err


def test_cli_writes_files_that_the_umask_lets_others_read(table, tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        model = tmp_path / "model.npz"
        assert _fit(table, model, *TRAIN) == 0
        out = tmp_path / "features.parquet"
        assert _transform(model, table / "data.csv", out) == 0
    finally:
        os.umask(old)
    for path in (model, out):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


def test_cli_a_bug_shows_its_traceback_and_asks_for_a_report(
    table, capsys, monkeypatch
):
    def fit(self, X, y):
        return np.zeros(3)[[5]]  # an IndexError: entembed's bug, not the user's

    monkeypatch.setattr(EntityEmbedder, "fit", fit)
    args = ["fit", str(table / "data.csv"), "--target", "target"]
    assert main([*args, "--out", str(table / "bug.npz")]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert re.search(
        r"entembed fit: internal error \(IndexError\): this is a bug in entembed\. "
        r"Please report it",
        err,
    )


def test_cli_tells_user_errors_from_bugs():
    from entembed._cli import is_user_error

    def raised(fn):
        try:
            fn()
        except Exception as exc:
            return exc

    def deep_in_numpy():
        return np.zeros(2).reshape(3)  # ValueError raised inside numpy

    assert not is_user_error(raised(deep_in_numpy))
    assert is_user_error(raised(lambda: EntityEmbedder().set_params(colour=1)))
    assert is_user_error(raised(lambda: EntityEmbedder(max_epochs=0).fit([[1]], [1])))
    assert is_user_error(FileNotFoundError("x"))


def test_cli_fit_combines_columns_with_interactions(table, tmp_path):
    model = tmp_path / "model.npz"
    assert _fit(table, model, *TRAIN, "--interactions", "fm") == 0
    fitted = load(model)
    assert fitted.interactions == "fm"
    assert fitted.network_.layers[0][0] == "pairs"


def test_cli_fit_cuts_strings_and_plot_places_new_ones(table, tmp_path):
    pytest.importorskip("matplotlib")
    model = tmp_path / "model.npz"
    assert _fit(table, model, *TRAIN, "--string-features", "char") == 0
    assert set(load(model).string_features_) == {"c0", "c1"}
    out = tmp_path / "map.png"
    argv = ["plot", str(model), "--column", "c1", "--out", str(out)]
    assert main([*argv, "--strings", "c1_99", "--quiet"]) == 0
    assert out.stat().st_size > 0
