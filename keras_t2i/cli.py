"""The ``keras-t2i`` command line: the only place that parses flags (DESIGN §4.2).

Each subcommand resolves its flags into keyword arguments once and hands them to the package;
flags left out take the package's defaults. Model families, their recipes and their
constructor options come from the registry (``keras_t2i.models.registry``).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from keras_t2i.serving.limits import ServingLimits
from keras_t2i.version import __version__


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def _positive_float(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _add_truncation_flag(parser, what):
    parser.add_argument("--truncation", type=_positive_float, metavar="T",
                        help=f"draw {what} from a normal truncated to ±2σ, times T (DF-GAN "
                             "evaluates with 0.88; default: untruncated N(0, I))")


def _add_data_flags(parser):
    parser.add_argument("--data", choices=("shapes", "cub", "coco"), default="shapes",
                        help="dataset (default: shapes, the built-in procedural scenes)")
    parser.add_argument("--data-dir", help="folder of CUB or COCO on disk (README layouts)")
    parser.add_argument("--image-size", type=_positive_int, help="image side (default 64)")
    parser.add_argument("--batch-size", type=_positive_int, help="batch size (default 32)")
    parser.add_argument("--min-objects", type=_positive_int,
                        help="Shapes: at least this many objects per scene (default 1)")
    parser.add_argument("--holdout", nargs="+", metavar="PAIR",
                        help="Shapes: colour–shape pairs left out of training, e.g. 'red "
                             "circle' 'blue star' (default none)")
    parser.add_argument("--max-objects", type=_positive_int,
                        help="Shapes: at most this many objects per scene (default 2)")
    parser.add_argument("--max-words", type=_positive_int,
                        help="caption length in words (default: 18 for CUB/COCO; the "
                             "grammar's longest caption for Shapes)")


def _pretrain_data_options(args) -> dict:
    """The dataset options of a ``pretrain`` command's data flags."""
    return _shapes_object_options(args)


def _shapes_object_options(args) -> dict:
    """``min_objects``, ``max_objects`` and ``holdout`` of the flags that were given (Shapes
    only)."""
    options = {name: getattr(args, name) for name in ("min_objects", "max_objects", "holdout")
               if getattr(args, name, None) is not None}
    if options and getattr(args, "data", None) not in (None, "shapes"):
        flags = " and ".join("--" + name.replace("_", "-") for name in options)
        raise ValueError(f"{flags} apply to --data shapes only.")
    return options


def _run_pretrain_damsm(args):
    from keras_t2i.pretraining.damsm import pretrain_damsm, resolve_damsm_config

    data_options = _pretrain_data_options(args)
    config = resolve_damsm_config(
        data=args.data, data_dir=args.data_dir, data_options=data_options,
        image_size=args.image_size, batch_size=args.batch_size, steps=args.steps,
        epochs=args.epochs, max_words=args.max_words, backbone=args.backbone,
        backbone_weights=args.backbone_weights, learning_rate=args.learning_rate,
        bn_calibration_batches=args.bn_calibration_batches, seed=args.seed, out=args.out)
    metrics = pretrain_damsm(**config)
    out = config["out"]
    print(f"R-precision (R@1, 1 true + 99 mismatched, {metrics['num_images']} test images): "
          f"{100 * metrics['r_precision']:.2f} ± {100 * metrics['r_precision_std']:.2f} %")
    print(f"Encoders: {out}/text_encoder.keras, {out}/image_encoder.keras")
    print(f"Metrics:  {out}/metrics.json   TensorBoard: tensorboard --logdir {out}/logs")
    return 0


