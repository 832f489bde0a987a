"""A training run's configuration: a recipe, then the saved config of a resumed run, then the
explicit options, resolved once into the ``config.json`` of the run directory.

The resolved config holds ``model`` (the family), ``recipe`` and ``preset`` (the training
recipe and the model preset it uses), ``data``/``data_dir``/``data_options``, ``model_kwargs``
(the model constructor's keyword arguments), the optimisation (``batch_size``, ``steps`` or
``epochs``, learning rates and betas), ``damsm`` (the pretraining a run does without a text
encoder), ``strategy``, ``precision``, ``seed``, ``out``, ``text_encoder`` and ``export_dir``.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from pathlib import Path

from keras_t2i import data as kt_data
from keras_t2i.models import registry
from keras_t2i.models.base import TextToImageGAN
from keras_t2i.pretraining.captioner import CAPTIONER_FILE, resolve_captioner_config
from keras_t2i.pretraining.damsm import resolve_damsm_config
from keras_t2i.text.damsm import IMAGE_ENCODER_FILE, TEXT_ENCODER_FILE
from keras_t2i.training.checkpoint import checkpoint_prefixes
from keras_t2i.training.distributed import check_strategy

PRECISIONS = ("float32", "mixed_bfloat16")
CONFIG_FILE = "config.json"
# Options of the run itself; every other keyword is a model constructor option of the family.
RUN_OPTIONS = ("model", "preset", "data", "data_dir", "data_options", "batch_size", "steps",
               "epochs", "strategy", "out", "resume", "checkpoint_every", "sample_every",
               "text_encoder", "captioner", "seed", "g_learning_rate", "d_learning_rate",
               "beta_1", "beta_2", "precision", "export_dir")
_OVERRIDABLE = ("data_dir", "batch_size", "checkpoint_every", "sample_every", "strategy",
                "text_encoder", "captioner", "seed", "g_learning_rate", "d_learning_rate",
                "beta_1", "beta_2", "precision")
_TRAIN_KEYS = ("batch_size", "steps", "epochs", "checkpoint_every", "sample_every",
               "g_learning_rate", "d_learning_rate", "beta_1", "beta_2")
# Constructor arguments that are objects, not options.
_NOT_OPTIONS = {"self", "text_encoder", "image_encoder", "captioner", "generator",
                "discriminators", "args", "kwargs"}


def model_options(family: registry.Family) -> dict:
    """``{name: default}`` of the keyword arguments the family's constructor (and those of
    its bases up to the base model's, which it passes on) accept as options."""
    options = {}
    chain = [c for c in family.model_class.__mro__
             if isinstance(c, type) and issubclass(c, TextToImageGAN) and "__init__" in vars(c)]
    for cls in reversed(chain):
        for name, parameter in inspect.signature(cls.__init__).parameters.items():
            if name not in _NOT_OPTIONS and parameter.kind is parameter.POSITIONAL_OR_KEYWORD:
                options[name] = parameter.default
    return options


def load_run_config(run_dir) -> dict:
    """The resolved configuration a run saved in ``run_dir/config.json``."""
    saved = Path(run_dir) / CONFIG_FILE
    if not saved.is_file():
        raise FileNotFoundError(f"{run_dir} is not a training run: {saved} does not exist.")
    try:
        config = json.loads(saved.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{saved} is damaged (not valid JSON: {err}); restore it from a copy "
                         "of the run, or start a new run with another --out.") from None
    required = ("model", "preset", "data", "model_kwargs", "out")
    if not isinstance(config, dict) or any(k not in config for k in required):
        raise ValueError(f"{saved} is not a run configuration (it needs {', '.join(required)}).")
    config.setdefault("recipe", config["preset"])  # runs from before recipes had the one name
    return config


