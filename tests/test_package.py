"""The package as a whole: no import cycles, serving without Keras or the model code, every
registered class known after ``import keras_t2i``, and the table of those classes."""

import ast
import importlib
import json
import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fixtures import CAPTIONS, SEEDS

import keras_t2i

PACKAGE_DIR = Path(keras_t2i.__file__).parent


def package_modules() -> dict[str, Path]:
    """{module name: file} of every module of the package."""
    modules = {"keras_t2i": PACKAGE_DIR / "__init__.py"}
    for info in pkgutil.walk_packages([str(PACKAGE_DIR)], "keras_t2i."):
        relative = info.name.split(".")[1:]
        path = PACKAGE_DIR.joinpath(*relative)
        modules[info.name] = path / "__init__.py" if info.ispkg else path.with_suffix(".py")
    return modules


def import_graph(modules) -> dict[str, set[str]]:
    """{module: the package modules it imports}, from every import statement in it (at module
    level or inside functions): ``from a import b`` is an edge to ``a.b`` when that is a
    module, else to ``a``."""
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                edges |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1]
                                    + ([base] if base else []))
                for alias in node.names:
                    edges.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules
                              else base)
        graph[name] = {e for e in edges if e in modules and e != name}
    return graph


def find_cycle(graph):
    """A list of modules forming a cycle, or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_package_has_no_import_cycle():
    graph = import_graph(package_modules())
    assert "keras_t2i.models.base" in graph["keras_t2i.models.df_gan.df_gan"]  # edges are read
    assert find_cycle(graph) is None, " → ".join(find_cycle(graph))
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def _reachable(graph, start):
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo += graph[node]
    return seen


def test_export_does_not_depend_on_training_and_serving_not_on_models():
    graph = import_graph(package_modules())
    export = _reachable(graph, "keras_t2i.export")
    assert not {m for m in export if m.startswith(("keras_t2i.training", "keras_t2i.evaluation",
                                                   "keras_t2i.pretraining"))}
    for module in ("keras_t2i.serving.client", "keras_t2i.serving.serve",
                   "keras_t2i.serving.savedmodel"):
        reached = _reachable(graph, module)
        assert not {m for m in reached if m.startswith(("keras_t2i.models", "keras_t2i.text",
                                                        "keras_t2i.export",
                                                        "keras_t2i.layers"))}, module


def test_the_table_of_serialisable_classes_is_the_registry():
    from keras.saving import get_custom_objects

    for name in package_modules():
        importlib.import_module(name)
    registered = {key.split(">", 1)[1]: cls for key, cls in get_custom_objects().items()
                  if key.startswith("keras_t2i>")}
    assert set(registered) == set(keras_t2i.SERIALIZABLE)
    for name, cls in registered.items():
        assert hasattr(cls, "get_config"), f"{name} is still a stand-in after its import"
        assert cls.__module__ == keras_t2i.SERIALIZABLE[name], name


@pytest.mark.slow
def test_client_and_server_run_without_keras_or_the_model_code(exported, tmp_path):
    """With Keras blocked, a fresh process serves the export and the client gets its images;
    no model, text, layer or export module of the package is ever imported."""
    import numpy as np

    np.save(tmp_path / "ref.npy", exported["images"])
    script = textwrap.dedent(f"""
        import sys
        sys.modules["keras"] = None  # any import of Keras fails
        import numpy as np
        from keras_t2i.serving.client import Client
        from keras_t2i.serving.server import ModelRegistry, Service, build_server
        from keras_t2i.serving.rest import build_rest_server
        service = Service(ModelRegistry({{"tiny": {str(exported["base"])!r}}}))
        server, port = build_server(service, port=0)
        with Client(f"127.0.0.1:{{port}}", "tiny") as client:
            images = client.generate({CAPTIONS!r}, {SEEDS!r})
        np.testing.assert_array_equal(images, np.load({str(tmp_path / "ref.npy")!r}))
        server.stop(None)
        loaded = sorted(m for m in sys.modules if m.startswith(
            ("keras_t2i.models", "keras_t2i.text", "keras_t2i.layers", "keras_t2i.training")))
        loaded += [m for m in ("keras_t2i.export", "tensorflow_text") if m in sys.modules]
        print("LOADED", loaded)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300)
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("LOADED")), None)
    assert line == "LOADED []", (line, result.stderr[-3000:])


@pytest.mark.slow
def test_every_family_loads_with_keras_after_import_keras_t2i(exported, tmp_path):
    """`keras.saving.load_model` of a saved model of each family in a fresh process that only
    did `import keras_t2i` (the README's route)."""
    import keras_t2i as kt
    from keras_t2i.models import registry

    dmgan = kt.models.DMGAN(exported["gan"].text_encoder, image_size=64, stages=2, gf_dim=2,
                            df_dim=2, r_num=1, max_batch=8)
    tokenizer = exported["gan"].text_encoder.tokenizer
    mirrorgan = kt.models.MirrorGAN(
        exported["gan"].text_encoder,
        kt.models.STREAMCaptioner(tokenizer, feature_dim=8, units=8, width=4, input_size=16),
        image_size=64, stages=2, gf_dim=2, df_dim=2, r_num=1, max_batch=8)
    parts = dict(image_size=16, nf=4, num_parts=2, part_dim=4, query_dim=8,
                 feature_channels=4, max_batch=8)
    memorygan = kt.models.MemoryGAN(exported["gan"].text_encoder, **parts)
    multipart = kt.models.MultiPartGAN(exported["gan"].text_encoder, **parts)
    # One trained-or-not model per family.
    models = {"dfgan": exported["gan"], "dmgan": dmgan, "mirrorgan": mirrorgan,
              "memorygan": memorygan, "multipart": multipart}
    assert set(models) == set(registry.family_names()), "a family without a test model"
    paths = {}
    for name, model in models.items():
        paths[name] = tmp_path / f"{name}.keras"
        model.save(paths[name])
    expected = {name: models[name].generate(CAPTIONS, seeds=SEEDS).tolist() for name in paths}
    (tmp_path / "expected.json").write_text(json.dumps(expected))
    script = textwrap.dedent(f"""
        import json, keras
        import keras_t2i  # noqa: F401  (registers every class)
        expected = json.load(open({str(tmp_path / "expected.json")!r}))
        for name, path in {({k: str(v) for k, v in paths.items()})!r}.items():
            model = keras.saving.load_model(path)
            images = model.generate({CAPTIONS!r}, seeds={SEEDS!r}).tolist()
            assert images == expected[name], name
            print("LOADED", name, type(model).__name__)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300)
    for name in paths:
        assert f"LOADED {name}" in result.stdout, result.stderr[-3000:]