def _run_pretrain_captioner(args):
    from keras_t2i.pretraining.captioner import pretrain_captioner, resolve_captioner_config

    data_options = _pretrain_data_options(args)
    config = resolve_captioner_config(
        data=args.data, data_dir=args.data_dir, data_options=data_options,
        image_size=args.image_size, batch_size=args.batch_size, steps=args.steps,
        epochs=args.epochs, text_encoder=args.text_encoder, max_words=args.max_words,
        backbone=args.backbone, backbone_weights=args.backbone_weights,
        learning_rate=args.learning_rate, checkpoint_every=args.checkpoint_every,
        bn_calibration_batches=args.bn_calibration_batches, seed=args.seed, out=args.out,
        resume=args.resume)
    metrics = pretrain_captioner(**config)
    out = config["out"]
    print(f"Test split ({metrics['num_images']} images): word accuracy "
          f"{100 * metrics['word_accuracy']:.1f} %, BLEU-4 {100 * metrics['bleu4']:.1f}")
    overall = metrics.get("attribute_word_accuracy", {})
    for attribute, value in metrics.get("attribute_accuracy", {}).items():
        print(f"  {attribute} words: {100 * value:.1f} % read from the image (the most "
              f"probable word overall: {100 * overall[attribute]:.1f} %)")
    print(f"Captioner: {out}/captioner.keras (train with --captioner {out})")
    print(f"Metrics:   {out}/metrics.json   TensorBoard: tensorboard --logdir {out}/logs")
    return 0


def _run_pretrain_oracle(args):
    import json

    from keras_t2i.metrics.shapes_oracle.network import WEIGHTS_FILE
    from keras_t2i.metrics.shapes_oracle.training import train

    _, report = train(out=args.out or WEIGHTS_FILE, steps=args.steps,
                      batch_size=args.batch_size, width=args.width, seed=args.seed)
    print(json.dumps(report["accuracy"], indent=2))
    return 0


def _run_train(args):
    from keras_t2i.models import registry
    from keras_t2i.training.run import train

    data_options = _shapes_object_options(args)
    model_options = {name: getattr(args, name) for name in _model_option_flags()}
    family = registry.get_family(args.model or "dfgan")
    offered = set(family.all_options)
    foreign = sorted(k for k, v in model_options.items() if v is not None and k not in offered)
    if foreign:
        flags = [("--no-" if model_options[k] is False else "--") + k.replace("_", "-")
                 for k in foreign]
        raise ValueError(f"{', '.join(flags)}: not an option of --model {family.name}.")
    train(model=args.model, preset=args.preset, data=args.data, data_dir=args.data_dir,
          data_options=data_options or None, batch_size=args.batch_size, steps=args.steps,
          epochs=args.epochs, strategy=args.strategy, out=args.out,
          resume=args.resume or None, checkpoint_every=args.checkpoint_every,
          sample_every=args.sample_every, text_encoder=args.text_encoder,
          captioner=args.captioner, seed=args.seed,
          g_learning_rate=args.g_learning_rate, d_learning_rate=args.d_learning_rate,
          precision=args.precision, export_dir="" if args.no_export else args.export_dir,
          **model_options)
    return 0


def _model_option_flags() -> dict:
    """Every family's constructor options offered as ``train`` flags: kwarg → (type, help,
    the families that take it)."""
    from keras_t2i.models import registry

    flags = {}
    for family in registry.families().values():
        for name, (kind, text) in family.all_options.items():
            flags.setdefault(name, (kind, text, []))[2].append(family.name)
    return flags


def _recipe_default(value_of) -> str:
    """"default: V for RECIPE, …" over the training recipes, ``value_of(recipe, preset)``
    giving a recipe's value (None: the recipe does not set it)."""
    from keras_t2i.models import registry

    by_value = {}
    for family in registry.families().values():
        for name, recipe in family.recipes.items():
            value = value_of(recipe, family.presets[recipe["preset"]]["config"], family)
            if value is not None:
                by_value.setdefault(_number(value), []).append(name)
    if len(by_value) == 1 and len(next(iter(by_value.values()))) > 1:
        return f"default {next(iter(by_value))} in every recipe"
    return "default: " + "; ".join(f"{v} in {', '.join(names)}" for v, names in by_value.items())


def _number(value) -> str:
    """4e-4 rather than 0.0004, 0.999 and 3000 as they are."""
    if isinstance(value, float) and value and abs(value) < 1e-2:
        mantissa, exponent = f"{value:e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _train_default(key):
    return _recipe_default(lambda recipe, preset, family: recipe["train"].get(key))


def _model_default(key):
    from keras_t2i.training.config import model_options

    return _recipe_default(lambda recipe, preset, family: preset.get(
        key, model_options(family).get(key)))


