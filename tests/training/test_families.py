"""Every family other than DF-GAN through the user's routes: ``keras-t2i train --model …``
with its flags, TensorBoard, resume, export, ``generate`` and ``evaluate`` (MirrorGAN with its
captioner given, and pretrained by the run)."""

import json

import numpy as np
import pytest
import tensorflow as tf
from fixtures import event_tags

from keras_t2i import cli
from keras_t2i import evaluation as ev
from keras_t2i.serving import LocalModel
from keras_t2i.training import load_run

TINY_MIRRORGAN = ["--model", "mirrorgan", "--image-size", "64", "--stages", "2", "--gf-dim", "4",
                  "--df-dim", "4", "--r-num", "1", "--batch-size", "4", "--max-objects", "1",
                  "--checkpoint-every", "2", "--sample-every", "2"]
TINY_DMGAN = ["--model", "dmgan", "--image-size", "64", "--stages", "2", "--gf-dim", "4",
              "--df-dim", "4", "--r-num", "1", "--batch-size", "4", "--max-objects", "1",
              "--checkpoint-every", "2", "--sample-every", "2"]


@pytest.mark.slow
def test_dmgan_trains_resumes_exports_generates_and_evaluates(tmp_path, encoder_dir,
                                                              monkeypatch, capsys):
    monkeypatch.setenv("KERAS_T2I_CACHE", str(tmp_path / "cache"))
    run, export = tmp_path / "run", tmp_path / "sm"
    assert cli.main(["train", *TINY_DMGAN, "--steps", "2", "--no-write-gate",
                     "--text-encoder", str(encoder_dir), "--out", str(run),
                     "--export-dir", str(export)]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["model"] == "dmgan" and config["model_kwargs"]["write_gate"] is False
    assert config["model_kwargs"]["stages"] == 2
    tags = event_tags(run / "logs")
    for name in ("d_loss_32", "d_loss_64", "g_adv_32", "g_adv_64", "kl", "damsm"):
        assert any(name in tag for tag in tags), name
    # A flag that changes the networks cannot change in a resumed run; the budget can.
    assert cli.main(["train", *TINY_DMGAN, "--steps", "4", "--no-response-gate", "--resume",
                     "--text-encoder", str(encoder_dir), "--out", str(run),
                     "--no-export"]) == 1
    assert "response_gate differ" in capsys.readouterr().err
    assert cli.main(["train", *TINY_DMGAN, "--steps", "4", "--no-write-gate", "--resume",
                     "--text-encoder", str(encoder_dir), "--out", str(run), "--no-export"]) == 0
    assert tf.train.latest_checkpoint(run / "checkpoints").endswith("ckpt-4")
    gan = load_run(run)
    assert not gan.write_gate and gan.g_optimizer.iterations.numpy() == 4
    captions = ["a small red circle in the center"]
    images = LocalModel(export).generate(captions, [3])
    assert images.shape == (1, 64, 64, 3) and images.dtype == np.uint8
    assert cli.main(["generate", captions[0], "--run", str(run), "--num", "2", "--out",
                     str(tmp_path / "grid.png")]) == 0
    assert (tmp_path / "grid.png").is_file()
    report = ev.evaluate(run=str(run), num_images=200, diversity_captions=3,
                         diversity_samples=3)
    names = {m["name"] for m in report["metrics"]}
    assert {"semantic_attributes_200", "fid_200", "r_precision_200"} <= names
    assert report["step"] == 4


@pytest.mark.slow
def test_mirrorgan_trains_resumes_exports_generates_and_evaluates(tmp_path, encoder_dir,
                                                                  captioner_dir, monkeypatch,
                                                                  capsys):
    monkeypatch.setenv("KERAS_T2I_CACHE", str(tmp_path / "cache"))
    run, export = tmp_path / "run", tmp_path / "sm"
    given = ["--text-encoder", str(encoder_dir), "--captioner", str(captioner_dir)]
    assert cli.main(["train", *TINY_MIRRORGAN, "--steps", "2", *given, "--out", str(run),
                     "--export-dir", str(export)]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["model"] == "mirrorgan" and config["captioner"] == str(captioner_dir)
    tags = event_tags(run / "logs")
    for name in ("d_loss_32", "d_loss_64", "g_adv_32", "g_adv_64", "kl", "stream",
                 "samples/redescription"):
        assert any(name in tag for tag in tags), name
    assert cli.main(["train", *TINY_MIRRORGAN, "--steps", "4", "--resume", *given,
                     "--out", str(run), "--no-export"]) == 0
    assert tf.train.latest_checkpoint(run / "checkpoints").endswith("ckpt-4")
    gan = load_run(run)
    assert gan.g_optimizer.iterations.numpy() == 4 and gan.captioner is not None
    captions = ["a small red circle in the center"]
    images = LocalModel(export).generate(captions, [3])
    assert images.shape == (1, 64, 64, 3) and images.dtype == np.uint8
    report = ev.evaluate(run=str(run), num_images=200, diversity_captions=3,
                         diversity_samples=3)
    assert report["step"] == 4
    # --captioner is MirrorGAN's; and a missing one is named before any work.
    assert cli.main(["train", "--captioner", str(captioner_dir), "--text-encoder",
                     str(encoder_dir), "--out", str(tmp_path / "df")]) == 1
    assert "uses no captioner" in capsys.readouterr().err
    assert cli.main(["train", *TINY_MIRRORGAN, "--text-encoder", str(encoder_dir),
                     "--captioner", str(tmp_path / "none"), "--out", str(tmp_path / "m")]) == 1
    assert "captioner.keras" in capsys.readouterr().err
    assert not (tmp_path / "df").exists() and not (tmp_path / "m").exists()


@pytest.mark.slow
def test_mirrorgan_without_a_captioner_pretrains_one_in_the_run(tmp_path, encoder_dir,
                                                                monkeypatch):
    from keras_t2i.models.mirror_gan import mirror_gan_presets

    monkeypatch.setenv("KERAS_T2I_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(mirror_gan_presets.RECIPES["mirrorgan_shapes_64"], "captioner",
                        {"steps": 2, "batch_size": 4})
    run = tmp_path / "run"
    assert cli.main(["train", *TINY_MIRRORGAN, "--steps", "1", "--text-encoder",
                     str(encoder_dir), "--out", str(run), "--no-export"]) == 0
    metrics = json.loads((run / "captioner" / "metrics.json").read_text())
    assert metrics["steps"] == 2 and set(metrics["attribute_accuracy"]) == {
        "shape", "colour", "size", "position"}
    gan = load_run(run)
    text_encoder_words = list(gan.text_encoder.tokenizer.vocabulary)
    assert list(gan.captioner.tokenizer.vocabulary) == text_encoder_words


def test_a_flag_of_another_family_is_named(encoder_dir, tmp_path, capsys):
    for argv, message in ((["--no-memory"], "--no-memory: not an option of --model dfgan"),
                          (["--model", "dmgan", "--nf", "8"],
                           "--nf: not an option of --model dmgan")):
        assert cli.main(["train", *argv, "--text-encoder", str(encoder_dir), "--out",
                         str(tmp_path / "run")]) == 1
        assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_mirrorgan_on_cub_or_coco_asks_for_a_pretrained_captioner(tmp_path):
    from keras_t2i.models import registry
    from keras_t2i.training.config import _check_captioner

    config = {"model_kwargs": {"stream_weight": 10.0}, "captioner": None, "data": "cub",
              "data_dir": str(tmp_path), "data_options": {}, "seed": 0,
              "out": str(tmp_path / "run"), "captioner_pretraining": {}}
    with pytest.raises(ValueError, match="needs --captioner DIR.*resnet152"):
        _check_captioner(config, registry.get_family("mirrorgan"))
    _check_captioner({**config, "model_kwargs": {"stream_weight": 0.0}},
                     registry.get_family("mirrorgan"))  # the ablation needs none


TINY_PARTS = ["--image-size", "32", "--nf", "4", "--num-parts", "3", "--part-dim", "4",
              "--query-dim", "8", "--feature-channels", "4", "--batch-size", "4",
              "--min-objects", "2", "--max-objects", "3", "--checkpoint-every", "2",
              "--sample-every", "2"]


@pytest.mark.slow
def test_memorygan_trains_resumes_exports_generates_and_evaluates_more_parts(
        tmp_path, scene_encoder_dir, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_T2I_CACHE", str(tmp_path / "cache"))
    run, export = tmp_path / "run", tmp_path / "sm"
    given = ["--text-encoder", str(scene_encoder_dir), "--out", str(run)]
    assert cli.main(["train", "--model", "memorygan", *TINY_PARTS, "--steps", "2",
                     "--mask-entropy-weight", "0.1", "--mode-seeking", "1", *given,
                     "--export-dir", str(export)]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["model"] == "memorygan" and config["model_kwargs"]["num_parts"] == 3
    assert config["data_options"] == {"min_objects": 2, "max_objects": 3}
    tags = event_tags(run / "logs")
    for name in ("d_loss", "ma_gp", "mask_entropy", "ms", "samples/grid"):
        assert any(name in tag for tag in tags), name
    assert cli.main(["train", "--model", "memorygan", *TINY_PARTS, "--steps", "4",
                     "--nf", "8", "--resume", *given, "--no-export"]) == 1
    assert "nf differ" in capsys.readouterr().err
    assert cli.main(["train", "--model", "memorygan", *TINY_PARTS, "--steps", "4",
                     "--mask-entropy-weight", "0.1", "--mode-seeking", "1", "--resume",
                     *given, "--no-export"]) == 0
    gan = load_run(run)
    assert gan.g_optimizer.iterations.numpy() == 4 and gan.num_parts == 3
    caption = "a big red circle on the left and a small blue star at the top"
    images = LocalModel(export).generate([caption], [3])
    assert images.shape == (1, 32, 32, 3) and images.dtype == np.uint8
    assert cli.main(["generate", caption, "--run", str(run), "--num", "2", "--out",
                     str(tmp_path / "grid.png")]) == 0
    report = ev.evaluate(run=str(run), num_images=200, diversity_captions=3,
                         diversity_samples=3, probe_images=20)
    names = {m["name"] for m in report["metrics"]}
    assert {"semantic_scene_200", "semantic_count_200", "disentangle_other_20",
            "disentangle_ratio_20"} <= names
    assert "2-3 objects" in next(m for m in report["metrics"]
                                 if m["name"] == "semantic_count_200")["protocol"]
    # More objects than trained: the same weights run four parts on scenes of four.
    more = ev.evaluate(run=str(run), num_parts=4, min_objects=4, max_objects=4,
                       num_images=200, diversity_captions=0, probe_images=20)
    assert "with 4 parts" in more["model"]
    assert "4-4 objects" in more["metrics"][0]["protocol"]


@pytest.mark.slow
def test_the_multipart_baseline_trains_and_cannot_grow(tmp_path, scene_encoder_dir,
                                                       monkeypatch):
    monkeypatch.setenv("KERAS_T2I_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "run"
    assert cli.main(["train", "--model", "multipart", *TINY_PARTS, "--steps", "2",
                     "--holdout", "red circle", "--text-encoder", str(scene_encoder_dir),
                     "--out", str(run), "--no-export"]) == 0
    gan = load_run(run)
    assert len(gan.generator.part_generators) == 3
    report = ev.evaluate(run=str(run), num_images=200, diversity_captions=0,
                         probe_images=20)
    names = {m["name"] for m in report["metrics"]}
    assert {"holdout_pair_20", "holdout_seen_pair_20", "disentangle_other_20"} <= names
    plain = ev.evaluate(run=str(run), num_images=200, diversity_captions=0, probe_images=0)
    assert not any(m["name"].startswith(("holdout", "disentangle")) for m in plain["metrics"])
    with pytest.raises(ValueError, match="one generator per part"):
        ev.evaluate(run=str(run), num_parts=4, min_objects=4, max_objects=4, num_images=200)
