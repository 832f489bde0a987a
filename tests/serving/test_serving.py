"""Export (TF Serving layout, signatures, op set) and serving (the real tensorflow-serving-api
client against `keras-t2i serve`'s servicers over loopback)."""

import base64
import io
import json
import subprocess
import sys
import textwrap
import threading

import grpc
import numpy as np
import pytest
import tensorflow as tf
from fixtures import CAPTIONS, SEEDS, concurrent_generate, raw_predict, serve_process
from PIL import Image
from tensorflow_serving.apis import predict_pb2

import keras_t2i as kt
from keras_t2i.export import export_saved_model
from keras_t2i.serving.client import Client, ServingError
from keras_t2i.serving.layout import read_metadata, read_warmup, versions
from keras_t2i.serving.rest import build_rest_server
from keras_t2i.serving.savedmodel import LocalModel, resolve_version_dir
from keras_t2i.serving.server import ModelRegistry, Service, build_server, parse_model_config


def test_export_layout_versions_and_metadata(exported, tmp_path):
    assert exported["dir"] == exported["base"] / "1"
    for name in ("saved_model.pb", "variables/variables.index", "assets/keras_t2i.json"):
        assert (exported["dir"] / name).is_file(), name
    meta = read_metadata(exported["dir"])
    assert meta["model_family"] == "DFGAN" and meta["image_size"] == 16
    assert meta["preset"] == "test" and meta["training_step"] == 0
    assert meta["vocabulary_size"] == exported["gan"].text_encoder.tokenizer.vocabulary_size()
    assert meta["package_version"] == kt.__version__
    warmup = read_warmup(exported["dir"])  # TF Serving's assets.extra convention
    assert [r.model_spec.signature_name for r in warmup] == ["serving_default", "generate_png",
                                                             "tokenize"]
    base = tmp_path / "m"
    assert export_saved_model(exported["gan"], base).name == "1"
    assert export_saved_model(exported["gan"], base).name == "2"
    assert export_saved_model(exported["gan"], base, version=7).name == "7"
    assert versions(base) == [1, 2, 7] and not list(base.glob(".*"))  # no staging left
    with pytest.raises(FileExistsError, match="never overwritten"):
        export_saved_model(exported["gan"], base, version=2)
    assert resolve_version_dir(base) == base / "7"
    with pytest.raises(FileNotFoundError, match="no version 3"):
        resolve_version_dir(base, 3)


def test_round_trip_in_a_process_that_never_imports_keras_t2i(exported, tmp_path):
    np.save(tmp_path / "ref.npy", exported["images"])
    script = textwrap.dedent(f"""
        import sys
        sys.modules["keras_t2i"] = None  # any import of the package would fail
        import numpy as np
        import tensorflow as tf
        import tensorflow_text  # noqa: F401  (the tokenizer's ops)
        model = tf.saved_model.load({str(exported["dir"])!r})
        captions, seeds = {CAPTIONS!r}, {SEEDS!r}
        run = model.signatures["serving_default"]
        images = run(captions=tf.constant(captions), seeds=tf.constant(seeds, tf.int64))
        ref = np.load({str(tmp_path / "ref.npy")!r})
        assert images["images"].dtype == tf.uint8
        np.testing.assert_array_equal(images["images"].numpy(), ref)
        # The same caption and seed give the same image in another batch, at another place.
        alone = run(captions=tf.constant(captions[2:] + captions[:1]),
                    seeds=tf.constant(seeds[2:] + seeds[:1], tf.int64))["images"].numpy()
        np.testing.assert_array_equal(alone, ref[[2, 0]])
        png = model.signatures["generate_png"](captions=tf.constant(captions),
                                               seeds=tf.constant(seeds, tf.int64))["png"]
        decoded = np.stack([tf.io.decode_png(p).numpy() for p in png])
        np.testing.assert_array_equal(decoded, ref)
        print("ROUND TRIP OK")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300)
    assert "ROUND TRIP OK" in result.stdout, result.stderr[-3000:]


def test_graph_holds_only_core_and_tensorflow_text_ops(exported):
    script = textwrap.dedent(f"""
        from tensorflow.core.protobuf import saved_model_pb2
        from tensorflow.python.framework import op_def_registry
        saved = saved_model_pb2.SavedModel()
        saved.ParseFromString(open({str(exported["dir"] / "saved_model.pb")!r}, "rb").read())
        graph = saved.meta_graphs[0].graph_def
        ops = {{n.op for n in graph.node}}
        for function in graph.library.function:
            ops |= {{n.op for n in function.node_def}}
        ops -= {{f.signature.name for f in graph.library.function}}  # calls of graph functions
        outside_core = sorted(o for o in ops if op_def_registry.get(o) is None)
        import tensorflow_text  # noqa: F401
        unknown = sorted(o for o in outside_core if op_def_registry.get(o) is None)
        print("OPS", len(ops), "TFTEXT", outside_core, "UNKNOWN", unknown)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300)
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("OPS"))
    assert line.endswith("UNKNOWN []"), line
    assert "StatelessRandomNormalV2" in str(exported["dir"].joinpath("saved_model.pb")
                                            .read_bytes())
    # The tokenizer's ops are tensorflow-text's, which TF Serving links (ecosystem.md §3.3).
    assert "WhitespaceTokenize" in line