def _add_train_parser(commands):
    train = commands.add_parser(
        "train", help="train a text-to-image GAN (no flags: the CPU quickstart)",
        description="Train a text-to-image GAN. With no flags: the quickstart, DF-GAN on "
                    "Shapes at 64x64 (preset dfgan_shapes_64), pretraining its DAMSM text "
                    "encoder first. Flags override the preset one by one.")
    from keras_t2i.models import registry

    train.add_argument("--model", choices=registry.family_names(),
                       help="model family (default dfgan)")
    recipes = [name for family in registry.families().values() for name in family.recipes]
    train.add_argument("--preset", help=f"training recipe: {', '.join(recipes)} (default: the "
                                        "model's on --data)")
    train.add_argument("--data", choices=("shapes", "cub", "coco"),
                       help="dataset (default: the recipe's)")
    train.add_argument("--data-dir", help="folder of CUB or COCO on disk (README layouts)")
    train.add_argument("--holdout", nargs="+", metavar="PAIR",
                       help="Shapes: colour–shape pairs left out of training, e.g. 'red "
                            "circle' (evaluate then scores them: the held-out-pair probe; "
                            "default none)")
    train.add_argument("--min-objects", type=_positive_int,
                       help="Shapes: the fewest objects per scene (" + _recipe_default(
                           lambda recipe, preset, family: recipe["data"]["options"].get(
                               "min_objects", 1) if recipe["data"]["name"] == "shapes"
                           else None) + ")")
    train.add_argument("--max-objects", type=_positive_int,
                       help="Shapes: objects per scene (" + _recipe_default(
                           lambda recipe, preset, family: recipe["data"]["options"].get(
                               "max_objects")) + ")")
    train.add_argument("--batch-size", type=_positive_int,
                       help=f"global batch size ({_train_default('batch_size')})")
    budget = train.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=_positive_int,
                        help=f"generator updates in all ({_train_default('steps')})")
    budget.add_argument("--epochs", type=_positive_int,
                        help=f"passes over the training split ({_train_default('epochs')})")
    models = train.add_argument_group("model options", "constructor options of the model (each "
                                      "replaces the preset's)")
    for name, (kind, text, takers) in _model_option_flags().items():
        note = "" if len(takers) == len(registry.family_names()) else \
            f" [{', '.join(takers)}]"
        if kind is bool:  # on in the presets: the flag turns it off (an ablation)
            models.add_argument(f"--no-{name.replace('_', '-')}", dest=name,
                                action="store_const", const=False, help=f"{text}{note}")
            continue
        models.add_argument(f"--{name.replace('_', '-')}", dest=name, metavar=name.upper(),
                            type={int: _positive_int, float: float, str: str}[kind],
                            help=f"{text}{note} ({_model_default(name)})")
    train.add_argument("--strategy", choices=("default", "mirrored", "multi-worker"),
                       help="one device (default), all local devices, or TF_CONFIG workers")
    train.add_argument("--out", help="run directory (default runs/<preset>[-ms])")
    train.add_argument("--resume", action="store_true",
                       help="continue the run in --out from its last checkpoint")
    train.add_argument("--checkpoint-every", type=_positive_int, metavar="N",
                       help="checkpoint every N steps, and at the end "
                            f"({_train_default('checkpoint_every')})")
    train.add_argument("--sample-every", type=_positive_int, metavar="N",
                       help=f"sample grid every N steps ({_train_default('sample_every')})")
    train.add_argument("--text-encoder", metavar="DIR",
                       help="a `keras-t2i pretrain damsm` run to reuse (default: pretrain one)")
    train.add_argument("--captioner", metavar="DIR",
                       help="MirrorGAN: a `keras-t2i pretrain captioner` run to reuse (default: "
                            "pretrain one with the run's text encoder)")
    train.add_argument("--g-learning-rate", type=float, metavar="LR",
                       help=f"generator Adam learning rate ({_train_default('g_learning_rate')})")
    train.add_argument("--d-learning-rate", type=float, metavar="LR",
                       help="discriminator Adam learning rate "
                            f"({_train_default('d_learning_rate')})")
    train.add_argument("--precision", choices=("float32", "mixed_bfloat16"),
                       help="compute dtype of G and D (default float32; bfloat16 is faster on "
                            "CPUs with AVX512-BF16 or AMX)")
    train.add_argument("--seed", type=int, help="random seed (default 0)")
    export = train.add_mutually_exclusive_group()
    export.add_argument("--export-dir", metavar="DIR",
                        help="export the finished model to DIR/<version> (default "
                             "savedmodels/<run name>)")
    export.add_argument("--no-export", action="store_true", help="do not export at the end")
    train.set_defaults(func=_run_train)


