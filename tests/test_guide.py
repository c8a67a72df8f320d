"""The user guide's examples marked as runnable run, in order, as written
(``docs/user_guide/serving.md``)."""

import re
import shlex
from pathlib import Path

import pytest

from entembed._cli import main
from entembed.datasets import load_baseball_salaries

GUIDE = Path(__file__).parent.parent / "docs" / "user_guide" / "serving.md"
MARK = "<!-- runs in tests/test_guide.py -->\n```"


def _blocks(language: str) -> list[str]:
    pattern = re.escape(MARK) + language + r"\n(.*?)```"
    return re.findall(pattern, GUIDE.read_text(), re.S)


@pytest.mark.slow
def test_guide_python_examples_run(tmp_path, monkeypatch, capsys):
    pytest.importorskip("onnxruntime", reason="the ONNX example needs the onnx extra")
    monkeypatch.chdir(tmp_path)
    blocks = _blocks("python")
    assert len(blocks) == 4
    namespace: dict = {}
    for code in blocks:
        exec(compile(code, str(GUIDE), "exec"), namespace)
    assert re.search(r"epoch 0: \d\.\d{4}", capsys.readouterr().out)
    assert list(tmp_path.glob("logs/lightning_logs/version_*/metrics.csv"))
    assert namespace["model"].history_["epoch"].iloc[-1] > 5  # it continued
    assert len(namespace["predictions"]) == len(namespace["X"])
    assert (tmp_path / "projector" / "projector_config.pbtxt").is_file()


@pytest.mark.slow
def test_guide_command_line_example_runs(tmp_path, monkeypatch, capsys):
    pytest.importorskip("onnxruntime", reason="the example exports ONNX")
    monkeypatch.chdir(tmp_path)
    X, y = load_baseball_salaries(n_rows=1_000)
    X.assign(log_salary=y).to_csv("salaries.csv", index=False)
    (tmp_path / "params.yaml").write_text("max_epochs: 2\nbatch_size: 128\n")
    (block,) = _blocks("bash")
    lines = block.strip().splitlines()
    with pytest.raises(SystemExit) as exit_info:
        main(shlex.split(lines[0])[1:])
    assert exit_info.value.code == 0
    for line in lines[1:]:
        assert main(shlex.split(line)[1:]) == 0, line
    assert "best val_loss" in capsys.readouterr().out
    assert (tmp_path / "model.onnx").is_file()
    assert (tmp_path / "embeddings" / "projector_config.pbtxt").is_file()
