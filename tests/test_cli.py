import json
import os
import subprocess
import sys

import pytest

from keras_t2i import cli

COMMANDS = ("train", "generate", "export", "serve", "evaluate", "pretrain")


def run(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, "-m", "keras_t2i.cli", *args], capture_output=True,
                          text=True, env=env, timeout=600)


def test_help_lists_every_subcommand():
    result = run("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert f"    {command} " in result.stdout, command
    pretrain = run("pretrain", "--help")
    assert "damsm" in pretrain.stdout and "captioner" in pretrain.stdout


def test_pretrain_captioner_errors_name_the_option(tmp_path, capsys):
    assert cli.main(["pretrain", "captioner", "--backbone", "resnet152",
                     "--out", str(tmp_path / "c")]) == 1
    err = capsys.readouterr().err
    assert "--backbone-weights" in err and "Traceback" not in err
    assert cli.main(["pretrain", "captioner", "--text-encoder", str(tmp_path / "none"),
                     "--out", str(tmp_path / "c")]) == 1
    assert "text_encoder.keras" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()  # nothing written before the options hold


def test_bad_flags_and_data_errors_are_clear(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli.main(["pretrain", "damsm", "--steps", "0"])
    assert "must be a positive integer" in capsys.readouterr().err
    missing = tmp_path / "no-such-dir"
    code = cli.main(["pretrain", "damsm", "--data", "cub", "--data-dir", str(missing),
                     "--out", str(tmp_path / "run")])
    assert code == 1
    assert str(missing) in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["pretrain", "damsm", "--steps", "2", "--epochs", "1"])
    code = cli.main(["pretrain", "damsm", "--bn-calibration-batches", "-1",
                     "--out", str(tmp_path / "run")])
    assert code == 1
    assert "bn_calibration_batches must be 0 or more" in capsys.readouterr().err


@pytest.mark.slow
def test_pretrain_damsm_writes_the_run(tmp_path, capsys):
    out = tmp_path / "damsm"
    code = cli.main(["pretrain", "damsm", "--steps", "3", "--batch-size", "8",
                     "--max-objects", "1", "--bn-calibration-batches", "2", "--out", str(out)])
    assert code == 0
    for name in ("config.json", "metrics.json", "text_encoder.keras", "image_encoder.keras"):
        assert (out / name).is_file(), name
    config = json.loads((out / "config.json").read_text())
    assert config["steps"] == 3 and config["data_options"] == {"max_objects": 1}
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 3 and metrics["num_images"] == 1000
    assert config["bn_calibration_batches"] == 2 and metrics["bn_calibration_images"] == 16
    assert 0.0 <= metrics["r_precision"] <= 1.0
    assert any(p.name.startswith("events") for p in (out / "logs" / "train").iterdir())
    assert "R-precision" in capsys.readouterr().out
    from keras_t2i.text.damsm import load_encoders

    text, image = load_encoders(out)
    assert text.tokenizer.max_words == 19