def _run_generate(args):
    import numpy as np
    from PIL import Image

    from keras_t2i.grids import labelled_grid
    from keras_t2i.serving.layout import unknown_word_message, unknown_word_report

    routes = [r for r in ("run", "model", "server") if getattr(args, r)]
    if len(routes) != 1:
        raise ValueError("keras-t2i generate needs exactly one of --run runs/NAME, --model "
                         "savedmodels/NAME or --server HOST:PORT (with --model-name).")
    seeds = [args.seed + k for k in range(args.num)]
    if args.truncation is not None and not args.run:
        raise ValueError("--truncation draws a run's latents (--run); an export keeps the "
                         "truncation it was exported with (keras-t2i export --truncation).")
    if args.run:
        from keras_t2i.training.run import load_run

        gan = load_run(args.run)

        def check_words(captions):
            return unknown_word_report(*(t.numpy() for t in
                                         gan.text_encoder.tokenizer.check_words(captions)))

        def generate(captions, row_seeds):  # every stage of the generator
            return gan.generate_stages(captions, seeds=row_seeds, truncation=args.truncation)
    elif args.model:
        import tensorflow as tf

        from keras_t2i.serving.savedmodel import LocalModel, error_message

        model = LocalModel(args.model)
        check_words = model.check_words

        def generate(captions, row_seeds):
            try:
                return [model.generate(captions, row_seeds)]
            except tf.errors.InvalidArgumentError as err:  # the model rejected the input
                raise ValueError(error_message(err)) from None
    else:
        if not args.model_name:
            raise ValueError("--server needs --model-name (the name the server serves it as).")
        from keras_t2i.serving.client import Client, ServingError

        client = Client(args.server, args.model_name)

        def check_words(captions):
            try:
                return client.check_words(captions)
            except ServingError as err:
                if _no_tokenize_signature(err):
                    raise
                raise ValueError(str(err)) from None  # the server's status and message

        def generate(captions, row_seeds):
            try:
                return [client.generate(captions, row_seeds)]
            except ServingError as err:  # the server's status and message
                raise ValueError(str(err)) from None
    try:
        report = check_words(args.captions)
    except Exception as err:  # re-raised unless it is an export without the tokenize signature
        if not _no_tokenize_signature(err):
            raise
        reason = err.args[0] if isinstance(err, KeyError) and err.args else err
        if args.strict:
            raise ValueError(f"--strict cannot check the words: {reason}") from None
        print(f"keras-t2i generate: note: words not checked ({reason})", file=sys.stderr)
        report = []
    if report:
        message = unknown_word_message(args.captions, report)
        if args.strict:
            raise ValueError("words outside the model's vocabulary (--strict):\n" + message)
        print("keras-t2i generate: warning: words outside the model's vocabulary, which it "
              "reads as one unknown token:\n" + message, file=sys.stderr)
    rows = [generate(args.captions, [s] * len(args.captions)) for s in seeds]
    stages = [np.concatenate(stage) for stage in zip(*rows)]
    Image.fromarray(labelled_grid(stages, args.captions, seeds)).save(args.out)
    print(f"Wrote {args.out}: {args.num} row(s) (seeds {seeds[0]}..{seeds[-1]}) x "
          f"{len(args.captions)} caption(s)"
          + (f", {len(stages)} stages" if len(stages) > 1 else "") + ".")
    return 0


def _no_tokenize_signature(err) -> bool:
    """Whether ``err`` says the model has no ``tokenize`` signature (an older export)."""
    from keras_t2i.serving.layout import TOKENIZE_SIGNATURE

    return TOKENIZE_SIGNATURE in str(err) and (
        isinstance(err, KeyError) or "FAILED_PRECONDITION" in str(err))


