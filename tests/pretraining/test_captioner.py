"""`keras-t2i pretrain captioner`: the STREAM captioner trained with fit in the text encoder's
vocabulary, its test metrics, its refusal to overwrite, and resume after a kill."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from fixtures import event_tags

import keras_t2i as kt
from keras_t2i import cli
from keras_t2i.text.damsm import load_encoders

SMALL = ["--steps", "4", "--batch-size", "4", "--max-objects", "1", "--checkpoint-every", "2"]


def test_pretrains_in_the_text_encoders_vocabulary_and_reports(tmp_path, encoder_dir, capsys):
    out = tmp_path / "cap"
    assert cli.main(["pretrain", "captioner", *SMALL, "--text-encoder", str(encoder_dir),
                     "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "word accuracy" in printed and "BLEU-4" in printed and "shape words" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 4 and metrics["num_images"] == 1000
    assert 0 <= metrics["word_accuracy"] <= 1 and 0 <= metrics["bleu4"] <= 1
    assert set(metrics["attribute_accuracy"]) == {"shape", "colour", "size", "position"}
    # The argmax among an attribute's words is right wherever the overall argmax is.
    for attribute, value in metrics["attribute_accuracy"].items():
        assert value >= metrics["attribute_word_accuracy"][attribute]
    assert metrics["references_per_image"] > 1
    # With a small-CNN DAMSM run, the default encoder is its frozen trunk.
    assert json.loads((out / "config.json").read_text())["backbone"] == "damsm"
    captioner = kt.pretrain.load_captioner(out)
    words = load_encoders(encoder_dir)[0].tokenizer.vocabulary
    assert list(captioner.tokenizer.vocabulary) == list(words)
    assert not (out / "backup").exists()  # a finished run keeps no backup
    tags = event_tags(out / "logs")
    assert any("word_accuracy" in t for t in tags) and any("bleu4" in t for t in tags)
    # A trained captioner is never overwritten.
    assert cli.main(["pretrain", "captioner", *SMALL, "--out", str(out)]) == 1
    assert "already holds a trained captioner" in capsys.readouterr().err


@pytest.mark.slow
def test_a_killed_pretraining_resumes_from_its_backup(tmp_path, encoder_dir):
    out = tmp_path / "cap"
    argv = [sys.executable, "-m", "keras_t2i.cli", "pretrain", "captioner", "--steps", "3000",
            "--batch-size", "4", "--max-objects", "1", "--checkpoint-every", "10",
            "--text-encoder", str(encoder_dir), "--out", str(out)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    metadata = out / "backup" / "training_metadata.json"
    deadline = time.time() + 300
    while time.time() < deadline:
        if metadata.is_file() and json.loads(metadata.read_text() or "{}").get("epoch", 0) >= 2:
            break
        time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("no backup after 20 steps within 5 minutes")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = json.loads(metadata.read_text())["epoch"] * 10
    # Without --resume the interrupted run is refused; with it, it continues to the budget.
    again = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 1 and "--resume" in again.stderr
    argv[argv.index("--steps") + 1] = str(done + 20)
    resumed = subprocess.run(argv + ["--resume"], capture_output=True, text=True, env=env,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == done + 20  # the optimizer's count continued from the backup