def test_saved_model_cli_lists_the_signatures(exported):
    cli = [sys.executable, "-c", "from tensorflow.python.tools.saved_model_cli import main; "
           "main()", "show", "--dir", str(exported["dir"]), "--all"]
    out = subprocess.run(cli, capture_output=True, text=True, timeout=300).stdout
    for text in ("signature_def['serving_default']", "signature_def['generate_png']",
                 "inputs['captions']", "inputs['seeds']", "outputs['images']",
                 "outputs['png']", "DT_UINT8", "DT_INT64"):
        assert text in out, text


@pytest.mark.parametrize("captions, seeds, message", [
    (["a red circle", "   "], [1, 2], "caption 1 is empty or whitespace only"),
    (["a red circle"], [1, 2], "got 1 captions and 2 seeds"),
    ([], [], "captions is empty"),
    (["a red circle"] * 9, list(range(9)), "9 captions exceed the batch limit"),
    (["?!"], [1], "caption 0 has no words"),
])
def test_exported_model_rejects_bad_inputs_with_a_message(exported, captions, seeds, message):
    model = LocalModel(exported["base"])
    # Repeated: the graph's op order is not fixed, and an unordered check once let a TF error
    # through about one call in fifty.
    for _ in range(200):
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            model.generate(captions, seeds)
    np.testing.assert_array_equal(model.generate(CAPTIONS, SEEDS), exported["images"])


@pytest.fixture(scope="module")
def server(exported):
    registry = ModelRegistry({"tiny": str(exported["base"])}, poll_seconds=0.2)
    registry.start_polling()
    service = Service(registry)
    grpc_server, port = build_server(service, port=0)
    rest_server, rest_port = build_rest_server(service, port=0)
    yield {"target": f"127.0.0.1:{port}", "rest": f"http://127.0.0.1:{rest_port}",
           "registry": registry, "rest_port": rest_port}
    rest_server.shutdown()
    grpc_server.stop(None)
    registry.stop()


def test_client_predicts_both_signatures_and_reads_metadata_and_status(server, exported):
    with Client(server["target"], "tiny") as client:
        np.testing.assert_array_equal(client.generate(CAPTIONS, SEEDS), exported["images"])
        pngs = client.generate_png(CAPTIONS, SEEDS)
        decoded = np.stack([np.asarray(Image.open(io.BytesIO(p))) for p in pngs])
        np.testing.assert_array_equal(decoded, exported["images"])
        assert client.status() == [{"version": 1, "state": "AVAILABLE", "error_code": 0,
                                    "error_message": ""}]
        meta = client.metadata()
        assert meta["version"] == 1
        assert meta["signatures"]["serving_default"] == {
            "inputs": {"captions": ("string", [-1]), "seeds": ("int64", [-1])},
            "outputs": {"images": ("uint8", [-1, 16, 16, 3])}}
        assert meta["signatures"]["generate_png"]["outputs"] == {"png": ("string", [-1])}
        max_words = exported["gan"].text_encoder.tokenizer.max_words
        assert meta["signatures"]["tokenize"] == {
            "inputs": {"captions": ("string", [-1])},
            "outputs": {"tokens": ("int32", [-1, max_words]),
                        "unknown_words": ("string", [-1, -1]),
                        "suggestions": ("string", [-1, -1])}}


def test_clients_check_caption_words_with_the_tokenize_signature(server, exported):
    """The served model names the words outside its vocabulary, with the nearest known word,
    and its tokens are those the model generates from (the same for the gRPC client and a
    SavedModel in process)."""
    captions = ["a big gren circle in the centre", "a small blue square on the left"]
    expected = [{"caption": 0, "word": "gren", "suggestion": "green"},
                {"caption": 0, "word": "centre", "suggestion": "center"}]
    local = LocalModel(exported["base"])
    with Client(server["target"], "tiny") as client:
        assert client.check_words(captions) == expected
        tokens = client.predict("tokenize", captions)["tokens"]
    assert local.check_words(captions) == expected
    assert local.check_words(CAPTIONS) == []
    tokenizer = exported["gan"].text_encoder.tokenizer
    np.testing.assert_array_equal(tokens, tokenizer(tf.constant(captions)).numpy())