def _run_evaluate(args):
    from keras_t2i.evaluation.report import REAL_MODEL, evaluate, format_table

    if args.version is not None and not args.model:
        raise ValueError("--version selects a SavedModel version; it needs --model.")
    report = evaluate(model=REAL_MODEL if args.real else args.model, run=args.run,
                      data=args.data, out=args.out, log_dir=args.log_dir, damsm_dir=args.damsm,
                      max_objects=args.max_objects, min_objects=args.min_objects,
                      num_parts=args.num_parts, version=args.version,
                      data_dir=args.data_dir, inception_weights=args.inception_weights,
                      num_images=args.num_images, seed=args.seed,
                      diversity_captions=args.diversity_captions,
                      diversity_samples=args.diversity_samples, truncation=args.truncation,
                      verbose=True)
    print(format_table(report))
    if not any(m["name"].startswith("r_precision") for m in report["metrics"]):
        print("(No R-precision: give --damsm DIR with the DAMSM encoders the model was trained "
              "with.)")
    print(f"Metrics: {args.out}")
    return 0


def _run_export(args):
    from keras_t2i.export import export_saved_model
    from keras_t2i.training.config import load_run_config
    from keras_t2i.training.run import data_protocol, load_run

    config = load_run_config(args.run)
    out = args.out or f"savedmodels/{Path(args.run).resolve().name}"
    gan = load_run(args.run)
    target = export_saved_model(gan, out, version=args.version, preset=config["preset"],
                                data=data_protocol(config), truncation=args.truncation)
    print(f"SavedModel: {target} (signatures serving_default, generate_png, tokenize)")
    return 0


def _run_serve(args):
    import logging

    from keras_t2i.serving.serve import serve
    from keras_t2i.serving.server import parse_model_config

    if bool(args.model_base_path) == bool(args.model_config):
        raise ValueError("keras-t2i serve needs --model-base-path savedmodels/NAME or "
                         "--model-config serving/models.config (one of them).")
    if args.model_config:
        mapping = {}
        for item in args.base_path_map or ():
            prefix, sep, replacement = item.partition("=")
            if not sep or not prefix.startswith("/"):
                raise ValueError(f"--base-path-map takes /PREFIX=DIR, got {item!r}")
            mapping[prefix] = replacement
        models = parse_model_config(args.model_config, mapping)
    else:
        base = Path(args.model_base_path)
        models = {args.model_name or base.resolve().name: str(base)}
    batching = None
    if args.batching_parameters_file and not args.enable_batching:
        raise ValueError("--batching-parameters-file is read with --enable-batching only; "
                         "give both (as TF Serving's --enable_batching "
                         "--batching_parameters_file).")
    if args.enable_batching:
        from keras_t2i.serving.batching import BatchingParameters

        batching = (BatchingParameters.from_file(args.batching_parameters_file)
                    if args.batching_parameters_file else BatchingParameters())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    serve(models, host=args.host, port=args.port, rest_port=args.rest_port,
          poll_seconds=args.poll_seconds, limits=serving_limits(args), batching=batching)
    return 0


def serving_limits(args) -> ServingLimits:
    """The ``serve`` flags of the request limits (one per ``ServingLimits`` field)."""
    return ServingLimits(**{f.name: getattr(args, f.name)
                            for f in dataclasses.fields(ServingLimits)})