def resolve_train_config(**options) -> dict:
    """The recipe's values, then the saved config of a resumed run, then the explicit options.

    Options left as None take the recipe's value. With ``resume``, the run's saved config is
    the base, so ``--resume`` alone continues exactly the run that was started; a ``resume``
    without a ``config.json`` in ``out`` is an error that names the directory.
    """
    given = {k: v for k, v in options.items() if v is not None}
    family = registry.get_family(given.get("model", "dfgan"))
    accepted = model_options(family)
    unknown = sorted(set(given) - set(RUN_OPTIONS) - set(accepted))
    if unknown:
        raise TypeError(f"Unknown training option(s) {unknown} for model {family.name!r}; "
                        f"valid: {sorted(RUN_OPTIONS + tuple(accepted))}")
    model_given = {k: v for k, v in given.items() if k in accepted}
    data = given.get("data", "shapes")
    recipe_name = given.get("preset") or registry.recipe_for(family.name, data)
    recipe_family, recipe = registry.get_recipe(recipe_name)
    if recipe_family.name != family.name:
        raise ValueError(f"Recipe {recipe_name!r} trains {recipe_family.name!r}, not "
                         f"{family.name!r}.")
    if "data" not in given:
        data = recipe["data"]["name"]
    _, preset = registry.get_preset(recipe["preset"])
    mode_seeking = float(given.get("mode_seeking", 0.0))
    default_out = f"runs/{recipe_name}" + ("-ms" if mode_seeking else "")
    out = str(given.get("out", default_out))

    config = {
        "model": family.name,
        "recipe": recipe_name,
        "preset": recipe["preset"],
        "data": data,
        "data_dir": None,
        "data_options": recipe["data"]["options"] if data == recipe["data"]["name"] else {},
        "model_kwargs": {**preset["config"], "mode_seeking": mode_seeking},
        **{k: recipe["train"].get(k) for k in _TRAIN_KEYS},
        "damsm": _damsm_recipe(recipe, data, given.get("data_options", {})),
        # The captioner pretraining a run does without --captioner (families that use one).
        "captioner_pretraining": recipe.get("captioner"),
        "strategy": "default",
        "out": out,
        "text_encoder": None,
        "captioner": None,
        "seed": 0,
        "precision": "float32",
    }
    if given.get("resume"):
        if not (Path(out) / CONFIG_FILE).is_file():
            raise FileNotFoundError(f"--resume continues a run, but {out} holds no "
                                    f"{CONFIG_FILE}: is it the --out of a run? (Leave out "
                                    "--resume to start one there.)")
        config = load_run_config(out)
        _check_resumable(config, given, model_given, family, accepted, out)
        _resume_in_place(config, out)
    for key in _OVERRIDABLE:
        if key in given:
            config[key] = given[key]
    config["data_options"] = {**config["data_options"], **given.get("data_options", {})}
    config["model_kwargs"].update(model_given)
    if "steps" in given or "epochs" in given:
        if "steps" in given and "epochs" in given:
            raise ValueError("Give either steps or epochs, not both.")
        config["steps"], config["epochs"] = given.get("steps"), given.get("epochs")
    if config.setdefault("precision", "float32") not in PRECISIONS:
        raise ValueError(f"Unknown precision {config['precision']!r}; valid: {PRECISIONS}")
    if config["strategy"] == "multi-worker" and not config["text_encoder"]:
        raise ValueError("--strategy multi-worker needs --text-encoder DIR (pretrain it once "
                         "with `keras-t2i pretrain damsm`): workers must not each pretrain one.")
    if (config["strategy"] == "multi-worker" and not config.get("captioner")
            and family.model_class.needs_captioner(**config["model_kwargs"])):
        raise ValueError("--strategy multi-worker needs --captioner DIR (pretrain it once with "
                         "`keras-t2i pretrain captioner`): workers must not each pretrain one.")
    # Where the finished run is exported (TF Serving base path); "" turns the export off.
    if "export_dir" in given:
        config["export_dir"] = str(given["export_dir"]) or None
    config.setdefault("export_dir", f"savedmodels/{Path(config['out']).name}")
    config["resume"] = bool(given.get("resume", False))
    if config["text_encoder"] and "text_encoder_sha256" not in config:
        config["text_encoder_sha256"] = _encoder_digest(config["text_encoder"])
    return config


