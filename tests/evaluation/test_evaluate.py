import json

import numpy as np
import pytest
from fixtures import event_tags, tiny_train

from keras_t2i import cli
from keras_t2i import evaluation as ev


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_T2I_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, encoder_dir):
    run = tmp_path_factory.mktemp("evalrun") / "run"
    tiny_train(run, encoder_dir, steps=2)
    return run


def by_name(report):
    return {m["name"]: m for m in report["metrics"]}


def test_evaluate_a_run_writes_every_metric(tiny_run, encoder_dir, tmp_path):
    out = tmp_path / "metrics.json"
    report = ev.evaluate(run=str(tiny_run), num_images=200, diversity_captions=3,
                         diversity_samples=3, out=str(out))
    metrics = by_name(report)
    expected = {f"semantic_{k}_200" for k in ("attributes", "position", "shape", "color", "size",
                                              "count", "scene")}
    expected |= {"fid_200", "kid_200", "is_200", "r_precision_200", "diversity_3x3"}
    assert set(metrics) == expected
    assert json.loads(out.read_text()) == report
    assert report["step"] == 2 and report["data"] == "shapes"
    for name, entry in metrics.items():
        assert entry["protocol"] and np.isfinite(entry["value"]), name
        if name.startswith(("semantic", "r_precision")):
            assert 0.0 <= entry["value"] <= 1.0, name
    assert metrics["fid_200"]["value"] > 0 and 1.0 <= metrics["is_200"]["value"] <= 48.0
    assert metrics["diversity_3x3"]["num_images"] == 9
    assert str(encoder_dir) in metrics["r_precision_200"]["protocol"]
    tags = event_tags(tiny_run / "logs" / "eval")
    assert "eval/fid_200" in tags and "eval/semantic_attributes_200" in tags


def test_real_images_are_the_sanity_rows(tiny_run):
    real = by_name(ev.evaluate(model="real", max_objects=1, num_images=200))
    assert real["semantic_attributes_200"]["value"] >= 0.99
    assert real["semantic_scene_200"]["value"] >= 0.98
    assert not any(name.startswith(("diversity", "r_precision")) for name in real)
    model = by_name(ev.evaluate(run=str(tiny_run), num_images=200, diversity_captions=0))
    # An untrained 16-pixel generator is far from real Shapes; another real sample is not.
    assert real["fid_200"]["value"] < model["fid_200"]["value"] / 5


def test_reference_statistics_are_cached_with_their_protocol(tmp_path):
    first = ev.shapes.shapes_reference(200, 64, 1)
    files = list((tmp_path / "cache" / "reference_stats").glob("*.npz"))
    assert len(files) == 1
    with np.load(files[0]) as cached:
        assert "test scenes 0..199" in str(cached["protocol"])
    again = ev.shapes.shapes_reference(200, 64, 1)
    np.testing.assert_array_equal(first[0], again[0])
    assert first[1] == again[1] and np.sqrt(np.mean(first[0] ** 2)) == pytest.approx(1.0)


def test_evaluate_rejects_what_it_cannot_do(tiny_run):
    with pytest.raises(ValueError, match="data_dir"):
        ev.evaluate(run=str(tiny_run), data="cub")
    with pytest.raises(ValueError, match="Unknown dataset"):
        ev.evaluate(run=str(tiny_run), data="mnist")
    with pytest.raises(ValueError, match="Shapes only"):
        ev.evaluate(model="real", data="cub")
    with pytest.raises(ValueError, match="at least 200"):
        ev.evaluate(run=str(tiny_run), num_images=150)
    with pytest.raises(ValueError, match="either"):
        ev.evaluate(run=str(tiny_run), model="x")
    assert ev.common.count_label(1000) == "1k" and ev.common.count_label(2500) == "2.5k"
    assert ev.common.count_label(300) == "300"