def _add_serve_parser(commands):
    serve = commands.add_parser(
        "serve", help="serve SavedModels over TF Serving's gRPC API",
        description="A PredictionService/ModelService gRPC server compatible with TF Serving "
                    "(Predict, GetModelMetadata, GetModelStatus; and its REST API), for "
                    "machines without it. "
                    "Serves the highest version under each base path and picks up new ones.")
    serve.add_argument("--model-base-path", metavar="DIR", help="savedmodels/NAME")
    serve.add_argument("--model-name", help="name to serve it as (default: the folder name)")
    serve.add_argument("--model-config", metavar="FILE",
                       help="a TF Serving models.config (model_config_list) instead")
    serve.add_argument("--base-path-map", metavar="/PREFIX=DIR", action="append",
                       help="rewrite the config's base paths, e.g. /models=. to serve the "
                            "container's serving/models.config from a checkout")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to bind (default 127.0.0.1; 0.0.0.0 for all)")
    serve.add_argument("--port", type=int, default=8500, help="gRPC port (default 8500)")
    serve.add_argument("--rest-port", type=int, default=8501,
                       help="REST port, TF Serving's /v1/models API (default 8501; 0: none)")
    serve.add_argument("--poll-seconds", type=float, default=1.0,
                       help="how often to look for new versions (default 1)")
    serve.add_argument("--enable-batching", action="store_true",
                       help="merge concurrent requests into batched model runs, as TF "
                            "Serving's --enable_batching (off by default)")
    serve.add_argument("--batching-parameters-file", metavar="FILE",
                       help="TF Serving's BatchingParameters text proto, e.g. "
                            "serving/batching_parameters.txt (default: TF Serving's "
                            "defaults: max_batch_size 1000, batch_timeout_micros 0, "
                            "max_enqueued_batches 10, a batch thread per core)")
    limits = ServingLimits()
    group = serve.add_argument_group(
        "request limits", "what one request may ask (serving/README.md, 'Limits'); each is "
                          "checked before any work is done for the request")
    group.add_argument("--max-workers", type=_positive_int, default=limits.max_workers,
                       help=f"model runs at once, gRPC and REST together "
                            f"(default {limits.max_workers})")
    group.add_argument("--max-queue", type=_non_negative_int, default=limits.max_queue,
                       help="requests waiting for a worker; more are answered "
                            f"RESOURCE_EXHAUSTED / 429 (default {limits.max_queue})")
    group.add_argument("--request-timeout", type=_positive_float, metavar="SECONDS",
                       default=limits.request_timeout,
                       help="deadline of a request, or the client's if sooner "
                            f"(default {limits.request_timeout:g})")
    group.add_argument("--max-request-bytes", type=_positive_int,
                       default=limits.max_request_bytes,
                       help=f"gRPC message / REST body size (default {limits.max_request_bytes})")
    group.add_argument("--max-caption-bytes", type=_positive_int,
                       default=limits.max_caption_bytes,
                       help=f"UTF-8 bytes of one caption (default {limits.max_caption_bytes})")
    group.add_argument("--max-caption-words", type=_positive_int,
                       default=limits.max_caption_words,
                       help=f"words of one caption (default {limits.max_caption_words})")
    group.add_argument("--rest-timeout", type=_positive_float, metavar="SECONDS",
                       default=limits.rest_timeout,
                       help="seconds a REST client has to send its whole request "
                            f"(default {limits.rest_timeout:g})")
    group.add_argument("--max-connections", type=_positive_int,
                       default=limits.max_connections,
                       help="open REST connections; more are answered 503 "
                            f"(default {limits.max_connections})")
    serve.set_defaults(func=_run_serve)


def _add_export_parser(commands):
    export = commands.add_parser(
        "export", help="export a trained run as a TF Serving SavedModel",
        description="Export the latest checkpoint of a training run (its EMA generator when "
                    "it has one) to OUT/<version>/, the layout TF Serving's base_path expects.")
    export.add_argument("--run", required=True, help="a training run directory (runs/NAME)")
    export.add_argument("--out", help="model base path (default savedmodels/<run name>)")
    export.add_argument("--version", type=_positive_int,
                        help="version number (default: one more than the highest there)")
    _add_truncation_flag(export, "the exported model's latents")
    export.set_defaults(func=_run_export)