def test_bad_requests_get_their_status_and_the_server_keeps_serving(server, exported):
    target = server["target"]
    client = Client(target, "tiny")
    cases = [
        (lambda: Client(target, "nope").generate(["a red circle"], [1]), "NOT_FOUND",
         "Servable not found for request: Latest(nope)"),
        (lambda: Client(target, "tiny", version=9).status(), "NOT_FOUND", "Specific(tiny, 9)"),
        (lambda: client.predict("nope", ["a red circle"], [1]), "FAILED_PRECONDITION",
         'Serving signature key "nope" not found'),
        (lambda: client.generate(["a red circle", " "], [1, 2]), "INVALID_ARGUMENT",
         "caption 1 is empty or whitespace only"),
        (lambda: client.generate(["a red circle"], [1, 2]), "INVALID_ARGUMENT",
         "got 1 captions and 2 seeds"),
        (lambda: client.generate(["a red circle"] * 9, range(9)), "INVALID_ARGUMENT",
         "batch limit"),
        (lambda: client.predict("serving_default", ["a"], [1], output_filter=["x"]),
         "INVALID_ARGUMENT", "output tensor alias not found"),
    ]
    for call, code, message in cases:
        with pytest.raises(ServingError) as err:
            call()
        assert err.value.code.name == code and message in err.value.details, str(err.value)
        np.testing.assert_array_equal(client.generate(CAPTIONS, SEEDS), exported["images"])
    raw = [
        ({"captions": tf.make_tensor_proto(["a red circle"]),
          "seeds": tf.make_tensor_proto([1], dtype=tf.int32)}, "must be int64, got int32"),
        ({"captions": tf.make_tensor_proto(["a red circle"])}, "Missing but required: {seeds}"),
        ({"captions": tf.make_tensor_proto("a red circle"),
          "seeds": tf.make_tensor_proto(1, dtype=tf.int64)}, "must have rank 1"),
    ]
    for inputs, message in raw:
        with pytest.raises(grpc.RpcError) as err:
            raw_predict(target, inputs)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert message in err.value.details(), err.value.details()
    np.testing.assert_array_equal(client.generate(CAPTIONS, SEEDS), exported["images"])


def _http(url, body=None):
    import urllib.error
    import urllib.request

    data = None if body is None else json.dumps(body).encode()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_rest_api_answers_like_tf_serving(server, exported):
    rest = server["rest"]
    assert _http(f"{rest}/v1/models/tiny") == (200, {"model_version_status": [
        {"version": "1", "state": "AVAILABLE",
         "status": {"error_code": "OK", "error_message": ""}}]})
    code, meta = _http(f"{rest}/v1/models/tiny/metadata")
    assert code == 200 and "serving_default" in meta["metadata"]["signature_def"]["signatureDef"]
    code, body = _http(f"{rest}/v1/models/tiny:predict",
                       {"inputs": {"captions": CAPTIONS, "seeds": SEEDS}})
    assert code == 200
    np.testing.assert_array_equal(np.asarray(body["outputs"], np.uint8), exported["images"])
    code, body = _http(f"{rest}/v1/models/tiny/versions/1:predict", {
        "signature_name": "generate_png",
        "instances": [{"captions": c, "seeds": s} for c, s in zip(CAPTIONS, SEEDS)]})
    assert code == 200 and len(body["predictions"]) == 3
    first = Image.open(io.BytesIO(base64.b64decode(body["predictions"][0]["b64"])))
    np.testing.assert_array_equal(np.asarray(first), exported["images"][0])
    for url, request, status, message in [
        (f"{rest}/v1/models/nope:predict", {"inputs": {"captions": ["a"], "seeds": [1]}}, 404,
         "Servable not found"),
        (f"{rest}/v1/models/tiny:predict", {"inputs": {"captions": [" "], "seeds": [1]}}, 400,
         "caption 0 is empty"),
        (f"{rest}/v1/models/tiny:predict", {"inputs": {"captions": ["a"]}}, 400,
         "Missing but required: {seeds}"),
        (f"{rest}/v1/models/tiny:predict", {"inputs": {"captions": ["a"], "seeds": ["x"]}}, 400,
         "Cannot read input 'seeds' as int64"),
        (f"{rest}/v1/models/tiny:predict", {"instances": [1]}, 400, "list of objects"),
        (f"{rest}/v1/models/tiny/versions/4", None, 404, "Specific(tiny, 4)"),
        (f"{rest}/v2/nothing", None, 404, "Malformed request"),
    ]:
        code, body = _http(url, request)
        assert code == status and message in body["error"], (url, code, body)
    code, body = _http(f"{rest}/v1/models/tiny:predict",
                       {"inputs": {"captions": CAPTIONS[:1], "seeds": SEEDS[:1]}})
    assert code == 200