def test_cli_evaluates_a_saved_model(tiny_run, tmp_path, capsys):
    assert cli.main(["export", "--run", str(tiny_run), "--out", str(tmp_path / "sm")]) == 0
    out = tmp_path / "m.json"
    code = cli.main(["evaluate", "--model", str(tmp_path / "sm"), "--num-images", "200",
                     "--max-objects", "1", "--diversity-captions", "2",
                     "--diversity-samples", "2", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "| fid_200 |" in printed and "No R-precision" in printed
    report = json.loads(out.read_text())
    assert report["model"].startswith("SavedModel") and report["step"] == 2
    assert cli.main(["evaluate", "--run", str(tiny_run), "--version", "1"]) == 1
    assert "needs --model" in capsys.readouterr().err


def test_evaluate_callback_during_fit(encoder_dir, tmp_path):
    import keras_t2i as kt
    from keras_t2i.text.damsm import load_encoders

    text_encoder = load_encoders(encoder_dir)[0]
    gan = kt.models.DFGAN(text_encoder, image_size=16, nf=4)
    gan.compile()
    data = kt.data.load("shapes", "train", image_size=16, batch_size=4,
                        tokenizer=text_encoder.tokenizer, max_objects=1).take(2)
    callback = kt.callbacks.Evaluate(tmp_path / "logs", every_n_epochs=2, num_images=200,
                                     max_objects=1, diversity_captions=0)
    gan.fit(data, epochs=2, verbose=0, callbacks=[callback])
    assert [step for step, _ in callback.history] == [4]  # after epoch 2 only
    names = {m["name"] for m in callback.history[0][1]}
    assert "semantic_attributes_200" in names and "fid_200" in names
    assert "eval/fid_200" in event_tags(tmp_path / "logs" / "eval")
    with pytest.raises(ValueError, match="num_images"):
        kt.callbacks.Evaluate(tmp_path, num_images=10)


def test_evaluate_callback_on_cub_uses_inception_once(encoder_dir, tmp_path, monkeypatch):
    import keras_t2i as kt
    from keras_t2i.evaluation import callback as ev_callback
    from keras_t2i.text.damsm import load_encoders

    built, calls = [], []

    class FakeInception:
        def __init__(self, path):
            built.append(path)

    def fake_evaluate_dataset(generator, **kwargs):
        calls.append(kwargs)
        return [{"name": "fid_200", "value": 1.0, "protocol": "p", "num_images": 200}]

    monkeypatch.setattr(ev_callback, "InceptionV3Features", FakeInception)
    monkeypatch.setattr(ev_callback.datasets, "evaluate_dataset", fake_evaluate_dataset)
    with pytest.raises(ValueError, match="inception_weights"):
        kt.callbacks.Evaluate(tmp_path, num_images=200, data="cub", data_dir=tmp_path)
    callback = kt.callbacks.Evaluate(tmp_path / "logs", num_images=200, data="cub",
                                     data_dir=tmp_path / "birds", inception_weights="w.h5")
    gan = kt.models.DFGAN(load_encoders(encoder_dir)[0], image_size=16, nf=4)
    gan.compile()
    callback.set_model(gan)
    callback.evaluate()
    callback.evaluate()
    assert built == ["w.h5"] and len(calls) == 2
    assert calls[0]["data"] == "cub" and calls[0]["data_dir"] == tmp_path / "birds"
    assert isinstance(calls[0]["inception_weights"], FakeInception)
    assert "eval/fid_200" in event_tags(tmp_path / "logs" / "eval")


def test_evaluate_model_scores_an_export_on_the_data_it_records(exported, tmp_path):
    import shutil

    from keras_t2i.serving.layout import METADATA_FILE, read_metadata

    assert read_metadata(exported["dir"])["data"] == {"name": "shapes", "image_size": 16,
                                                      "options": {"max_objects": 1}}
    report = ev.evaluate(model=str(exported["base"]), num_images=200, diversity_captions=0)
    semantic = next(m for m in report["metrics"] if m["name"] == "semantic_shape_200")
    assert "(1 max objects)" in semantic["protocol"] and "latents N(0, I)" in semantic["protocol"]
    old = tmp_path / "old" / "1"  # an export from before exports recorded their data
    shutil.copytree(exported["dir"], old)
    meta = read_metadata(old)
    del meta["data"]
    (old / "assets" / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="does not record the data it was trained on"):
        ev.evaluate(model=str(old.parent), num_images=200, diversity_captions=0)
    report = ev.evaluate(model=str(old.parent), num_images=200, diversity_captions=0,
                         max_objects=2)
    semantic = next(m for m in report["metrics"] if m["name"] == "semantic_shape_200")
    assert "(2 max objects)" in semantic["protocol"]
    with pytest.raises(ValueError, match="exported with truncation None"):
        ev.evaluate(model=str(exported["base"]), num_images=200, truncation=0.88)
