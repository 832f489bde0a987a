import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from fixtures import TINY, event_tags, free_ports, tiny_train
from PIL import Image

import keras_t2i as kt
from keras_t2i import cli
from keras_t2i.grids import labelled_grid
from keras_t2i.text.damsm import DAMSMImageEncoder, DAMSMTextEncoder
from keras_t2i.training import load_run, resolve_train_config, train
from keras_t2i.training.run import SHAPES_GRID_CAPTIONS


def test_config_resolution_follows_preset_then_flags():
    config = resolve_train_config()
    assert config["preset"] == "dfgan_shapes_64" and config["out"] == "runs/dfgan_shapes_64"
    assert config["model_kwargs"]["image_size"] == 64 and config["g_learning_rate"] == 4e-4
    config = resolve_train_config(mode_seeking=1.0, batch_size=16, nf=32, steps=10)
    assert config["out"] == "runs/dfgan_shapes_64-ms"
    assert config["model_kwargs"]["mode_seeking"] == 1.0 and config["model_kwargs"]["nf"] == 32
    assert config["batch_size"] == 16 and config["steps"] == 10 and config["epochs"] is None
    config = resolve_train_config(preset="dfgan_cub_256")
    assert config["data"] == "cub" and config["epochs"] == 1301
    assert config["d_learning_rate"] == 4e-4
    with pytest.raises(ValueError, match="valid recipes"):
        resolve_train_config(preset="nope")
    with pytest.raises(ValueError, match="--text-encoder"):
        resolve_train_config(strategy="multi-worker")


