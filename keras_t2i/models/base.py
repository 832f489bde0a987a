"""``TextToImageGAN``: the networks by role, latents, hooks and loss terms every family shares.

A model family (DF-GAN; DM-GAN, MirrorGAN and MemoryGAN later) is a subclass that builds its
networks, hands them to this class by role, and implements the hooks:

- roles: one ``generator`` (any structure: one stage, a cascade, a part memory), one or more
  ``discriminators``, and frozen modules (``FROZEN``: the text encoder, the DAMSM image
  encoder, a family's own such as a captioner). Serialisation of the frozen modules,
  ``compile`` and the optimizers, the EMA generator, what a checkpoint holds and what an export
  tracks all follow from these;
- latents (``latent_dims``): every random input of the generator, drawn from the model's seed
  generator in training and from the per-caption seed at inference, so the same caption and
  seed give the same image whatever else is in the batch;
- hooks: ``generate_images`` (→ ``{"images": [stage, …, final], **extras}``),
  ``discriminator_losses`` and ``generator_losses`` (they see the whole batch: the keys the
  family lists in ``BATCH_KEYS`` plus those its loss terms need), ``tracked_losses``;
- loss terms (``keras_t2i.models.loss_terms``): mode seeking (``mode_seeking=λ``), the
  DAMSM loss (``damsm_weight=λ``) and the paired image term (``paired_weight=λ`` with a
  schedule) on the final stage of any family, built only when λ > 0;
- DiffAugment (``diffaugment="translation,cutout"``): every image a discriminator sees in
  training, real or generated, goes through the same kind of random translation and cutout
  (``keras_t2i.layers.DiffAugment``); the hooks receive the augmented images, the loss terms
  the clean ones. ``test_step`` does not augment.
- the text condition (``condition``, ``condition_whitening``): the vector the generator and
  every discriminator read for a caption, ``encode_text``'s ``"condition"``: the sentence
  (the default, as the papers), or the mean of the word features over the caption's tokens,
  optionally ZCA-whitened by statistics fitted to the training captions before ``fit``
  (``adapt_condition``), and then reduced to the directions that predict the captions' real
  images (``condition_rank``). The DAMSM loss always reads the raw sentence.
- the projected discriminator (``projected_weight=λ``): one more discriminator that the base
  builds, trains and adds to any family's, ``ProjectedDiscriminator`` heads on the maps of
  the frozen DAMSM image encoder, scored on the final images with the hinge loss and
  mismatched pairs; its D loss joins ``d_loss`` (tracked as ``projected_d``) and λ times its
  G loss joins ``g_loss`` (tracked as ``projected_g``). It is not one of the family's
  ``discriminators``: the hooks never see it.

Per batch, ``train_step`` runs one step of every discriminator (one optimizer over all of
them) on the fakes, then one generator step on the same fakes scored by the updated
discriminators, as the reference codes do.

Distribution: gradients are summed across replicas by the optimizers, so each replica's loss
is divided by the number of replicas exactly once, here; the trackers receive the unscaled
values. Latents are drawn for the whole global batch from one seed and each replica takes its
slice, so replicas get different latents and a run on N devices draws the same latents as a
run on one device for the same global batch.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_t2i import (
    _backend,  # noqa: F401
    losses,
)
from keras_t2i.layers.diff_augment import DRAWS, DiffAugment
from keras_t2i.layers.whitening import ZCAWhitening
from keras_t2i.models.loss_terms import (
    DAMSMTerm,
    ModeSeekingTerm,
    PairedImageTerm,
    TermInputs,
    WeightSchedule,
)
from keras_t2i.models.projected_discriminator import ProjectedDiscriminator
from keras_t2i.text.damsm import IMAGE_ENCODER_FILE, TEXT_ENCODER_FILE
from keras_t2i.version import __version__

# Second element of the stateless seed of the generation latents: latent k of a model uses
# stream NOISE_STREAM + k, which keeps the latents of one seed apart from each other.
NOISE_STREAM = 0x5EED
# A directory written by ``save_to_preset``.
PRESET_CONFIG_FILE = "config.json"
PRESET_WEIGHTS_FILE = "model.weights.h5"
PRESET_METADATA_FILE = "metadata.json"
PRESET_VOCABULARY_FILE = "vocabulary.txt"
# DF-GAN samples its evaluation noise from a normal truncated to ±2 σ, scaled by 0.88
# (``lib/utils.truncated_noise``, ``cfg/bird.yml`` trunc_rate; seeds.md §2.1).
DFGAN_TRUNCATION = 0.88
# What ``condition`` may be (see ``TextToImageGAN``).
CONDITIONS = ("sentence", "words_mean")
# The side of the real images a ``condition_rank`` projection is fitted to (flattened pixels;
# 16×16×3 = 768 values, enough for Shapes' cells, sizes and shapes: benchmarks/RESULTS.md).
CONDITION_TARGET_SIZE = 16


def noise_from_seeds(seeds, dim: int, stream: int = NOISE_STREAM,
                     truncation: float | None = None) -> tf.Tensor:
    """One latent vector per int seed; a seed always gives the same vector.

    Args:
        seeds: int (B,).
        dim: int.
        stream: int. Which latent of the seed (see ``NOISE_STREAM``).
        truncation: float or None. None: N(0, I). A float t: a normal truncated to ±2 σ,
            times t (DF-GAN's evaluation noise with t = 0.88).

    Returns:
        float32 (B, dim).
    """
    seeds = tf.cast(tf.convert_to_tensor(seeds), tf.int64)
    draw = tf.random.stateless_normal if truncation is None else \
        tf.random.stateless_truncated_normal
    scale = 1.0 if truncation is None else float(truncation)
    return tf.map_fn(
        lambda s: scale * draw((dim,), seed=tf.stack([s, tf.constant(stream, tf.int64)])),
        seeds, fn_output_signature=tf.TensorSpec((dim,), tf.float32))


def _replica_context():
    ctx = tf.distribute.get_replica_context()
    if ctx is None:  # cross-replica context: behave as one replica
        return 0, 1
    return ctx.replica_id_in_sync_group, ctx.num_replicas_in_sync


def _frozen(module):
    """A frozen module from itself or its serialised config (None stays None)."""
    if isinstance(module, dict):
        module = keras.layers.deserialize(module)
    if module is not None:
        module.trainable = False
    return module


class TextToImageGAN(keras.Model):
    """Base class of the text-to-image GANs (see the module docstring for the roles).

    Args:
        text_encoder: DAMSMTextEncoder. Frozen; its tokenizer travels with the model.
        generator: keras.Model. ``generate_images`` calls it.
        discriminators: keras.Model or a list of them, each with a unique ``name``.
        noise_dim: int. Size of the noise latent z. Defaults to 100.
        mode_seeking: float. λ of MSGAN's mode-seeking term; 0 turns it off. Defaults to 0.
        max_batch: int. The largest batch ``generate`` and exported models accept.
            Defaults to 64.
        ema_decay: float in [0, 1). With d > 0 the model keeps ``generator_ema``, a copy of the
            generator updated after every G step as θ_ema ← d·θ_ema + (1 − d)·θ, and generates
            (``call``, ``generate``, export) with it; training still uses ``generator``.
            0 keeps no copy. Defaults to 0.
        image_encoder: DAMSMImageEncoder pretrained with ``text_encoder`` (frozen), or None.
            Needed when ``damsm_weight > 0``.
        damsm_weight: float. λ of the DAMSM loss on the final images (``DAMSMTerm``; tracked
            as ``damsm``). 0 turns it off. Defaults to 0.
        damsm_class_mask: bool. Leave same-class pairs out of the DAMSM loss's softmax (the
            batch's ``class_id``). Defaults to True.
        paired_weight: float. λ of the paired image term (``PairedImageTerm``: a distance
            between each final image and its caption's real image; tracked as ``paired``).
            0, the default, turns it off.
        paired_schedule: str. The term's weight over generator steps, a ``WeightSchedule``
            spec: ``"constant"`` (the default), ``"linear:HOLD:DECAY"``,
            ``"cosine:HOLD:DECAY"``.
        paired_distance: str. ``"pixel"`` (L1, the default), ``"pixel_mse"`` (squared error)
            or ``"features"`` (the frozen DAMSM image encoder's features; needs
            ``image_encoder``).
        diffaugment: str. DiffAugment on the discriminators' inputs in training:
            ``"off"`` (the default), or transforms with optional ratios,
            ``"translation,cutout"``, ``"translation=0.0625,cutout=0.25"``
            (``DiffAugment.parse``).
        projected_weight: float. λ of the projected discriminator's adversarial loss on the
            generator (Sauer et al. 2021, conditioned on the sentence; needs
            ``image_encoder``, whose maps it reads). 0, the default, builds none.
        condition: str. The text vector the generator and discriminators are conditioned on
            (``encode_text``'s ``"condition"``): ``"sentence"`` (the text encoder's sentence
            vector, the default and the papers') or ``"words_mean"`` (its word features
            averaged over the caption's tokens; on Shapes it keeps the shape word, which sits
            mid-caption, far better than the BiLSTM's end states: benchmarks/RESULTS.md).
        condition_whitening: float. ε > 0 ZCA-whitens the condition (``ZCAWhitening``, ε
            relative to the largest eigenvalue) with statistics ``adapt_condition`` fits to
            training captions before ``fit``; saved with the model. 0, the default, leaves it
            as it is.
        condition_rank: int. k > 0 (with ``condition_whitening``) keeps, of the whitened
            condition, only its k canonical directions most correlated with the captions'
            real images at ``CONDITION_TARGET_SIZE`` pixels (CCA, Hotelling 1936), fitted by
            ``adapt_condition`` from batches with their images: the directions that only
            the phrasing moves are dropped. 0, the default, keeps them all; K at or above
            the condition's D dimensions keeps all D (the whitening alone, still fitted from
            images and captions).

    Compile with ``compile(g_optimizer=…, d_optimizer=…)`` (each family has defaults). ``fit``
    data are dicts with at least the keys of ``batch_keys``, as ``kt.data.load`` gives.
    """

    # Frozen modules, by constructor argument; serialised with the model, never trained.
    FROZEN = ("text_encoder", "image_encoder")
    # The dataset keys the hooks read (loss terms add theirs; see ``batch_keys``).
    BATCH_KEYS = ("image", "tokens")
    # The latent that is "the noise" (mode seeking's distance, a family's z).
    primary_latent = "noise"
    # Named model presets of the family: name → {"description", "config" (kwargs)}.
    PRESETS: dict = {}

    def __init__(self, text_encoder, generator, discriminators, noise_dim=100,
                 mode_seeking=0.0, max_batch=64, ema_decay=0.0, image_encoder=None,
                 damsm_weight=0.0, damsm_class_mask=True, paired_weight=0.0,
                 paired_schedule="constant", paired_distance="pixel", diffaugment="off",
                 projected_weight=0.0, condition="sentence", condition_whitening=0.0,
                 condition_rank=0, **kwargs):
        super().__init__(**kwargs)
        self.text_encoder = _frozen(text_encoder)
        self.image_encoder = _frozen(image_encoder)
        self.generator = generator
        if isinstance(discriminators, keras.Model):
            discriminators = [discriminators]
        names = [d.name for d in discriminators]
        if not discriminators or len(set(names)) != len(names):
            raise ValueError(f"Discriminators need unique names, got {names}")
        self.discriminators = list(discriminators)
        TextToImageGAN.check_options(noise_dim=noise_dim, mode_seeking=mode_seeking,
                                     max_batch=max_batch, ema_decay=ema_decay,
                                     damsm_weight=damsm_weight, paired_weight=paired_weight,
                                     paired_schedule=paired_schedule,
                                     paired_distance=paired_distance, diffaugment=diffaugment,
                                     projected_weight=projected_weight, condition=condition,
                                     condition_whitening=condition_whitening,
                                     condition_rank=condition_rank)
        self.noise_dim = int(noise_dim)
        self.max_batch = int(max_batch)
        self.ema_decay = float(ema_decay)
        self.mode_seeking = float(mode_seeking)
        self.damsm_weight = float(damsm_weight)
        self.damsm_class_mask = bool(damsm_class_mask)
        self.paired_weight = float(paired_weight)
        self.paired_schedule = WeightSchedule(paired_schedule).spec
        self.paired_distance = str(paired_distance)
        ratios = DiffAugment.parse(diffaugment)
        self.diffaugment = DiffAugment.spec(**ratios)
        self.augmenter = DiffAugment(**ratios, name="diffaugment") if any(
            ratios.values()) else None
        self.condition = str(condition)
        self.condition_whitening = float(condition_whitening)
        self.condition_rank = int(condition_rank)
        # K >= D keeps every direction, so a preset's K suits a smaller text encoder too.
        self.condition_whitener = ZCAWhitening(
            text_encoder.feature_dim, self.condition_whitening,
            rank=min(self.condition_rank, text_encoder.feature_dim),
            name="condition_whitening") if self.condition_whitening else None
        self.projected_weight = float(projected_weight)
        self.projected_discriminator = self._feature_maps = None
        if self.projected_weight:
            if self.image_encoder is None:
                raise ValueError("projected_weight > 0 needs the DAMSM image encoder pretrained "
                                 "with the text encoder, whose maps the projected "
                                 "discriminator reads: pass image_encoder= (the second of "
                                 "kt.pretrain.load_encoders(DIR)).")
            maps = self.image_encoder.feature_maps_model()
            # A plain function, so Keras does not track the encoder's layers a second time.
            self._feature_maps = lambda images: maps(self.image_encoder.resize(images),
                                                     training=False)
            self.projected_discriminator = ProjectedDiscriminator(
                [tuple(shape[1:]) for shape in maps.output_shape], text_encoder.feature_dim,
                name="projected_discriminator")
        self.loss_terms = self.build_loss_terms()
        for term in self.loss_terms:
            term.check(self)
        self.generator_ema = None
        if self.ema_decay:
            # Same class and config, so it builds the same weights; it starts as a copy.
            self.generator_ema = type(generator).from_config(
                {**generator.get_config(), "name": f"{generator.name}_ema"})
            self.generator_ema.set_weights(generator.get_weights())
            self.generator_ema.trainable = False
        self.seed_generator = keras.random.SeedGenerator(0, name="noise_seed")
        self.g_optimizer = self.d_optimizer = None
        self.trackers = {}
        # The networks build themselves from their configs; the wrapper has no weights of its
        # own, so it is built once they are (saving and tf.distribute need that).
        self.built = True

    @classmethod
    def check_options(cls, **options):
        """Raises ValueError naming the first constructor option (of those given) that the
        model would refuse. Nothing is built, so a training run checks its flags with it
        before any work; families extend it with their own options."""
        if not 0.0 <= float(options.get("ema_decay", 0.0)) < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {options['ema_decay']}")
        for name in ("mode_seeking", "damsm_weight", "paired_weight", "projected_weight",
                     "condition_whitening"):
            if float(options.get(name, 0.0)) < 0:
                raise ValueError(f"{name} must be >= 0, got {options[name]}")
        WeightSchedule.parse(options.get("paired_schedule", "constant"))
        if options.get("paired_distance", "pixel") not in PairedImageTerm.DISTANCES:
            raise ValueError(f"paired_distance must be one of {PairedImageTerm.DISTANCES}, got "
                             f"{options['paired_distance']!r}")
        DiffAugment.parse(options.get("diffaugment", "off"))
        if options.get("condition", "sentence") not in CONDITIONS:
            raise ValueError(f"condition must be one of {CONDITIONS}, got "
                             f"{options['condition']!r}")
        rank = options.get("condition_rank", 0)
        if int(rank) != float(rank) or int(rank) < 0:
            raise ValueError(f"condition_rank must be an integer >= 0, got {rank}")
        if int(rank) and not float(options.get("condition_whitening", 0.0)):
            raise ValueError(f"condition_rank {int(rank)} needs condition_whitening > 0: "
                             "the canonical directions are those of the whitened condition "
                             "(to condition on the raw vector, set condition_rank 0 too)")
        for name in ("noise_dim", "max_batch"):
            if name in options and int(options[name]) < 1:
                raise ValueError(f"{name} must be >= 1, got {options[name]}")

    @staticmethod
    def needs_image_encoder(**options) -> bool:
        """Whether constructor ``options`` use the DAMSM image encoder (the DAMSM loss, or the
        paired term in feature space, the projected discriminator), so a run must load or keep
        it."""
        return bool(float(options.get("damsm_weight", 0.0))) or bool(
            float(options.get("projected_weight", 0.0))) or (
            bool(float(options.get("paired_weight", 0.0)))
            and options.get("paired_distance", "pixel") == "features")

    @staticmethod
    def needs_captioner(**options) -> bool:
        """Whether constructor ``options`` use a pretrained captioner (MirrorGAN's STREAM),
        so a run must load or pretrain one. None of the base's options do."""
        return False

    # -- what a family declares --------------------------------------------------------------
    def latent_dims(self) -> dict:
        """``{name: size}`` of the generator's latents, in a fixed order (stream k is the k-th).
        Families with more latents than the noise (a CA ε, per-part codes) extend this."""
        return {self.primary_latent: self.noise_dim}

    def build_loss_terms(self) -> list:
        """The generator loss terms of this model's weights; families add theirs."""
        terms = []
        if self.mode_seeking:
            terms.append(ModeSeekingTerm(self.mode_seeking))
        if self.damsm_weight:
            terms.append(DAMSMTerm(self.damsm_weight, mask_same_class=self.damsm_class_mask))
        if self.paired_weight:
            terms.append(PairedImageTerm(self.paired_weight, self.paired_schedule,
                                         self.paired_distance))
        return terms

    @classmethod
    def default_optimizers(cls):
        """(generator optimizer, discriminator optimizer) of ``compile()`` without arguments."""
        raise NotImplementedError(f"{cls.__name__} declares no default optimizers")

    def generate_images(self, latents, text, training=None, generator=None) -> dict:
        """latents (``latent_dims`` → (B, dim)) and the encoded text → ``{"images": [stage
        images, lowest resolution first], **extras}``. ``generator`` is the network to run:
        ``self.generator`` when None (training), the EMA copy when generating."""
        raise NotImplementedError

    def discriminator_losses(self, batch, text, generated, fake_text, training=True) -> dict:
        """Scalars with ``d_loss`` (what the discriminators minimise) and parts to track.

        ``batch``: the real batch (``batch_keys``); ``text``: its encoded captions;
        ``generated``: ``generate_images``' output (copies·B rows); ``fake_text``: its text."""
        raise NotImplementedError

    def generator_losses(self, batch, text, generated, fake_text, latents,
                         training=True) -> dict:
        """Scalars with ``g_loss`` (before the loss terms) and parts to track."""
        raise NotImplementedError

    def tracked_losses(self):
        """Names of the family's own losses ``train_step`` returns, in order."""
        raise NotImplementedError

    def seeking_noise(self, latents):
        """The latent vector whose distance mode seeking divides by (copies·B, d): the
        primary latent; families with several random codes (per-part ones) concatenate them."""
        return latents[self.primary_latent]

    # -- what the base derives -------------------------------------------------------------
    @property
    def batch_keys(self) -> tuple:
        """The dataset keys ``train_step`` reads: the family's and its loss terms'."""
        keys = list(self.BATCH_KEYS)
        for term in self.loss_terms:
            keys += [k for k in term.batch_keys if k not in keys]
        return tuple(keys)

    @property
    def copies(self) -> int:
        """Latent draws per caption in a training step (2 with mode seeking)."""
        return max([1] + [term.copies for term in self.loss_terms])

    def frozen_modules(self) -> dict:
        """``{argument name: module}`` of the frozen modules the model holds."""
        return {name: getattr(self, name) for name in self.FROZEN
                if getattr(self, name, None) is not None}

    def networks(self) -> dict:
        """``{name: network}`` of the model's own state that checkpoints hold: the trained
        networks, the EMA copy and the condition's whitening statistics."""
        found = {self.generator.name: self.generator}
        found.update({d.name: d for d in self.discriminators})
        if self.projected_discriminator is not None:
            found[self.projected_discriminator.name] = self.projected_discriminator
        if self.generator_ema is not None:
            found[self.generator_ema.name] = self.generator_ema
        if self.condition_whitener is not None:
            found[self.condition_whitener.name] = self.condition_whitener
        return found

    @property
    def discriminator_variables(self) -> list:
        """The trainable variables of every discriminator (the projected one's too)."""
        networks = list(self.discriminators)
        if self.projected_discriminator is not None:
            networks.append(self.projected_discriminator)
        return [v for d in networks for v in d.trainable_variables]

    @property
    def inference_generator(self):
        """The generator that ``call`` and ``generate`` use: the EMA copy if any."""
        return self.generator_ema if self.generator_ema is not None else self.generator

    @staticmethod
    def final_images(generated):
        """The highest-resolution images of ``generate_images``' output (B, S, S, 3)."""
        return generated["images"][-1]

    def update_ema(self):
        """θ_ema ← d·θ_ema + (1 − d)·θ for the trained parameters, and a copy of the others
        (BatchNorm's statistics), on every replica (a merge call under tf.distribute). The
        AttnGAN-family codes average the parameters only and pair them with the live
        statistics."""
        decay = self.ema_decay
        ema_weights, weights = self.generator_ema.weights, self.generator.weights
        trained = [w.trainable for w in weights]

        def update(strategy, averages, values):
            for average, value, is_trained in zip(averages, values, trained):
                rule = (lambda a, v: a.assign(decay * a + (1.0 - decay) * v)) if is_trained \
                    else (lambda a, v: a.assign(v))
                strategy.extended.update(average, rule, args=(value,), group=False)

        tf.__internal__.distribute.interim.maybe_merge_call(
            update, tf.distribute.get_strategy(), [w.value for w in ema_weights],
            [w.value for w in weights])

    def encode_text(self, tokens):
        """The frozen text encoder's outputs: words (B, T, D), sentence (B, D), word_mask
        (B, T), and the condition (B, D) the generator and discriminators read (see
        ``condition``; the sentence itself by default)."""
        text = self._raw_condition(tokens)
        if self.condition_whitener is not None:
            text["condition"] = self.condition_whitener(text["condition"])
        return text

    def _raw_condition(self, tokens):
        """``encode_text`` before whitening."""
        tokens = tf.convert_to_tensor(tokens)
        words, sentence = self.text_encoder(tokens, training=False)
        text = {"words": tf.stop_gradient(words), "sentence": tf.stop_gradient(sentence),
                "word_mask": tf.not_equal(tokens, 0)}
        if self.condition == "sentence":
            text["condition"] = text["sentence"]
        else:  # "words_mean"
            mask = tf.cast(text["word_mask"], text["words"].dtype)[..., None]
            text["condition"] = tf.reduce_sum(text["words"] * mask, axis=1) / tf.maximum(
                tf.reduce_sum(mask, axis=1), 1.0)
        return text

    def adapt_condition(self, tokens_batches):
        """Fits the condition's whitening to the captions of ``tokens_batches`` (an iterable
        of int token arrays (B, T), or of dataset batches with ``"tokens"``, and with
        ``condition_rank`` their ``"image"`` too); returns the number of captions read. Run it
        once before ``fit`` on training captions (``keras-t2i train`` does, with
        ``training.run.CONDITION_CAPTIONS`` of them); the statistics are then saved with the
        model. A model without ``condition_whitening`` has nothing to fit.

        Raises:
            ValueError: the model does not whiten its condition, no captions were given, or
                ``condition_rank`` got batches without their images.
        """
        if self.condition_whitener is None:
            raise ValueError(f"{type(self).__name__} was built with condition_whitening=0: "
                             "its condition has no statistics to fit.")
        vectors, targets = [], []
        for batch in tokens_batches:
            tokens = batch["tokens"] if isinstance(batch, dict) else batch
            vectors.append(self._raw_condition(tokens)["condition"].numpy())
            if self.condition_rank:
                if not isinstance(batch, dict) or "image" not in batch:
                    raise ValueError(
                        f"condition_rank={self.condition_rank} fits the condition to the "
                        "captions' real images: give adapt_condition dataset batches with "
                        "\"tokens\" and \"image\"")
                targets.append(self.condition_targets(batch["image"]))
        if not vectors:
            raise ValueError("adapt_condition got no captions.")
        vectors = np.concatenate(vectors)
        self.condition_whitener.adapt(
            vectors, np.concatenate(targets) if self.condition_rank else None)
        return len(vectors)

    @staticmethod
    def condition_targets(images):
        """What ``condition_rank`` correlates the condition with: images in [-1, 1] (B, H, W,
        3) resized (antialiased) to ``CONDITION_TARGET_SIZE`` and flattened, float32 (B, P)."""
        images = tf.image.resize(tf.cast(images, tf.float32),
                                 (CONDITION_TARGET_SIZE, CONDITION_TARGET_SIZE), antialias=True)
        return tf.reshape(images, (tf.shape(images)[0], -1)).numpy()

    def check_adapted(self):
        """Raises ValueError when the condition is whitened by statistics not yet fitted
        (``adapt_condition``): the generator would be trained on a zero condition."""
        if self.condition_whitener is not None and not self.condition_whitener.is_adapted:
            raise ValueError(f"{type(self).__name__} whitens its condition "
                             f"(condition_whitening={self.condition_whitening}) but its "
                             "statistics were never fitted: call model.adapt_condition(…) on "
                             "training captions before fit (keras-t2i train does).")

    def fit(self, *args, **kwargs):
        self.check_adapted()
        return super().fit(*args, **kwargs)

    def sample_latents(self, batch_size) -> dict:
        """Every latent, (batch_size, dim) each, for this replica's slice of the global
        batch, from the model's seed generator (training)."""
        replica, replicas = _replica_context()
        latents = {}
        for name, dim in self.latent_dims().items():
            value = keras.random.normal((batch_size * replicas, dim), seed=self.seed_generator)
            latents[name] = value[replica * batch_size:(replica + 1) * batch_size]
        return latents

    def augment(self, images):
        """DiffAugment of a batch of discriminator inputs (this replica's slice of draws for
        the global batch, as ``sample_latents``); the images unchanged when it is off."""
        if self.augmenter is None:
            return images
        replica, replicas = _replica_context()
        batch_size = tf.shape(images)[0]
        draws = keras.random.uniform((batch_size * replicas, DRAWS), seed=self.seed_generator)
        return self.augmenter(images, draws[replica * batch_size:(replica + 1) * batch_size])

    def augment_generated(self, generated) -> dict:
        """``generate_images``' output with every stage's images augmented (extras as they
        are)."""
        if self.augmenter is None:
            return generated
        return {**generated, "images": [self.augment(x) for x in generated["images"]]}

    def latents_from_seeds(self, seeds, truncation=None) -> dict:
        """Every latent from per-caption int seeds (inference): latent k of caption i is a
        function of ``seeds[i]`` and k alone."""
        return {name: noise_from_seeds(seeds, dim, NOISE_STREAM + k, truncation)
                for k, (name, dim) in enumerate(self.latent_dims().items())}

    def compile(self, g_optimizer=None, d_optimizer=None, optimizer=None, **kwargs):
        """One optimizer for the generator and one for all the discriminators (the family's
        defaults where not given)."""
        if optimizer is not None:
            raise ValueError(f"{type(self).__name__}.compile takes g_optimizer= and "
                             "d_optimizer= (one optimizer per network role), not optimizer=.")
        super().compile(optimizer=None, **kwargs)
        if g_optimizer is None or d_optimizer is None:
            default_g, default_d = self.default_optimizers()
            g_optimizer, d_optimizer = g_optimizer or default_g, d_optimizer or default_d
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        # Built here, not lazily inside the replicated step (ecosystem.md §2: lazy builds
        # break under MirroredStrategy).
        self.g_optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator_variables)
        names = list(self.tracked_losses()) + [term.name for term in self.loss_terms]
        if self.projected_discriminator is not None:
            names += ["projected_d", "projected_g"]
        self.trackers = {name: keras.metrics.Mean(name=name) for name in names}

    def get_compile_config(self):
        if self.g_optimizer is None:
            return None
        return {"g_optimizer": keras.optimizers.serialize(self.g_optimizer),
                "d_optimizer": keras.optimizers.serialize(self.d_optimizer)}

    def compile_from_config(self, config):
        self.compile(g_optimizer=keras.optimizers.deserialize(config["g_optimizer"]),
                     d_optimizer=keras.optimizers.deserialize(config["d_optimizer"]))

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, inputs, training=None):
        """Final images for ``inputs["tokens"]`` with ``inputs["latents"]`` (or fresh ones)."""
        text = self.encode_text(inputs["tokens"])
        latents = inputs.get("latents")
        if latents is None:
            latents = self.sample_latents(tf.shape(inputs["tokens"])[0])
        return self.final_images(self.generate_images(latents, text, training=training,
                                                      generator=self.inference_generator))

    def _fake_inputs(self, text, batch_size):
        """Latents and text for the generator: ``copies`` latent draws per caption."""
        latents = self.sample_latents(batch_size * self.copies)
        if self.copies == 1:
            return latents, text
        return latents, {k: tf.concat([v] * self.copies, axis=0) for k, v in text.items()}

    def _batch(self, data):
        missing = [k for k in self.batch_keys if k not in data]
        if missing:
            raise ValueError(f"{type(self).__name__} trains on batches with {self.batch_keys}; "
                             f"this one has no {missing}.")
        return {k: tf.convert_to_tensor(data[k]) for k in self.batch_keys}

    def train_step(self, data):
        batch = self._batch(data)
        text = self.encode_text(batch["tokens"])
        batch_size = tf.shape(batch["tokens"])[0]
        _, replicas = _replica_context()
        latents, fake_text = self._fake_inputs(text, batch_size)

        with tf.GradientTape() as g_tape:
            generated = self.generate_images(latents, fake_text, training=True)
            with g_tape.stop_recording():
                d_batch = batch
                if self.augmenter is not None:
                    d_batch = {**batch, "image": self.augment(batch["image"])}
                with tf.GradientTape() as d_tape:
                    d_fakes = self.augment_generated(
                        tf.nest.map_structure(tf.stop_gradient, generated))
                    d_values = self._add_projected_d(
                        self.discriminator_losses(d_batch, text, d_fakes, fake_text),
                        d_batch["image"], text, self.final_images(d_fakes), fake_text)
                    d_scaled = d_values["d_loss"] / replicas
                d_vars = self.discriminator_variables
                self.d_optimizer.apply(d_tape.gradient(d_scaled, d_vars), d_vars)
            # The discriminators have been updated: the G step scores the same fakes with them
            # (augmented afresh; the loss terms see them clean).
            g_fakes = self.augment_generated(generated)
            g_values = self._add_terms(
                self._add_projected_g(
                    self.generator_losses(d_batch, text, g_fakes, fake_text, latents),
                    self.final_images(g_fakes), fake_text),
                batch, generated, fake_text, latents, batch_size)
            g_scaled = g_values["g_loss"] / replicas
        g_vars = self.generator.trainable_variables
        self.g_optimizer.apply(g_tape.gradient(g_scaled, g_vars), g_vars)
        if self.generator_ema is not None:
            self.update_ema()
        return self._track({**d_values, **g_values})

    def test_step(self, data):
        batch = self._batch(data)
        text = self.encode_text(batch["tokens"])
        batch_size = tf.shape(batch["tokens"])[0]
        latents, fake_text = self._fake_inputs(text, batch_size)
        generated = self.generate_images(latents, fake_text, training=False)
        fakes = self.final_images(generated)
        values = {**self._add_projected_d(
                      self.discriminator_losses(batch, text, generated, fake_text,
                                                training=False),
                      batch["image"], text, fakes, fake_text),
                  **self._add_terms(self._add_projected_g(
                      self.generator_losses(batch, text, generated, fake_text, latents,
                                            training=False), fakes, fake_text),
                      batch, generated, fake_text, latents, batch_size)}
        return self._track(values)

    def projected_logits(self, images, sentence):
        """The projected discriminator's logits, float32 (B, heads), of images in [-1, 1]
        and a condition (``encode_text``'s) per row."""
        return self.projected_discriminator(self._feature_maps(images), sentence)

    def _add_projected_d(self, d_values, real, text, fakes, fake_text):
        """The family's D losses with the projected discriminator's hinge loss (real pairs,
        ½ fakes, ½ mismatched: each real image with the previous row's sentence) added to
        ``d_loss`` and tracked as ``projected_d``; unchanged without one."""
        if self.projected_discriminator is None:
            return d_values
        embeddings = self.projected_discriminator.embed(self._feature_maps(real))
        sentence = text["condition"]
        real_logits = self.projected_discriminator.logits(embeddings, sentence)
        mismatched_logits = self.projected_discriminator.logits(embeddings,
                                                                tf.roll(sentence, 1, axis=0))
        fake_logits = self.projected_logits(fakes, fake_text["condition"])
        loss = losses.hinge_discriminator_loss(real_logits, fake_logits,
                                               mismatched_logits)["d_adv"]
        return {**d_values, "projected_d": loss, "d_loss": d_values["d_loss"] + loss}

    def _add_projected_g(self, g_values, fakes, fake_text):
        """The family's G losses with λ times the projected discriminator's hinge G loss
        (tracked unweighted as ``projected_g``); unchanged without one."""
        if self.projected_discriminator is None:
            return g_values
        loss = losses.hinge_generator_loss(self.projected_logits(fakes, fake_text["condition"]))
        return {**g_values, "projected_g": loss,
                "g_loss": g_values["g_loss"] + self.projected_weight * loss}

    def _add_terms(self, g_values, batch, generated, fake_text, latents, batch_size):
        """The generator's losses with every loss term tracked and added to ``g_loss``."""
        if not self.loss_terms:
            return g_values
        inputs = TermInputs(self.final_images(generated), fake_text, latents, batch,
                            batch_size, self.copies, generated)
        step = self.g_optimizer.iterations if self.g_optimizer is not None else 0
        for term in self.loss_terms:
            g_values[term.name] = term(self, inputs)
            g_values["g_loss"] = g_values["g_loss"] + term.contribution(g_values[term.name],
                                                                        step)
        return g_values

    def damsm_loss(self, images, text, class_ids=None):
        """L_DAMSM = L1^w + L2^w + L1^s + L2^s (AttnGAN eq. 15) of images and their encoded
        captions, the images read by the frozen ``image_encoder``; pairs of one class id are
        left out of each other's softmax."""
        regions, image_global = self.image_encoder(images, training=False)
        regions = tf.cast(regions, tf.float32)
        regions = tf.reshape(regions, (tf.shape(regions)[0], -1, regions.shape[-1]))
        words_1, words_2 = losses.damsm_word_loss(text["words"], regions, text["word_mask"],
                                                  class_ids)
        sentence_1, sentence_2 = losses.damsm_sentence_loss(text["sentence"], image_global,
                                                            class_ids)
        return words_1 + words_2 + sentence_1 + sentence_2

    def _track(self, values):
        for name, tracker in self.trackers.items():
            tracker.update_state(values[name])
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    # -- inference ------------------------------------------------------------------------
    def generate_stages_from_tokens(self, tokens, seeds, truncation=None) -> list:
        """float32 images in [-1, 1], one (B, s, s, 3) array per stage (lowest resolution
        first), for tokens (B, T) and int seeds (B,)."""
        latents = self.latents_from_seeds(seeds, truncation)
        text = self.encode_text(tokens)
        return self.generate_images(latents, text, training=False,
                                    generator=self.inference_generator)["images"]

    def generate_from_tokens(self, tokens, seeds, truncation=None):
        """float32 final images in [-1, 1] (B, S, S, 3) for tokens (B, T) and seeds (B,)."""
        return self.generate_stages_from_tokens(tokens, seeds, truncation)[-1]

    def _check_request(self, captions, seed, seeds):
        if isinstance(captions, str):
            captions = [captions]
        captions = list(captions)
        if not captions:
            raise ValueError("generate needs at least one caption.")
        for i, caption in enumerate(captions):
            if not isinstance(caption, str) or not caption.strip():
                raise ValueError(f"Caption {i} is empty or not a string: {caption!r}")
        if len(captions) > self.max_batch:
            raise ValueError(f"{len(captions)} captions exceed this model's max_batch "
                             f"({self.max_batch}); generate in smaller batches.")
        if seeds is None:
            seeds = [int(seed) + i for i in range(len(captions))]
        seeds = list(seeds)
        if len(seeds) != len(captions):
            raise ValueError(f"{len(seeds)} seeds for {len(captions)} captions.")
        return self.text_encoder.tokenizer(tf.constant(captions)), np.asarray(seeds, np.int64)

    def generate(self, captions, seed=0, seeds=None, truncation=None):
        """Generates one image per caption.

        Caption i uses the latents of seed ``seeds[i]`` (default ``seed + i``): the same
        caption and seed always give the same image, whatever else is in the batch.

        Args:
            captions: str or list of str.
            seed: int. Defaults to 0.
            seeds: list of int, one per caption. Overrides ``seed``.
            truncation: float or None. Latents from a normal truncated to ±2 σ times this
                (DF-GAN evaluates with 0.88, ``DFGAN_TRUNCATION``); None, the default, N(0, I).

        Returns:
            uint8 numpy array (B, S, S, 3).
        """
        tokens, seeds = self._check_request(captions, seed, seeds)
        return to_uint8(self.generate_from_tokens(tokens, seeds, truncation)).numpy()

    def generate_stages(self, captions, seed=0, seeds=None, truncation=None) -> list:
        """Like ``generate``, one uint8 array per stage of the generator (lowest first)."""
        tokens, seeds = self._check_request(captions, seed, seeds)
        return [to_uint8(images).numpy()
                for images in self.generate_stages_from_tokens(tokens, seeds, truncation)]

    # -- presets ---------------------------------------------------------------------------
    @classmethod
    def from_preset(cls, preset, text_encoder=None, image_encoder=None, **overrides):
        """A model of this family from a named preset or a ``save_to_preset`` directory.

        Args:
            preset: str. A name of ``PRESETS`` (then ``text_encoder`` is required, and
                ``image_encoder`` when the preset uses the DAMSM loss), or a directory
                written by ``save_to_preset`` (then nothing else is needed: the trained
                model comes back with its encoders and vocabulary).
            text_encoder: DAMSMTextEncoder pretrained on the preset's dataset.
            image_encoder: DAMSMImageEncoder pretrained with it.
            **overrides: constructor kwargs that replace the named preset's.
        """
        directory = Path(preset)
        if (directory / PRESET_CONFIG_FILE).is_file():
            if text_encoder is not None or image_encoder is not None or overrides:
                raise ValueError(f"{directory} is a saved model; it loads as it was saved (no "
                                 "encoders or overrides).")
            config = json.loads((directory / PRESET_CONFIG_FILE).read_text())
            model = keras.saving.deserialize_keras_object(config)
            if not isinstance(model, cls):
                raise ValueError(f"{directory} holds a {type(model).__name__}, not a "
                                 f"{cls.__name__}.")
            model.load_weights(directory / PRESET_WEIGHTS_FILE)
            return model
        if preset not in cls.PRESETS:
            raise ValueError(f"Unknown {cls.__name__} preset {preset!r}; valid presets: "
                             f"{', '.join(cls.PRESETS)} (or a save_to_preset directory).")
        if text_encoder is None:
            raise ValueError(f"{cls.__name__} needs a pretrained text encoder: pass "
                             "text_encoder= (e.g. from `keras-t2i pretrain damsm`, "
                             "kt.pretrain.load_encoders).")
        kwargs = {**cls.PRESETS[preset]["config"], **overrides}
        if image_encoder is not None:
            kwargs["image_encoder"] = image_encoder
        return cls(text_encoder, **kwargs)

    def save_to_preset(self, directory, metadata=None):
        """Writes the model so that ``from_preset(directory)`` loads it with no other
        argument: ``config.json`` (the model's config, encoders and vocabulary included),
        ``model.weights.h5``, ``vocabulary.txt``, the DAMSM pair (``text_encoder.keras``,
        ``image_encoder.keras``: the directory also serves as ``--text-encoder``) and
        ``metadata.json`` (package version, class, training step, and ``metadata``)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / PRESET_CONFIG_FILE).write_text(
            json.dumps(keras.saving.serialize_keras_object(self), indent=1))
        self.save_weights(directory / PRESET_WEIGHTS_FILE)
        (directory / PRESET_VOCABULARY_FILE).write_text(
            "\n".join(self.text_encoder.tokenizer.vocabulary) + "\n")
        self.text_encoder.save(directory / TEXT_ENCODER_FILE)
        if self.image_encoder is not None:
            self.image_encoder.save(directory / IMAGE_ENCODER_FILE)
        step = None if self.g_optimizer is None else int(self.g_optimizer.iterations.numpy())
        (directory / PRESET_METADATA_FILE).write_text(json.dumps({
            "package": "keras_t2i", "package_version": __version__,
            "class_name": type(self).__name__, "training_step": step,
            "saved": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            **(metadata or {})}, indent=2, sort_keys=True))
        return directory

    def get_config(self):
        config = {**super().get_config(), "noise_dim": self.noise_dim,
                  "mode_seeking": self.mode_seeking, "max_batch": self.max_batch,
                  "ema_decay": self.ema_decay, "damsm_weight": self.damsm_weight,
                  "damsm_class_mask": self.damsm_class_mask,
                  "paired_weight": self.paired_weight, "paired_schedule": self.paired_schedule,
                  "paired_distance": self.paired_distance, "diffaugment": self.diffaugment,
                  "projected_weight": self.projected_weight, "condition": self.condition,
                  "condition_whitening": self.condition_whitening,
                  "condition_rank": self.condition_rank}
        for name in self.FROZEN:
            module = getattr(self, name, None)
            config[name] = None if module is None else keras.layers.serialize(module)
        return config


def to_uint8(images):
    """[-1, 1] float images → uint8 [0, 255], rounding to nearest."""
    return tf.cast(tf.round(tf.clip_by_value((images + 1.0) * 127.5, 0.0, 255.0)), tf.uint8)