def test_concurrent_clients_all_get_their_images(server, exported):
    done, failures = concurrent_generate(server["target"], exported["images"], 8, 5)
    assert not failures and done == 40


def test_a_newly_exported_version_is_picked_up(server, exported):
    base = exported["base"]
    new = export_saved_model(exported["gan"], base)
    client = Client(server["target"], "tiny")
    deadline = 100
    while client.status()[0]["version"] != int(new.name) and deadline:
        threading.Event().wait(0.1)
        deadline -= 1
    assert client.status()[0]["version"] == int(new.name)
    np.testing.assert_array_equal(client.generate(CAPTIONS, SEEDS), exported["images"])
    pinned = ModelRegistry({"tiny": (str(base), 1)})  # specific { versions: 1 }
    assert pinned.models["tiny"].current.version == 1


def test_a_broken_new_version_leaves_the_served_one(exported, tmp_path, caplog):
    import shutil

    caplog.set_level("INFO", logger="keras_t2i.serve")
    base = tmp_path / "m"
    shutil.copytree(exported["dir"], base / "1")
    registry = ModelRegistry({"m": str(base)})
    assert registry.models["m"].current.version == 1
    assert "Warmed up m version 1 with 3 request(s)" in caplog.text  # one per signature
    (base / "2").mkdir()
    (base / "2" / "saved_model.pb").write_bytes(b"not a SavedModel")
    registry.refresh()
    assert registry.models["m"].current.version == 1
    assert "Could not load m version 2" in caplog.text
    model, _ = registry.resolve(_spec("m"))
    np.testing.assert_array_equal(model.generate(CAPTIONS, SEEDS), exported["images"])


def _spec(name):
    spec = predict_pb2.PredictRequest().model_spec
    spec.name = name
    return spec


def test_model_config_is_read_like_tf_serving(tmp_path):
    config = tmp_path / "models.config"
    config.write_text("model_config_list {\n"
                      "  config { name: 'a' base_path: '/models/savedmodels/a' model_platform: "
                      "'tensorflow' }\n"
                      "  config { name: 'b' base_path: '/abs/b' }\n}\n")
    assert parse_model_config(config) == {"a": ("/models/savedmodels/a", None),
                                          "b": ("/abs/b", None)}
    assert parse_model_config(config, {"/models": str(tmp_path)})["a"] == (
        str(tmp_path / "savedmodels" / "a"), None)
    config.write_text("model_config_list { config { name: 'a' base_path: '/x' "
                      "model_version_policy { specific { versions: 3 } } } }")
    assert parse_model_config(config) == {"a": ("/x", 3)}
    config.write_text("model_config_list { config { name: 'a' base_path: '/x' "
                      "model_version_policy { all {} } } }")
    with pytest.raises(ValueError, match="one version per model"):
        parse_model_config(config)
    config.write_text("model_config_list { config { name: 'a' base_path: 'x' } }")
    with pytest.raises(ValueError, match="must be absolute"):
        parse_model_config(config)
    config.write_text("model_config_list { config { name: 'a' base_path: 'x'")
    with pytest.raises(ValueError, match="not a valid TF Serving model config"):
        parse_model_config(config)


def test_the_shipped_serving_config_parses():
    from pathlib import Path

    shipped = Path(__file__).parents[2] / "serving" / "models.config"
    models = parse_model_config(shipped, {"/models": "."})
    assert models == {"dfgan_shapes_64": ("savedmodels/dfgan_shapes_64", None)}


def test_cli_export_then_generate_locally_matches_the_run(tmp_path, encoder_dir):
    from keras_t2i import cli
    from keras_t2i.training import train

    run = tmp_path / "run"
    result = train(out=str(run), text_encoder=str(encoder_dir), image_size=16, nf=4,
                   batch_size=4, data_options={"max_objects": 1}, steps=2,
                   checkpoint_every=2, sample_every=2, export_dir=str(tmp_path / "sm"))
    assert result["export"] == str(tmp_path / "sm" / "1")
    assert read_metadata(result["export"])["training_step"] == 2
    assert cli.main(["export", "--run", str(run), "--out", str(tmp_path / "sm")]) == 0
    assert versions(tmp_path / "sm") == [1, 2]
    grids = {}
    for route in (["--run", str(run)], ["--model", str(tmp_path / "sm")]):
        out = tmp_path / f"{route[0][2:]}.png"
        assert cli.main(["generate", "a red circle", "a blue square", "--seed", "3",
                         "--num", "2", *route, "--out", str(out)]) == 0
        grids[route[0]] = np.asarray(Image.open(out))
    np.testing.assert_array_equal(grids["--run"], grids["--model"])
    assert json.loads((run / "config.json").read_text())["export_dir"] == str(tmp_path / "sm")