def test_multi_worker_without_tf_config_names_it(tmp_path, encoder_dir, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG"):
        tiny_train(tmp_path / "run", encoder_dir, steps=1, strategy="multi-worker")


def test_run_pretrains_its_encoder_once_with_its_data_and_seed(tmp_path, encoder_dir,
                                                               monkeypatch):
    """Without --text-encoder a run pretrains DAMSM into RUN/damsm with the preset's damsm
    budget and data options over the run's, the run's seed, and reuses it afterwards."""
    import shutil

    from keras_t2i.training import run as kt_run
    from keras_t2i.training.run import obtain_encoders

    calls = []

    def fake_pretrain(**kwargs):
        calls.append(kwargs)
        shutil.copytree(encoder_dir, kwargs["out"])

    monkeypatch.setattr(kt_run, "pretrain_damsm", fake_pretrain)
    config = resolve_train_config(out=str(tmp_path / "run"), seed=3,
                                  data_options={"num_scenes": 50})
    encoder, image_encoder = obtain_encoders(config)
    (call,) = calls
    assert call["out"] == str(tmp_path / "run" / "damsm") and call["seed"] == 3
    assert call["steps"] == config["damsm"]["steps"] and call["data"] == "shapes"
    assert call["data_options"] == {"max_objects": 2, "num_scenes": 50}  # the recipe's DAMSM
    assert config["data_options"] == {"max_objects": 1, "num_scenes": 50}  # and the GAN's
    assert isinstance(encoder, DAMSMTextEncoder)
    assert isinstance(image_encoder, DAMSMImageEncoder)
    obtain_encoders(config)  # a second call reuses the encoder already trained
    assert len(calls) == 1


@pytest.mark.slow
def test_a_run_that_pretrains_its_encoders_trains_as_one_given_them(tmp_path, encoder_dir,
                                                                   monkeypatch):
    """The GAN starts from the same random state whether the run pretrained its DAMSM pair
    (which draws random numbers) or was given it: the quickstart trains as a run given the
    pair it pretrained does."""
    import shutil

    from keras_t2i.training import run as kt_run

    def fake_pretrain(**kwargs):
        keras.utils.set_random_seed(kwargs["seed"] + 1)  # random state unlike the run's
        shutil.copytree(encoder_dir, kwargs["out"])

    monkeypatch.setattr(kt_run, "pretrain_damsm", fake_pretrain)
    tiny_train(tmp_path / "given", encoder_dir, steps=2)
    tiny_train(tmp_path / "pretrained", encoder_dir, steps=2, text_encoder=None)
    given, pretrained = load_run(tmp_path / "given"), load_run(tmp_path / "pretrained")
    assert len(given.generator.weights) > 10
    for a, b in zip(given.generator.weights, pretrained.generator.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)


def test_a_recipes_damsm_data_options_apply_to_the_pretraining_alone(tmp_path, monkeypatch):
    """A recipe's ``damsm.data_options`` replace the run's for the DAMSM pretraining only;
    an option the user gives wins, and another dataset ignores them."""
    from keras_t2i.models.df_gan import df_gan_presets
    from keras_t2i.training.config import _damsm_recipe, check_train_config, damsm_pretraining

    monkeypatch.setitem(df_gan_presets.RECIPES["dfgan_shapes_64"], "damsm",
                        {"steps": 800, "data_options": {"max_objects": 2, "min_objects": 1}})
    config = resolve_train_config(out=str(tmp_path / "run"), data_options={"num_scenes": 50})
    assert config["data_options"] == {"max_objects": 1, "num_scenes": 50}  # the GAN's
    options = damsm_pretraining(config)
    assert options["data_options"] == {"max_objects": 2, "min_objects": 1, "num_scenes": 50}
    assert options["steps"] == 800 and options["out"] == str(tmp_path / "run" / "damsm")
    check_train_config(config)  # the pretraining's options are checked with the run's
    given = resolve_train_config(out=str(tmp_path / "run2"), data_options={"max_objects": 3})
    assert damsm_pretraining(given)["data_options"] == {"max_objects": 3, "min_objects": 1}
    monkeypatch.setitem(df_gan_presets.RECIPES["dfgan_shapes_64"], "damsm",
                        {"steps": 800, "data_options": {"max_objects": 0}})
    with pytest.raises(ValueError, match="max_objects"):  # checked before anything runs
        check_train_config(resolve_train_config(out=str(tmp_path / "run3")))
    recipe = df_gan_presets.RECIPES["dfgan_shapes_64"]
    assert _damsm_recipe(recipe, "cub", {}) == {"steps": 800}


def test_run_directory_and_tensorboard(tmp_path, encoder_dir):
    run = tmp_path / "run"
    result = tiny_train(run, encoder_dir, steps=6)
    assert result["step"] == 6
    for name in ("config.json", "model.keras"):
        assert (run / name).is_file()
    assert json.loads((run / "config.json").read_text())["steps"] == 6
    assert sorted(p.name for p in (run / "samples").iterdir()) == [
        "step_0000000.png", "step_0000003.png", "step_0000006.png"]
    grid = np.asarray(Image.open(run / "samples" / "step_0000006.png"))
    # 4 seeds × the 8 fixed captions, 16-px samples shown at 128 px, with their labels.
    _, layout = labelled_grid([np.zeros((32, 16, 16, 3), np.uint8)], SHAPES_GRID_CAPTIONS,
                              [0, 1, 2, 3], title="step", return_layout=True)
    assert grid.shape == (layout.height, layout.width, 3) and layout.scale == [8]
    assert tf.train.latest_checkpoint(run / "checkpoints").endswith("ckpt-6")
    tags = event_tags(run / "logs")
    for loss in ("d_loss", "g_loss", "ma_gp", "d_real", "d_fake", "d_mismatch"):
        assert f"loss/{loss}" in tags, loss
    assert "images" in tags["samples/grid"] and "text" in tags["samples/captions"]
    assert "_hparams_/session_start_info" in tags


def test_epochs_count_batches_of_the_training_split(tmp_path, encoder_dir):
    result = tiny_train(tmp_path / "run", encoder_dir, epochs=2,
                        data_options={"max_objects": 1, "num_scenes": 12})
    assert result["step"] == 6  # 12 scenes / batch 4 = 3 steps per epoch


@pytest.mark.slow  # the default run's 15-minute budget (2026-12-08: 15 min 6 s)
def test_mixed_bfloat16_run_trains_and_leaves_the_global_policy(tmp_path, encoder_dir):
    run = tmp_path / "run"
    assert tiny_train(run, encoder_dir, steps=2, precision="mixed_bfloat16")["step"] == 2
    assert keras.config.dtype_policy().name == "float32"
    gan = load_run(run)
    assert gan.generator.blocks[0].conv_0.compute_dtype == "bfloat16"
    assert gan.generator.to_rgb.compute_dtype == "float32"
    assert gan.generator.fc.kernel.dtype == "float32"
    images = gan.generate(["a big red circle in the center"], seed=0)
    assert images.dtype == np.uint8 and images.shape == (1, 16, 16, 3)
    with pytest.raises(ValueError, match="precision"):
        resolve_train_config(precision="float16")


def test_cli_flags_reach_the_run_config(tmp_path, encoder_dir):
    run = tmp_path / "run"
    assert cli.main(["train", *TINY, "--steps", "1", "--g-learning-rate", "3e-4",
                     "--damsm-weight", "0.5", "--text-encoder", str(encoder_dir), "--out",
                     str(run), "--no-export"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["data_options"]["max_objects"] == 1 and config["g_learning_rate"] == 3e-4
    assert config["model_kwargs"]["nf"] == 4 and config["export_dir"] is None
    assert config["model_kwargs"]["damsm_weight"] == 0.5
    gan = load_run(run)  # with the run's DAMSM image encoder for its generator loss
    assert gan.damsm_weight == 0.5 and isinstance(gan.image_encoder, DAMSMImageEncoder)


def test_a_whitened_condition_is_fitted_once_from_the_flags_and_resumed(tmp_path, encoder_dir,
                                                                      capsys):
    run = tmp_path / "run"
    assert cli.main(["train", *TINY, "--steps", "2", "--condition", "words_mean",
                     "--condition-whitening", "1e-4", "--condition-rank", "8",
                     "--text-encoder", str(encoder_dir), "--out", str(run),
                     "--no-export"]) == 0
    assert ("Fitted the condition's whitening (words_mean, eps 0.0001, its 8 directions most "
            "correlated with their images) to 4,000 training captions"
            ) in capsys.readouterr().out
    config = json.loads((run / "config.json").read_text())
    assert config["model_kwargs"]["condition"] == "words_mean"
    assert config["model_kwargs"]["condition_whitening"] == 1e-4
    assert config["model_kwargs"]["condition_rank"] == 8
    fitted = load_run(run).condition_whitener
    assert fitted.is_adapted and np.linalg.matrix_rank(fitted.matrix.numpy(), tol=1e-4) == 8
    # A resumed run reads the statistics from its checkpoint, and cannot change them.
    result = train(out=str(run), resume=True, steps=4)
    assert result["step"] == 4 and "Fitted" not in capsys.readouterr().out
    np.testing.assert_array_equal(load_run(run).condition_whitener.matrix.numpy(),
                                  fitted.matrix.numpy())
    with pytest.raises(ValueError, match="condition_whitening differ"):
        train(out=str(run), resume=True, steps=6, condition_whitening=1e-3)
    with pytest.raises(ValueError, match="condition_rank differ"):
        train(out=str(run), resume=True, steps=6, condition_rank=4)


def test_mirrored_run_trains_and_exports(tmp_path, encoder_dir, mirrored_strategy,
                                        monkeypatch):
    from keras_t2i.serving import LocalModel
    from keras_t2i.training import run as run_module

    # The session's strategy over the two logical CPUs: a second MirroredStrategy in this
    # process could reuse its collective keys (see conftest.mirrored_strategy).
    made = run_module.make_strategy
    monkeypatch.setattr(run_module, "make_strategy", lambda name: mirrored_strategy
                        if name == "mirrored" else made(name))

    result = tiny_train(tmp_path / "run", encoder_dir, steps=2, strategy="mirrored",
                        export_dir=str(tmp_path / "sm"))
    assert result["step"] == 2 and result["export"] == str(tmp_path / "sm" / "1")
    images = LocalModel(tmp_path / "sm").generate(["a red circle"], [0])
    assert images.shape == (1, 16, 16, 3) and images.dtype == np.uint8


@pytest.mark.slow  # the default run's 15-minute budget (2026-12-08: 15 min 6 s)
def test_existing_run_is_not_overwritten(tmp_path, encoder_dir):
    tiny_train(tmp_path / "run", encoder_dir, steps=2)
    with pytest.raises(ValueError, match="--resume"):
        tiny_train(tmp_path / "run", encoder_dir, steps=2)


def test_resume_continues_to_the_budget(tmp_path, encoder_dir, capsys):
    run = tmp_path / "run"
    tiny_train(run, encoder_dir, steps=4)
    capsys.readouterr()
    result = train(out=str(run), resume=True, steps=8)
    assert "Resumed from step 4" in capsys.readouterr().out
    assert result["step"] == 8
    with pytest.raises(ValueError, match="nf=4"):
        train(out=str(run), resume=True, steps=10, nf=8)
    with pytest.raises(FileNotFoundError, match=f"{tmp_path / 'elsewhere'} holds no config"):
        train(out=str(tmp_path / "elsewhere"), resume=True, steps=10)
    with pytest.raises(TypeError, match="Unknown training option"):
        train(out=str(run), resume=True, colour="red")


def test_checkpoint_restores_every_weight_of_every_network(tmp_path, encoder_dir):
    """G, D and the EMA generator come back exactly (the EMA generator is reached by no
    optimizer, and Keras 3 layer lists are invisible to tf.train.Checkpoint)."""
    import keras_t2i as kt
    from keras_t2i.text.damsm import load_encoders
    from keras_t2i.training.checkpoint import gan_checkpoint

    text_encoder = load_encoders(encoder_dir)[0]

    def make():
        gan = kt.models.DFGAN(text_encoder, image_size=16, nf=4, ema_decay=0.5)
        gan.compile()
        return gan

    gan = make()
    data = kt.data.load("shapes", "train", image_size=16, batch_size=4, max_objects=1,
                        tokenizer=text_encoder.tokenizer).take(3)
    gan.fit(data, epochs=1, verbose=0)
    path = gan_checkpoint(gan).save(str(tmp_path / "ckpt"))
    fresh = make()
    gan_checkpoint(fresh).restore(path).assert_consumed()
    for name in ("generator", "discriminator", "generator_ema"):
        saved, restored = getattr(gan, name).get_weights(), getattr(fresh, name).get_weights()
        assert len(saved) == len(restored)
        for a, b in zip(saved, restored):
            np.testing.assert_array_equal(a, b, err_msg=name)
    assert int(fresh.g_optimizer.iterations.numpy()) == 3


def test_generate_from_a_run(tmp_path, encoder_dir):
    run = tmp_path / "run"
    tiny_train(run, encoder_dir, steps=2)
    out = tmp_path / "grid.png"
    code = cli.main(["generate", "a big red circle in the center", "a small blue square",
                     "--run", str(run), "--num", "3", "--seed", "7", "--out", str(out)])
    assert code == 0
    grid = np.asarray(Image.open(out))
    captions = ["a big red circle in the center", "a small blue square"]
    _, layout = labelled_grid([np.zeros((6, 16, 16, 3), np.uint8)], captions, [7, 8, 9],
                              return_layout=True)
    assert grid.shape == (layout.height, layout.width, 3)
    # Row r is seed 7 + r for every caption: each tile is that image, upscaled ×8.
    gan = load_run(run)
    for r in range(3):
        images = gan.generate(captions, seeds=[7 + r] * 2)
        for c in range(2):
            top, left, size = layout.tiles[(0, r, c)]
            np.testing.assert_array_equal(grid[top:top + size:8, left:left + size:8],
                                          images[c])
    again = tmp_path / "again.png"
    cli.main(["generate", "a big red circle in the center", "a small blue square",
              "--run", str(run), "--num", "3", "--seed", "7", "--out", str(again)])
    np.testing.assert_array_equal(np.asarray(Image.open(again)), grid)


def test_generate_names_a_missing_run(tmp_path, capsys):
    assert cli.main(["generate", "a red circle", "--run", str(tmp_path / "nope")]) == 1
    assert "nope" in capsys.readouterr().err


@pytest.mark.slow
def test_kill_then_resume_loses_at_most_one_interval(tmp_path, encoder_dir):
    run = tmp_path / "run"
    argv = [sys.executable, "-m", "keras_t2i.cli", "train", *TINY, "--steps", "400",
            "--checkpoint-every", "5", "--sample-every", "1000", "--out", str(run),
            "--text-encoder", str(encoder_dir)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 300
    while time.time() < deadline:
        latest = tf.train.latest_checkpoint(run / "checkpoints")
        if latest and int(latest.rsplit("-", 1)[1]) >= 10:
            break
        time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("no checkpoint at step 10 within 5 minutes")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = int(tf.train.latest_checkpoint(run / "checkpoints").rsplit("-", 1)[1])
    assert killed_at % 5 == 0 and killed_at >= 10
    result = subprocess.run(argv[:argv.index("--steps")] + [
        "--steps", str(killed_at + 5), "--out", str(run), "--resume"],
        capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"Resumed from step {killed_at}" in result.stdout
    assert tf.train.latest_checkpoint(run / "checkpoints").endswith(f"ckpt-{killed_at + 5}")


@pytest.mark.slow
@pytest.mark.parametrize("model", ["dfgan", "dmgan", "mirrorgan", "memorygan"])
def test_two_workers_on_loopback_match_one_device_and_train(tmp_path, encoder_dir,
                                                            captioner_dir, model):
    job = Path(__file__).parent.parent / "multi_worker_job.py"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("TF_CONFIG", None)
    common = ["--encoder-dir", str(encoder_dir), "--captioner-dir", str(captioner_dir),
              "--model", model]
    single = subprocess.run([sys.executable, str(job), *common,
                             "--result", str(tmp_path / "single.npz")],
                            capture_output=True, text=True, env=env, timeout=300)
    assert single.returncode == 0, single.stderr[-3000:]

    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    workers = []
    for index in range(2):
        worker_env = dict(env, TF_CONFIG=json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": index}}))
        workers.append(subprocess.Popen(
            [sys.executable, str(job), *common,
             "--result", str(tmp_path / f"worker{index}.npz"), "--train-out",
             str(tmp_path / "run")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=worker_env))
    outputs = []
    try:
        for proc in workers:
            outputs.append(proc.communicate(timeout=600))
    finally:
        for proc in workers:
            proc.kill()
    for proc, (_, stderr) in zip(workers, outputs):
        assert proc.returncode == 0, stderr[-3000:]

    expected = np.load(tmp_path / "single.npz")
    expected_logs = json.loads(str(expected["logs"]))
    assert int(expected["replicas"]) == 1
    for index in range(2):
        got = np.load(tmp_path / f"worker{index}.npz")
        assert int(got["replicas"]) == 2
        logs = json.loads(str(got["logs"]))
        for name, value in expected_logs.items():
            assert logs[name] == pytest.approx(value, rel=1e-4, abs=1e-5), name
        names = [k for k in expected.files if "/" in k]  # network/index
        assert len({k.split("/")[0] for k in names}) >= 3 and len(names) > 20
        for name in names:
            np.testing.assert_allclose(got[name], expected[name], rtol=1e-4, atol=1e-5)
    # Then both trained through train(): the chief wrote the checkpoints, samples and model.
    run = tmp_path / "run"
    assert tf.train.latest_checkpoint(run / "checkpoints").endswith("ckpt-3")
    assert (run / "model.keras").is_file() and (run / "samples" / "step_0000002.png").is_file()
    assert "Trained to step 3" in outputs[0][0]
    assert sorted(p.name for p in (run / "export").iterdir()) == ["1"]  # the chief's only


@pytest.mark.slow  # the default run's 15-minute budget (2026-12-08: 15 min 6 s)
def test_python_api_fit_with_sample_grid_and_keras_tensorboard(tmp_path, encoder_dir):
    """The README's Python route: load encoders, build, compile, fit with the callbacks."""
    text_encoder, _ = kt.pretrain.load_encoders(encoder_dir)
    gan = kt.models.DFGAN(text_encoder, image_size=16, nf=4)
    gan.compile(g_optimizer=keras.optimizers.Adam(1e-4, beta_1=0.0, beta_2=0.9),
                d_optimizer=keras.optimizers.Adam(4e-4, beta_1=0.0, beta_2=0.9))
    data = kt.data.load("shapes", "train", image_size=16, batch_size=4, num_scenes=8,
                        max_objects=1, tokenizer=text_encoder.tokenizer)
    history = gan.fit(data, epochs=1, verbose=0, shuffle=False, callbacks=[
        kt.callbacks.SampleGrid(tmp_path / "logs", ["a big red circle in the center"],
                                samples_dir=tmp_path / "samples"),
        keras.callbacks.TensorBoard(tmp_path / "logs")])
    assert set(history.history) >= {"d_loss", "g_loss", "ma_gp"}
    assert (tmp_path / "samples" / "step_0000002.png").is_file()
    assert "epoch_g_loss" in event_tags(tmp_path / "logs")
    assert gan.generate(["a small blue square on the left"], seed=0).shape == (1, 16, 16, 3)


def test_sample_grids_show_every_stage_of_a_cascade(tmp_path, encoder_dir):
    """A generator with several stages gets a grid per stage in TensorBoard; the PNG and
    ``samples/grid`` show the final one."""
    text_encoder, _ = kt.pretrain.load_encoders(encoder_dir)
    gan = kt.models.DFGAN(text_encoder, image_size=16, nf=4)
    one_stage = gan.generate_images

    def two_stages(latents, text, training=None, generator=None):
        final = one_stage(latents, text, training, generator)["images"][-1]
        return {"images": [tf.image.resize(final, (8, 8)), final]}

    gan.generate_images = two_stages
    gan.compile()
    captions = ["a big red circle in the center", "a small blue square on the left"]
    stages = gan.generate_stages(captions, seed=1)
    assert [s.shape for s in stages] == [(2, 8, 8, 3), (2, 16, 16, 3)]
    grid = kt.callbacks.SampleGrid(tmp_path / "logs", captions, seeds=(0, 1),
                                   samples_dir=tmp_path / "samples")
    grid.set_model(gan)
    grid.write()
    assert "samples/grid" in event_tags(tmp_path / "logs")
    png = np.asarray(Image.open(tmp_path / "samples" / "step_0000000.png"))
    # One block per stage: the 8-px stage ×16 and the 16-px stage ×8, both 128-px tiles.
    _, layout = labelled_grid([np.zeros((4, 8, 8, 3), np.uint8), np.zeros((4, 16, 16, 3),
                              np.uint8)], captions, [0, 1], title="step", return_layout=True)
    assert png.shape == (layout.height, layout.width, 3) and layout.scale == [16, 8]
    for k, stage in enumerate(stages_of_seed(gan, captions, [0, 1])):
        top, left, size = layout.tiles[(k, 1, 0)]
        factor = layout.scale[k]
        np.testing.assert_array_equal(png[top:top + size:factor, left:left + size:factor],
                                      stage[2])


def stages_of_seed(gan, captions, seeds):
    """Every stage of the grid's images, row-major: seed ``seeds[r]`` for every caption."""
    rows = [gan.generate_stages(captions, seeds=[s] * len(captions)) for s in seeds]
    return [np.concatenate(stage) for stage in zip(*rows)]


def test_the_shapes_grid_has_scenes_of_the_runs_fewest_objects():
    from keras_t2i.training.run import _grid_captions

    one = _grid_captions({"data": "shapes", "data_options": {}}, None)
    assert one == list(SHAPES_GRID_CAPTIONS)
    three = _grid_captions({"data": "shapes", "data_options": {"min_objects": 3}}, None)
    assert len(three) == len(SHAPES_GRID_CAPTIONS)
    for caption in three:
        phrases = caption.split(" and ")
        assert len(set(phrases)) == 3 and set(phrases) <= set(SHAPES_GRID_CAPTIONS), caption
    unknown, _ = kt.data.caption_tokenizer("shapes", max_objects=3).check_words(
        tf.constant(three))
    assert not any(w for row in unknown.numpy() for w in row)  # Shapes' own words
