"""Resume never loses or misplaces work: it runs where --out points, falls back past
unreadable checkpoints without overwriting them, names every damaged file, refuses another
text encoder, and cleans what a kill left behind."""

import json
import shutil

import pytest
import tensorflow as tf
from fixtures import tiny_train

from keras_t2i import cli
from keras_t2i.training import resolve_train_config, train
from keras_t2i.training.checkpoint import checkpoint_prefixes


def _numbers(run):
    return [int(p.name.split("-")[1]) for p in checkpoint_prefixes(run / "checkpoints")]


@pytest.fixture(scope="module")
def run6(tmp_path_factory, encoder_dir):
    """A tiny run trained to step 6 with checkpoints at 2, 4 and 6; tests work on copies."""
    run = tmp_path_factory.mktemp("runs") / "run6"
    tiny_train(run, encoder_dir, steps=6)
    assert _numbers(run) == [6, 4, 2]
    return run


def _copy(run, to):
    shutil.copytree(run, to)
    return to


def test_a_copied_run_resumes_in_its_copy_and_leaves_the_original(run6, tmp_path, capsys):
    original = sorted(p.name for p in (run6 / "checkpoints").iterdir())
    copy = _copy(run6, tmp_path / "copy")
    result = train(out=str(copy), resume=True, steps=8)
    out = capsys.readouterr().out
    assert f"Resuming in {copy}: its config.json says it was started in {run6}" in out
    assert "Resumed from step 6" in out and result["step"] == 8
    assert _numbers(copy)[0] == 8 and result["out"] == str(copy)
    assert json.loads((copy / "config.json").read_text())["out"] == str(copy)
    assert sorted(p.name for p in (run6 / "checkpoints").iterdir()) == original


def test_a_moved_run_resumes_where_it_now_is(run6, tmp_path, capsys):
    moved = _copy(run6, tmp_path / "a")
    config = json.loads((moved / "config.json").read_text())
    config["export_dir"] = f"savedmodels/{run6.name}"  # the default of its first name
    (moved / "config.json").write_text(json.dumps(config))
    moved = moved.rename(tmp_path / "b")
    resolved = resolve_train_config(out=str(moved), resume=True)
    assert resolved["out"] == str(moved) and resolved["export_dir"] == "savedmodels/b"
    assert resolve_train_config(out=str(moved), resume=True,
                                export_dir="elsewhere")["export_dir"] == "elsewhere"
    capsys.readouterr()
    train(out=str(moved), resume=True, steps=8, export_dir="")
    assert "Resumed from step 6" in capsys.readouterr().out
    assert _numbers(moved)[0] == 8 and not (tmp_path / "a").exists()


def test_a_deleted_newest_checkpoint_falls_back_to_the_one_before(run6, tmp_path, capsys):
    run = _copy(run6, tmp_path / "run")
    for path in (run / "checkpoints").glob("ckpt-6.data-*"):
        path.unlink()
    train(out=str(run), resume=True, steps=8)
    out = capsys.readouterr().out
    assert f"Skipping checkpoint {run / 'checkpoints' / 'ckpt-6'}: it does not read" in out
    assert "Resumed from step 4" in out
    assert "Moved the files of ckpt-6 to" in out
    assert (run / "checkpoints" / "unreadable" / "ckpt-6.index").is_file()  # kept, not reused
    assert _numbers(run)[0] == 8
    assert tf.train.latest_checkpoint(run / "checkpoints").endswith("ckpt-8")

    both = _copy(run6, tmp_path / "both")  # index and data gone: the state file still lists it
    for path in (both / "checkpoints").glob("ckpt-6.*"):
        path.unlink()
    train(out=str(both), resume=True, steps=8)
    out = capsys.readouterr().out
    assert "Skipping checkpoint" in out and "Resumed from step 4" in out


def test_a_truncated_checkpoint_is_named_and_skipped(run6, tmp_path, capsys):
    run = _copy(run6, tmp_path / "run")
    for number in (6, 4):
        data = next((run / "checkpoints").glob(f"ckpt-{number}.data-*"))
        data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    train(out=str(run), resume=True, steps=6)
    out = capsys.readouterr().out
    assert out.count("Skipping checkpoint") == 2 and "Resumed from step 2" in out
    for number in (4, 2):
        data = next((run / "checkpoints").glob(f"ckpt-{number}.data-*"))
        data.write_bytes(b"")
    (run / "checkpoints" / "ckpt-6.index").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="No checkpoint in .* can be restored"):
        train(out=str(run), resume=True, steps=8)


def test_a_damaged_config_is_named(run6, tmp_path, capsys):
    run = _copy(run6, tmp_path / "run")
    text = (run / "config.json").read_text()
    (run / "config.json").write_text(text[: len(text) // 2])
    code = cli.main(["train", "--out", str(run), "--resume"])
    err = capsys.readouterr().err
    assert code == 1 and f"{run / 'config.json'} is damaged (not valid JSON" in err
    assert cli.main(["export", "--run", str(run)]) == 1
    assert "is damaged" in capsys.readouterr().err


def test_resume_refuses_another_text_encoder_but_accepts_a_copy(run6, tmp_path, encoder_dir):
    run = _copy(run6, tmp_path / "run")
    other = tmp_path / "other"
    shutil.copytree(encoder_dir, other)
    with (other / "text_encoder.keras").open("ab") as f:
        f.write(b"\0")  # another file
    with pytest.raises(ValueError, match="text_encoder differ"):
        train(out=str(run), resume=True, steps=8, text_encoder=str(other))
    copy = tmp_path / "copy"
    shutil.copytree(encoder_dir, copy)
    result = train(out=str(run), resume=True, steps=8, text_encoder=str(copy))
    assert result["step"] == 8 and result["text_encoder"] == str(copy)
    with (copy / "text_encoder.keras").open("ab") as f:  # replaced in place, same path
        f.write(b"\0")
    with pytest.raises(ValueError, match=f"The text encoder in {copy} is not the one"):
        train(out=str(run), resume=True, steps=10)


def test_what_a_killed_save_left_is_cleaned_and_a_run_without_state_is_not_overwritten(
        run6, tmp_path, capsys, encoder_dir):
    run = _copy(run6, tmp_path / "run")
    temp = run / "checkpoints" / "ckpt-8_temp"
    temp.mkdir()
    (temp / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"half a save")
    train(out=str(run), resume=True, steps=8)
    assert f"Removed {temp}" in capsys.readouterr().out and not temp.exists()
    (run / "checkpoints" / "checkpoint").unlink()  # the state file lost, checkpoints kept
    with pytest.raises(ValueError, match="already holds a run with checkpoints"):
        tiny_train(run, encoder_dir, steps=2)


def test_a_damaged_encoder_file_is_named(tmp_path, encoder_dir):
    from keras_t2i.text.damsm import load_encoders

    damaged = tmp_path / "damsm"
    shutil.copytree(encoder_dir, damaged)
    data = (damaged / "text_encoder.keras").read_bytes()
    (damaged / "text_encoder.keras").write_bytes(data[: len(data) // 3])
    with pytest.raises(ValueError, match=f"Cannot read {damaged / 'text_encoder.keras'}"):
        load_encoders(damaged)