def check_train_config(config: dict) -> None:
    """Raises an error naming the first problem of a resolved run configuration — model
    options, data and its folder, budget, optimisation, text encoder (or the DAMSM
    pretraining that replaces it), strategy, run and export directories — before any work
    is done or anything is written, so that a bad flag costs seconds, not a pretraining."""
    family = registry.get_family(config["model"])
    family.model_class.check_options(**config["model_kwargs"])
    kt_data.check(config["data"], data_dir=config["data_dir"],
                  image_size=config["model_kwargs"].get("image_size", 64),
                  batch_size=config["batch_size"], **config["data_options"])
    if (config["steps"] is None) == (config["epochs"] is None):
        raise ValueError("Give the budget as steps or as epochs (one of them).")
    for key in ("steps", "epochs", "batch_size", "checkpoint_every", "sample_every"):
        if config[key] is not None and int(config[key]) < 1:
            raise ValueError(f"{key} must be a positive integer, got {config[key]}")
    for key in ("g_learning_rate", "d_learning_rate"):
        if not float(config[key]) > 0:
            raise ValueError(f"{key} must be positive, got {config[key]}")
    if config["text_encoder"]:
        needed = [TEXT_ENCODER_FILE]
        if family.model_class.needs_image_encoder(**config["model_kwargs"]):
            needed.append(IMAGE_ENCODER_FILE)
        for name in needed:
            if not (Path(config["text_encoder"]) / name).is_file():
                raise FileNotFoundError(
                    f"--text-encoder {config['text_encoder']} holds no {name}: give the --out "
                    "of a `keras-t2i pretrain damsm` run.")
    else:  # the run pretrains its own: check that pretraining's options now
        resolve_damsm_config(**damsm_pretraining(config))
    _check_captioner(config, family)
    check_strategy(config["strategy"])
    out = Path(config["out"])
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"--out {out} exists and is not a directory.")
    if not config["resume"] and checkpoint_prefixes(out / "checkpoints"):
        raise ValueError(f"{out} already holds a run with checkpoints: pass --resume to continue "
                         "it, or choose another --out.")
    if config["export_dir"] and Path(config["export_dir"]).is_file():
        raise FileExistsError(f"--export-dir {config['export_dir']} is a file, not a directory.")


def _damsm_recipe(recipe: dict, data: str, given_data_options: dict) -> dict:
    """The recipe's DAMSM pretraining for a run on ``data``: its budget, and its own data
    options (which replace the run's for the pretraining) only on the recipe's dataset and
    only where the user gave no value for the same option."""
    damsm = dict(recipe["damsm"])
    options = damsm.pop("data_options", {})
    options = {k: v for k, v in options.items() if k not in given_data_options}
    if options and data == recipe["data"]["name"]:
        damsm["data_options"] = options
    return damsm


def damsm_pretraining(config: dict) -> dict:
    """The keyword arguments of ``pretrain_damsm`` for the pretraining a run without
    ``--text-encoder`` does: the recipe's budget, the run's data and seed, the run's data
    options with the recipe's DAMSM data options over them, into ``RUN/damsm``."""
    budget = dict(config["damsm"])
    data_options = {**config["data_options"], **budget.pop("data_options", {})}
    return dict(data=config["data"], data_dir=config["data_dir"], data_options=data_options,
                seed=config["seed"], out=str(Path(config["out"]) / "damsm"), **budget)