def test_cli_generate_reports_rejected_captions_without_a_traceback(server, exported, capsys,
                                                                     tmp_path):
    from keras_t2i import cli

    out = str(tmp_path / "x.png")
    assert cli.main(["generate", "   ", "--model", str(exported["base"]), "--out", out]) == 1
    assert "error: caption 0 is empty or whitespace only." in capsys.readouterr().err
    assert cli.main(["generate", "a red circle", "--server", server["target"],
                     "--model-name", "nope", "--out", out]) == 1
    err = capsys.readouterr().err
    assert "NOT_FOUND: Servable not found for request: Latest(nope)" in err
    assert "Traceback" not in err
    assert cli.main(["generate", "a red circle", "--server", server["target"], "--out", out]) == 1
    assert "--server needs --model-name" in capsys.readouterr().err


def test_cli_generate_warns_of_unknown_words_and_strict_refuses_them(server, exported, capsys,
                                                                     tmp_path, monkeypatch):
    from keras_t2i import cli
    from keras_t2i.serving import savedmodel

    out = tmp_path / "x.png"
    caption = "a big gren triangel on the rihgt"
    routes = [["--model", str(exported["base"])],
              ["--server", server["target"], "--model-name", "tiny"]]
    for route in routes:
        assert cli.main(["generate", caption, "a fluffy dog", *route, "--out", str(out)]) == 0
        err = capsys.readouterr().err
        assert "warning: words outside the model's vocabulary" in err
        assert f'caption 0 "{caption}": \'gren\' (→ green?), \'triangel\' (→ triangle?), ' \
               "'rihgt' (→ right?)" in err
        assert 'caption 1 "a fluffy dog": \'fluffy\', \'dog\'' in err
        out.unlink()
        assert cli.main(["generate", caption, *route, "--strict", "--out", str(out)]) == 1
        assert "error: words outside the model's vocabulary (--strict)" in \
            capsys.readouterr().err
        assert not out.exists()  # no image for a refused caption
        assert cli.main(["generate", CAPTIONS[0], *route, "--strict", "--out", str(out)]) == 0
        assert "vocabulary" not in capsys.readouterr().err
    # An export made before the tokenize signature: generated, with a note; --strict refuses.
    def no_signature(self, captions):
        raise KeyError(f"{self.directory} has no 'tokenize' signature")

    monkeypatch.setattr(savedmodel.LocalModel, "check_words", no_signature)
    assert cli.main(["generate", caption, *routes[0], "--out", str(out)]) == 0
    assert "note: words not checked" in capsys.readouterr().err
    assert cli.main(["generate", caption, *routes[0], "--strict", "--out", str(out)]) == 1
    assert "--strict cannot check the words" in capsys.readouterr().err


@pytest.mark.slow
def test_serve_command_answers_then_stops_cleanly_on_sigterm(exported, tmp_path):
    import signal

    with serve_process(exported["base"], tmp_path / "serve.log") as (server, target, rest):
        client = Client(target, "tiny", retries=0)
        np.testing.assert_array_equal(client.generate(CAPTIONS, SEEDS), exported["images"])
        assert _http(f"http://127.0.0.1:{rest}/v1/models/tiny")[0] == 200
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0
    text = (tmp_path / "serve.log").read_text()
    assert "Predict model=tiny signature=serving_default OK" in text
    assert "Shutting down" in text and "Stopped" in text


def test_the_exported_model_follows_its_captions(exported):
    """Two captions with one seed give different images, and a caption's image does not
    depend on its neighbours in the batch (the fixture's model reads its captions)."""
    model = LocalModel(exported["base"])
    a, b = CAPTIONS[0], CAPTIONS[1]
    same_seed = model.generate([a, b], [9, 9])
    assert np.abs(same_seed[0].astype(int) - same_seed[1].astype(int)).mean() > 2
    alone = model.generate([b], [9])
    np.testing.assert_array_equal(alone[0], same_seed[1])
    swapped = model.generate([b, a], [9, 9])
    np.testing.assert_array_equal(swapped[::-1], same_seed)
    other_seed = model.generate([a], [10])
    assert not np.array_equal(other_seed[0], same_seed[0])