def _add_evaluate_parser(commands):
    ev = commands.add_parser(
        "evaluate", help="semantic accuracy, FID/KID, IS, R-precision and diversity",
        description="Evaluate a SavedModel or a run on test captions. Shapes: semantic "
                    "accuracy (the Shapes oracle), FID and KID on oracle features, Inception "
                    "Score, R-precision with DAMSM encoders, diversity. CUB/COCO: FID, KID, IS "
                    "and diversity on InceptionV3 (--inception-weights), R-precision. Prints "
                    "a table, writes JSON and TensorBoard scalars.")
    what = ev.add_mutually_exclusive_group(required=True)
    what.add_argument("--model", help="a SavedModel base path (savedmodels/NAME) or version dir")
    what.add_argument("--run", help="a training run directory (runs/NAME)")
    what.add_argument("--real", action="store_true",
                      help="real Shapes images instead of a model (the sanity rows)")
    ev.add_argument("--version", type=_positive_int, help="SavedModel version (default latest)")
    ev.add_argument("--data", default="shapes", choices=("shapes", "cub", "coco"),
                    help="dataset of the captions and reference images (default shapes)")
    ev.add_argument("--data-dir", help="the CUB/COCO folder on disk (its test split)")
    ev.add_argument("--inception-weights", metavar="H5",
                    help="CUB/COCO: Keras InceptionV3 ImageNet weights file "
                         "(inception_v3_weights_tf_dim_ordering_tf_kernels[_notop].h5)")
    ev.add_argument("--num-images", type=_positive_int, default=1000,
                    help="images to generate, at least 200 with R-precision (default 1000)")
    ev.add_argument("--seed", type=int, default=0, help="first noise seed (default 0)")
    ev.add_argument("--max-objects", type=_positive_int,
                    help="objects per Shapes test scene (default: the run's or preset's data)")
    ev.add_argument("--num-parts", type=_positive_int,
                    help="MemoryGAN runs: draw this many parts (e.g. more objects than "
                         "trained, with --min-objects/--max-objects; default: the run's)")
    ev.add_argument("--min-objects", type=_positive_int,
                    help="the fewest objects per Shapes test scene (default: the run's or "
                         "preset's data)")
    ev.add_argument("--damsm", metavar="DIR",
                    help="DAMSM encoders for R-precision (default: the run's; a SavedModel "
                         "needs this flag, or R-precision is left out)")
    ev.add_argument("--diversity-captions", type=int, default=50,
                    help="captions for the diversity metric, 0 to skip (default 50)")
    ev.add_argument("--diversity-samples", type=_positive_int, default=10,
                    help="images per caption for diversity (default 10)")
    _add_truncation_flag(ev, "a run's latents (an export keeps its own)")
    ev.add_argument("--out", default="metrics.json", help="JSON to write (default metrics.json)")
    ev.add_argument("--log-dir", help="TensorBoard directory (default: the run's logs/)")
    ev.set_defaults(func=_run_evaluate)