def _check_captioner(config, family) -> None:
    """A captioner only for a family that uses one; given, it must be a `pretrain
    captioner` run; otherwise the pretraining the run will do must accept its options."""
    uses = family.model_class.needs_captioner(**config["model_kwargs"])
    given = config.get("captioner")
    if given and not uses:
        raise ValueError(f"--captioner: --model {family.name} with these options uses no "
                         "captioner.")
    if not uses:
        return
    if given:
        if not (Path(given) / CAPTIONER_FILE).is_file():
            raise FileNotFoundError(f"--captioner {given} holds no {CAPTIONER_FILE}: give the "
                                    "--out of a `keras-t2i pretrain captioner` run.")
        return
    if config["data"] != "shapes":
        raise ValueError(
            f"--model {family.name} on {config['data']} needs --captioner DIR: pretrain STREAM "
            "once with `keras-t2i pretrain captioner --data "
            f"{config['data']} --text-encoder DIR --backbone resnet152 --backbone-weights "
            "resnet152_weights_tf_dim_ordering_tf_kernels_notop.h5` (the official encoder; "
            "this package never downloads its weights). Only Shapes runs pretrain their own.")
    run_captioner = Path(config["out"]) / "captioner"
    if not (run_captioner / CAPTIONER_FILE).is_file():
        resolve_captioner_config(data=config["data"], data_dir=config["data_dir"],
                                 data_options=config["data_options"], seed=config["seed"],
                                 out=str(run_captioner), resume=True,
                                 **(config.get("captioner_pretraining") or {}))


def _check_resumable(config, given, model_given, family, accepted, out):
    """Refuses options that would not fit the run's checkpoints: the family, recipe and
    data, the options that shape the variables, and another text encoder."""
    saved_kwargs = config["model_kwargs"]
    fixed = {"model": config["model"], "preset": config["recipe"], "data": config["data"]}
    fixed.update({k: saved_kwargs.get(k, accepted.get(k)) for k in family.all_fixed
                  if k in accepted})
    changed = sorted(k for k, v in fixed.items()
                     if k in {**given, **model_given} and {**given, **model_given}[k] != v)
    started_encoder = config["text_encoder"] or str(Path(out) / "damsm")
    if not _same_text_encoder(config, started_encoder, given.get("text_encoder")):
        if given.get("text_encoder") in (None, started_encoder):
            raise ValueError(f"The text encoder in {started_encoder} is not the one {out} "
                             "was trained with (its text_encoder.keras has changed since); "
                             "resume with --text-encoder pointing at a copy of the original.")
        changed.append("text_encoder")
        fixed["text_encoder"] = started_encoder
    if changed:
        raise ValueError(
            f"--resume continues {out} as it was started, but {', '.join(changed)} differ "
            f"from its {CONFIG_FILE} ({', '.join(f'{k}={fixed[k]!r}' for k in changed)}); "
            "start a new run with another --out to change them.")


def _encoder_digest(directory) -> str | None:
    """SHA-256 of a DAMSM directory's text encoder file (None if it has none yet)."""
    path = Path(directory) / TEXT_ENCODER_FILE
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def _same_text_encoder(config, started, given) -> bool:
    """Whether ``given`` (or, when None, the folder the run started with) holds the text
    encoder the run was trained with: the same file contents (so a copy elsewhere is the same
    encoder, and a file replaced in place is not); by path where there is nothing to hash."""
    recorded = config.get("text_encoder_sha256") or _encoder_digest(started)
    candidate = given or started
    if recorded is None:
        return Path(candidate).resolve() == Path(started).resolve()
    return _encoder_digest(candidate) == recorded


def _resume_in_place(config, out):
    """A resumed run stays where ``--out`` points, wherever its config says it was started
    (a copied or moved run): its checkpoints, logs and samples are those of ``out``. An export
    directory left at its default follows the run's new name."""
    started = config["out"]
    if Path(started).resolve() == Path(out).resolve():
        return
    print(f"Resuming in {out}: its {CONFIG_FILE} says it was started in {started} (copied or "
          f"moved since); everything is read from and written to {out}.")
    if config.get("export_dir") == f"savedmodels/{Path(started).name}":
        config["export_dir"] = f"savedmodels/{Path(out).name}"
    config["out"] = str(out)
