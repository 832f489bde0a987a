"""A failed start fails before any work and leaves nothing behind: every option of a run is
checked (model, data and its folder, budget, text encoder, strategy, directories) before the
DAMSM pretraining or any folder."""

import shutil

import pytest
from fixtures import write_coco, write_cub

from keras_t2i import cli
from keras_t2i.training import run as run_module


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    """An empty working directory where pretraining must not start."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("TF_CONFIG", raising=False)

    def no_pretraining(**_):
        raise AssertionError("pretraining started before the options were checked")

    monkeypatch.setattr(run_module, "pretrain_damsm", no_pretraining)
    return work


def _fails(argv, capsys, *expected):
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    for text in expected:
        assert text in err, err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("argv, expected", [
    (["--image-size", "100"], ["power-of-two image size", "100"]),
    (["--data", "cub"], ["data_dir", "--data-dir"]),
    (["--max-objects", "7"], ["max_objects must be in 1..4, got 7"]),
    (["--ema-decay", "1.5"], ["ema_decay must be in [0, 1)"]),
    (["--nf", "0"], []),  # argparse: a positive integer
    (["--g-learning-rate", "-1"], ["g_learning_rate must be positive"]),
    (["--text-encoder", "nowhere"], ["nowhere holds no text_encoder.keras"]),
    (["--strategy", "multi-worker", "--text-encoder", "nowhere"], ["holds no"]),
])
def test_bad_train_flags_fail_at_once_and_leave_nothing(fresh, capsys, argv, expected):
    if argv == ["--nf", "0"]:
        with pytest.raises(SystemExit):
            cli.main(["train", *argv])
        assert "must be a positive integer" in capsys.readouterr().err
    else:
        _fails(["train", *argv], capsys, *expected)
    assert list(fresh.iterdir()) == []


def test_dataset_layout_is_checked_before_work(fresh, tmp_path, capsys):
    cub = tmp_path / "cub"
    write_cub(cub)
    (cub / "CUB_200_2011" / "images.txt").unlink()
    _fails(["train", "--data", "cub", "--data-dir", str(cub)], capsys, "images.txt")
    coco = tmp_path / "coco"
    write_coco(coco)
    (coco / "annotations" / "captions_val2014.json").unlink()
    _fails(["train", "--data", "coco", "--data-dir", str(coco)], capsys,
           "captions_val2014.json")
    split_missing = tmp_path / "cub2"
    write_cub(split_missing)
    shutil.rmtree(split_missing / "test")
    _fails(["train", "--data", "cub", "--data-dir", str(split_missing)], capsys, "test split")
    assert list(fresh.iterdir()) == []


def test_strategy_and_tf_config_are_checked(fresh, encoder_dir, capsys, monkeypatch):
    argv = ["train", "--strategy", "multi-worker", "--text-encoder", str(encoder_dir)]
    _fails(argv, capsys, "TF_CONFIG", "not set")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    _fails(argv, capsys, "TF_CONFIG is not valid JSON")
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {}}')
    _fails(argv, capsys, '"cluster" and "task"')
    assert list(fresh.iterdir()) == []


def test_the_damsm_loss_needs_the_image_encoder(fresh, tmp_path, encoder_dir, capsys):
    text_only = tmp_path / "text-only"
    text_only.mkdir()
    (text_only / "text_encoder.keras").write_bytes((encoder_dir / "text_encoder.keras")
                                                   .read_bytes())
    _fails(["train", "--text-encoder", str(text_only)], capsys, "image_encoder.keras")
    assert list(fresh.iterdir()) == []


def test_out_and_export_dir_must_be_folders(fresh, encoder_dir, capsys):
    (fresh / "taken").write_text("a file")
    _fails(["train", "--text-encoder", str(encoder_dir), "--out", "taken"], capsys,
           "taken exists and is not a directory")
    _fails(["train", "--text-encoder", str(encoder_dir), "--out", "runs/x", "--export-dir",
            "taken"], capsys, "taken is a file")
    assert sorted(p.name for p in fresh.iterdir()) == ["taken"]


def test_pretrain_damsm_checks_before_writing(fresh, tmp_path, capsys):
    _fails(["pretrain", "damsm", "--backbone", "inception_v3"], capsys, "--backbone-weights")
    _fails(["pretrain", "damsm", "--backbone", "inception_v3", "--backbone-weights",
            str(tmp_path / "missing.h5")], capsys, "missing.h5 does not exist")
    _fails(["pretrain", "damsm", "--data", "coco", "--data-dir", str(tmp_path)], capsys,
           "captions_train2014.json")
    assert list(fresh.iterdir()) == []