def _add_generate_parser(commands):
    gen = commands.add_parser(
        "generate", help="generate images from captions",
        description="Generate a grid of images: one column per caption, one row per seed.")
    gen.add_argument("captions", nargs="+", help="one or more captions")
    gen.add_argument("--run", help="a training run directory (runs/NAME)")
    gen.add_argument("--model", help="an exported model: savedmodels/NAME (latest version) or "
                                     "one version directory")
    gen.add_argument("--server", metavar="HOST:PORT",
                     help="a TF Serving (or keras-t2i serve) gRPC address")
    gen.add_argument("--model-name", help="the model's name on --server")
    gen.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    gen.add_argument("--num", type=_positive_int, default=1,
                     help="rows, seeds seed..seed+num-1 (default 1)")
    _add_truncation_flag(gen, "a run's latents (an export keeps its own)")
    gen.add_argument("--strict", action="store_true",
                     help="fail (exit 1, no image) when a caption has words outside the "
                          "model's vocabulary, instead of warning")
    gen.add_argument("--out", default="grid.png",
                     help="PNG to write: the labelled grid, captions above, seeds at the left "
                          "(default grid.png)")
    gen.set_defaults(func=_run_generate)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keras-t2i",
        description="Text-to-image GANs on Keras 3 / TensorFlow: train, generate, export, "
                    "serve, evaluate, pretrain.")
    parser.add_argument("--version", action="version", version=f"keras-t2i {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    _add_train_parser(commands)
    _add_generate_parser(commands)
    _add_export_parser(commands)
    _add_serve_parser(commands)
    _add_evaluate_parser(commands)

    pretrain = commands.add_parser("pretrain", help="pretrain the DAMSM encoders or a captioner")
    targets = pretrain.add_subparsers(dest="target", metavar="TARGET", required=True)
    damsm = targets.add_parser(
        "damsm", help="DAMSM text and image encoders",
        description="Pretrain the DAMSM text/image encoders with fit(); writes config.json, "
                    "TensorBoard logs, the encoders and metrics.json (R-precision) to --out.")
    _add_data_flags(damsm)
    budget = damsm.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=_positive_int,
                        help="training steps (default: 400 on shapes)")
    budget.add_argument("--epochs", type=_positive_int,
                        help="passes over the data (default: 200 on cub, 100 on coco)")
    damsm.add_argument("--backbone", choices=("cnn", "inception_v3"),
                       help="image encoder: small CNN from scratch (default) or InceptionV3")
    damsm.add_argument("--backbone-weights",
                       help="InceptionV3 weights file (*_notop.h5), needed with inception_v3")
    damsm.add_argument("--learning-rate", type=float, help="Adam learning rate (default 2e-3)")
    damsm.add_argument("--bn-calibration-batches", type=int, metavar="N",
                       help="after training, recompute the CNN image encoder's BatchNorm "
                            "statistics on N training batches (default 50; 0 keeps the "
                            "moving averages)")
    damsm.add_argument("--seed", type=int, help="random seed (default 0)")
    damsm.add_argument("--out", help="run directory (default runs/damsm-<data>)")
    damsm.set_defaults(func=_run_pretrain_damsm)
    oracle = targets.add_parser(
        "oracle", help="the Shapes oracle of `keras-t2i evaluate` (ships with the package)",
        description="Train the Shapes oracle on real Shapes scenes (1-4 objects), measure it on "
                    "held-out scenes and write its weights with a JSON report beside them.")
    oracle.add_argument("--out", help="weights file (default: the package's "
                                      "shapes_oracle.weights.h5)")
    oracle.add_argument("--steps", type=_positive_int, default=1000,
                        help="training steps (default 1000)")
    oracle.add_argument("--batch-size", type=_positive_int, default=64,
                        help="batch size (default 64)")
    oracle.add_argument("--width", type=_positive_int, default=16,
                        help="base width of the network (default 16)")
    oracle.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    oracle.set_defaults(func=_run_pretrain_oracle)
    captioner = targets.add_parser(
        "captioner", help="MirrorGAN's STREAM captioner",
        description="Pretrain MirrorGAN's STREAM captioner on real images with fit(), in the "
                    "text encoder's vocabulary; writes config.json, TensorBoard logs, "
                    "captioner.keras and metrics.json (word accuracy, BLEU-4, and on Shapes "
                    "the accuracy on each attribute's words) to --out.")
    _add_data_flags(captioner)
    budget = captioner.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=_positive_int,
                        help="training steps (default: 1000 on shapes)")
    budget.add_argument("--epochs", type=_positive_int,
                        help="passes over the data (default: 5 on cub and coco)")
    captioner.add_argument("--text-encoder", metavar="DIR",
                           help="a `keras-t2i pretrain damsm` run whose vocabulary the "
                                "captioner uses (default: the dataset's, built as DAMSM's)")
    captioner.add_argument("--backbone", choices=("cnn", "damsm", "resnet152"),
                           help="image encoder: the frozen CNN of --text-encoder's DAMSM "
                                "image encoder, a small CNN from scratch, or a frozen "
                                "ResNet-152 (default: damsm when --text-encoder has the small "
                                "CNN image encoder, else cnn)")
    captioner.add_argument("--backbone-weights",
                           help="ResNet-152 weights file (*_notop.h5), needed with resnet152")
    captioner.add_argument("--learning-rate", type=float,
                           help="Adam learning rate (default 1e-3)")
    captioner.add_argument("--checkpoint-every", type=_positive_int, metavar="STEPS",
                           help="steps between the backups --resume continues from "
                                "(default 200)")
    captioner.add_argument("--bn-calibration-batches", type=int, metavar="N",
                           help="after training, recompute the CNN's BatchNorm statistics on "
                                "N training batches (default 50; 0 keeps the moving averages)")
    captioner.add_argument("--seed", type=int, help="random seed (default 0)")
    captioner.add_argument("--out", help="run directory (default runs/captioner-<data>)")
    captioner.add_argument("--resume", action="store_true",
                           help="continue the interrupted run in --out from its last backup")
    captioner.set_defaults(func=_run_pretrain_captioner)
    _add_verbose_flag(parser)
    return parser


def _add_verbose_flag(parser):
    """``--verbose`` on every command (``keras_t2i._quiet`` reads it before TensorFlow
    starts, so its value here is not used)."""
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's start-up, info and warning log lines (hidden "
                             "by default, as are its benign no-GPU errors)")
    for action in parser._actions:  # noqa: SLF001  (argparse has no public walk)
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            for sub in action.choices.values():
                _add_verbose_flag(sub)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("keras-t2i: interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError) as err:
        # Bad input (flags, files, data layout): say what is wrong, without a traceback.
        print(f"keras-t2i {args.command}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
