"""Version discovery as TF Serving does it, a served set that follows the disk, a poller that
never dies, and model configs that cannot be ambiguous."""

import shutil
import time

import numpy as np
import pytest
from fixtures import CAPTIONS, SEEDS
from tensorflow_serving.apis import predict_pb2

from keras_t2i.export import export_saved_model, remove_stale_staging
from keras_t2i.serving import server as server_module
from keras_t2i.serving.layout import parse_version, scan_versions, version_dirs
from keras_t2i.serving.savedmodel import LocalModel, resolve_version_dir
from keras_t2i.serving.server import ModelRegistry, _Abort, parse_model_config


@pytest.mark.parametrize("name, version", [
    ("1", 1), ("007", 7), (" 12\t", 12), ("-3", -3), ("9223372036854775807", 2 ** 63 - 1),
    ("9223372036854775808", None), ("²", None), ("٣", None), ("1.0", None), ("+7", None),
    ("", None), ("7a", None), ("- 7", None), (".1.partial-99", None),
])
def test_version_names_are_read_as_tf_serving_reads_them(name, version):
    assert parse_version(name) == version


def _spec(name):
    spec = predict_pb2.PredictRequest().model_spec
    spec.name = name
    return spec


def test_odd_folders_are_logged_and_ignored_and_leading_zeros_load_from_their_folder(
        exported, tmp_path, caplog):
    caplog.set_level("INFO", logger="keras_t2i.serve")
    base = tmp_path / "m"
    shutil.copytree(exported["dir"], base / "007")
    for odd in ("²", "notes", "1.0"):
        (base / odd).mkdir()
    (base / "8").write_text("a file, not a version")
    found, ignored, shadowed = scan_versions(base)
    assert found == {7: base / "007"} and sorted(ignored) == ["1.0", "8", "notes", "²"]
    assert resolve_version_dir(base) == base / "007"
    registry = ModelRegistry({"m": str(base)})  # at start-up: no crash
    model, _ = registry.resolve(_spec("m"))
    assert model.version == 7 and model.directory == base / "007"
    np.testing.assert_array_equal(model.generate(CAPTIONS, SEEDS), exported["images"])
    assert "Ignoring ² in the base path of m" in caplog.text
    registry.refresh()
    assert caplog.text.count("Ignoring ²") == 1  # once, not at every poll
    shutil.copytree(exported["dir"], base / "7")  # the same version under another name
    assert version_dirs(base) == {7: base / "7"} and scan_versions(base)[2] == ["007"]
    with pytest.raises(FileExistsError, match="never overwritten"):  # 7 is there, as "7"
        export_saved_model(exported["gan"], base, version=7)


def test_served_set_follows_the_disk(exported, tmp_path, caplog, monkeypatch):
    caplog.set_level("INFO", logger="keras_t2i.serve")
    monkeypatch.setattr(server_module, "LOAD_RETRY_SECONDS", 0)
    base = tmp_path / "m"
    for version in ("1", "2"):
        shutil.copytree(exported["dir"], base / version)
    (base / "3").mkdir()
    (base / "3" / "saved_model.pb").write_bytes(b"not a SavedModel")
    registry = ModelRegistry({"m": str(base)})
    # The newest does not load: the newest one that does is served.
    assert registry.models["m"].current.version == 2
    assert "Could not load m version 3" in caplog.text
    shutil.rmtree(base / "2")  # the served version deleted: the next one down
    registry.refresh()
    assert registry.models["m"].current.version == 1
    shutil.rmtree(base / "1")
    shutil.rmtree(base / "3")  # every version gone: NOT_FOUND
    registry.refresh()
    with pytest.raises(_Abort) as err:
        registry.resolve(_spec("m"))
    assert err.value.code.name == "NOT_FOUND"
    assert "Unloaded m version 1" in caplog.text
    shutil.copytree(exported["dir"], base / "4")
    registry.refresh()
    assert registry.models["m"].current.version == 4
    shutil.rmtree(base)  # the base path itself gone: as TF Serving, keep what is loaded
    registry.refresh()
    assert registry.models["m"].current.version == 4
    assert "Cannot read the base path of m" in caplog.text


def test_the_poller_survives_any_error_and_keeps_polling(exported, tmp_path, caplog,
                                                         monkeypatch):
    caplog.set_level("INFO", logger="keras_t2i.serve")
    base = tmp_path / "m"
    shutil.copytree(exported["dir"], base / "1")
    registry = ModelRegistry({"m": str(base), "other": str(tmp_path / "missing")},
                             poll_seconds=0.05)
    served = registry.models["m"]
    real, calls = served.refresh, []

    def flaky():
        calls.append(1)
        if len(calls) <= 3:
            raise RuntimeError("disk on fire")
        real()

    monkeypatch.setattr(served, "refresh", flaky)
    registry.start_polling()
    try:
        shutil.copytree(exported["dir"], base / "2")
        deadline = time.monotonic() + 60
        while served.current.version != 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert served.current.version == 2
        assert registry._thread.is_alive()
        assert caplog.text.count("Version polling of m failed") == 3
        assert "RuntimeError: disk on fire" in caplog.text
    finally:
        registry.stop()


def test_model_configs_cannot_name_a_model_twice_or_leave_a_mapped_folder(tmp_path):
    config = tmp_path / "models.config"
    config.write_text("model_config_list { config { name: 'a' base_path: '/models/x' } "
                      "config { name: 'a' base_path: '/models/y' } }")
    with pytest.raises(ValueError, match="configures model 'a' twice"):
        parse_model_config(config)
    config.write_text("model_config_list { config { name: 'a' "
                      "base_path: '/models/../../etc/x' } }")
    with pytest.raises(ValueError, match="leaves the mapped folder /models"):
        parse_model_config(config, {"/models": str(tmp_path)})
    config.write_text("model_config_list { config { name: 'a' "
                      "base_path: '/models//savedmodels/./b/../a/' } }")
    assert parse_model_config(config, {"/models/": str(tmp_path)}) == {
        "a": (str(tmp_path / "savedmodels" / "a"), None)}
    assert parse_model_config(config) == {"a": ("/models/savedmodels/a", None)}


def test_exports_clean_up_what_killed_exports_left(exported, tmp_path):
    import os
    import subprocess
    import sys

    base = tmp_path / "m"
    base.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    (base / f".3.partial-{dead}").mkdir()
    (base / f".3.partial-{dead}" / "saved_model.pb").write_bytes(b"half")
    (base / f".4.partial-{os.getpid()}").mkdir()  # a live process's: left alone
    assert remove_stale_staging(base) == [base / f".3.partial-{dead}"]
    assert sorted(p.name for p in base.iterdir()) == [f".4.partial-{os.getpid()}"]
    (base / f".5.partial-{dead}").mkdir()
    assert export_saved_model(exported["gan"], base).name == "1"
    assert not (base / f".5.partial-{dead}").exists()
    assert LocalModel(base).version == 1


def test_loading_a_version_named_with_leading_zeros_reports_its_number(exported, tmp_path):
    shutil.copytree(exported["dir"], tmp_path / "m" / "0012")
    model = LocalModel(tmp_path / "m", 12)
    assert model.version == 12 and model.directory.name == "0012"
    with pytest.raises(FileNotFoundError, match="has no version 3"):
        LocalModel(tmp_path / "m", 3)
