"""``TextToImageGAN``: the training step, noise, generation and bookkeeping every model shares.

A model family (DF-GAN here; DM-GAN, MirrorGAN, MemoryGAN later) supplies its networks and
three hooks — ``generate_images``, ``discriminator_losses``, ``generator_losses`` — and
inherits: the frozen text encoder, one D step then one G step per batch (the G step reuses the
fake batch of the D step, as the reference code does), MSGAN's mode seeking on any model
(``mode_seeking=λ``: two noise vectors per caption), the DAMSM loss on the generated images
(``damsm_weight=λ`` with the frozen DAMSM image encoder, AttnGAN/DM-GAN's L_DAMSM), an
optional exponential moving average of the generator (``ema_decay``), loss scaling under
``tf.distribute``, loss trackers, and ``generate``.

Distribution: gradients are summed across replicas by the optimizers, so each replica's loss
is divided by the number of replicas exactly once, here; the trackers receive the unscaled
values. Noise is drawn for the whole global batch from one seed and each replica takes its
slice, so replicas get different noise and a run on N devices draws the same noise as a run
on one device for the same global batch.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from keras_t2i import (
    _backend,  # noqa: F401
    losses,
)

# Second element of the stateless seed of generation noise: keeps it apart from other streams.
NOISE_STREAM = 0x5EED


def noise_from_seeds(seeds, noise_dim: int) -> tf.Tensor:
    """One N(0, I) noise vector per int seed; a seed always gives the same vector.

    Args:
        seeds: int (B,).
        noise_dim: int.

    Returns:
        float32 (B, noise_dim).
    """
    seeds = tf.cast(tf.convert_to_tensor(seeds), tf.int64)
    return tf.map_fn(
        lambda s: tf.random.stateless_normal((noise_dim,), seed=tf.stack(
            [s, tf.constant(NOISE_STREAM, tf.int64)])),
        seeds, fn_output_signature=tf.TensorSpec((noise_dim,), tf.float32))


def _replica_context():
    ctx = tf.distribute.get_replica_context()
    if ctx is None:  # cross-replica context: behave as one replica
        return 0, 1
    return ctx.replica_id_in_sync_group, ctx.num_replicas_in_sync


class TextToImageGAN(keras.Model):
    """Base class of the text-to-image GANs.

    Args:
        text_encoder: DAMSMTextEncoder. Frozen; its tokenizer travels with the model.
        generator: keras.Model. ``generate_images`` calls it.
        discriminator: keras.Model.
        noise_dim: int. Defaults to 100.
        mode_seeking: float. λ of MSGAN's mode-seeking term; 0 turns it off. Defaults to 0.
        max_batch: int. The largest batch ``generate`` and exported models accept.
            Defaults to 64.
        ema_decay: float in [0, 1). With d > 0 the model keeps ``generator_ema``, a copy of the
            generator updated after every G step as θ_ema ← d·θ_ema + (1 − d)·θ, and generates
            (``call``, ``generate``, later export) with it; training still uses ``generator``.
            0 (the default, as in the DF-GAN code) keeps no copy.
        image_encoder: DAMSMImageEncoder pretrained with ``text_encoder`` (frozen), or None.
            Needed when ``damsm_weight > 0``.
        damsm_weight: float. λ of the DAMSM loss added to the generator's loss: the word- and
            sentence-level matching losses (AttnGAN eq. 15) between the final generated images,
            read by ``image_encoder``, and their captions, within each replica's batch. 0 (the
            default; DF-GAN's code has it commented out) leaves it off; AttnGAN and DM-GAN use
            5 on CUB and 50 on COCO. Tracked as ``damsm`` (its unweighted value).

    Compile with ``compile(g_optimizer=…, d_optimizer=…)``. ``fit`` data are dicts with
    ``image`` (batch, S, S, 3) in [-1, 1] and ``tokens`` (batch, words), as
    ``kt.data.load`` gives.
    """

    def __init__(self, text_encoder, generator, discriminator, noise_dim=100, mode_seeking=0.0,
                 max_batch=64, ema_decay=0.0, image_encoder=None, damsm_weight=0.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(text_encoder, dict):
            text_encoder = keras.layers.deserialize(text_encoder)
        self.text_encoder = text_encoder
        self.text_encoder.trainable = False
        self.generator = generator
        self.discriminator = discriminator
        self.noise_dim = int(noise_dim)
        self.mode_seeking = float(mode_seeking)
        if self.mode_seeking < 0:
            raise ValueError(f"mode_seeking must be >= 0, got {mode_seeking}")
        self.max_batch = int(max_batch)
        self.ema_decay = float(ema_decay)
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {ema_decay}")
        self.damsm_weight = float(damsm_weight)
        if self.damsm_weight < 0:
            raise ValueError(f"damsm_weight must be >= 0, got {damsm_weight}")
        if isinstance(image_encoder, dict):
            image_encoder = keras.layers.deserialize(image_encoder)
        if self.damsm_weight and image_encoder is None:
            raise ValueError(f"damsm_weight={damsm_weight} needs the DAMSM image encoder "
                             "pretrained with the text encoder: pass image_encoder= (the second "
                             "of kt.pretrain.load_encoders(DIR)).")
        self.image_encoder = image_encoder
        if image_encoder is not None:
            self.image_encoder.trainable = False
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

    # -- hooks for the model families -------------------------------------------------------
    def generate_images(self, noise, text, training=None, generator=None):
        """(batch, nz) noise and the encoded text → generator output (images or stages).

        ``generator`` is the network to run: ``self.generator`` when None (training), the
        EMA copy when generating (``inference_generator``)."""
        raise NotImplementedError

    def final_images(self, generated):
        """The highest-resolution images of ``generate_images``' output (B, S, S, 3)."""
        return generated

    def discriminator_losses(self, images, text, fake, fake_text, training=True):
        """dict of scalars with ``d_loss`` (what D minimises) and any parts to track."""
        raise NotImplementedError

    def generator_losses(self, fake, fake_text, noise, training=True):
        """dict of scalars with ``g_loss`` (without mode seeking) and parts to track."""
        raise NotImplementedError

    def tracked_losses(self):
        """Names of the losses ``train_step`` returns, in order."""
        raise NotImplementedError

    # -- shared machinery -------------------------------------------------------------------
    @property
    def inference_generator(self):
        """The generator that ``call`` and ``generate`` use: the EMA copy if any."""
        return self.generator_ema if self.generator_ema is not None else self.generator

    def update_ema(self):
        """θ_ema ← d·θ_ema + (1 − d)·θ on every replica (a merge call under tf.distribute)."""
        decay = self.ema_decay

        def update(strategy, averages, values):
            for average, value in zip(averages, values):
                strategy.extended.update(
                    average, lambda a, v: a.assign(decay * a + (1.0 - decay) * v),
                    args=(value,), group=False)

        tf.__internal__.distribute.interim.maybe_merge_call(
            update, tf.distribute.get_strategy(),
            [w.value for w in self.generator_ema.weights],
            [w.value for w in self.generator.weights])

    def encode_text(self, tokens):
        """The frozen text encoder's outputs: words (B, T, D), sentence (B, D), word_mask."""
        tokens = tf.convert_to_tensor(tokens)
        words, sentence = self.text_encoder(tokens, training=False)
        return {"words": tf.stop_gradient(words), "sentence": tf.stop_gradient(sentence),
                "word_mask": tf.not_equal(tokens, 0)}

    def sample_noise(self, batch_size):
        """N(0, I) noise (batch_size, nz) for this replica's slice of the global batch."""
        replica, replicas = _replica_context()
        noise = keras.random.normal((batch_size * replicas, self.noise_dim),
                                    seed=self.seed_generator)
        return noise[replica * batch_size:(replica + 1) * batch_size]

    def compile(self, g_optimizer=None, d_optimizer=None, **kwargs):
        """Compiles with one optimizer per network (``optimizer`` is not used).

        Defaults to DF-GAN's Adam: G 1e-4, D 4e-4, betas (0, 0.9).
        """
        kwargs.pop("optimizer", None)
        super().compile(optimizer=None, **kwargs)
        self.g_optimizer = g_optimizer or keras.optimizers.Adam(1e-4, beta_1=0.0, beta_2=0.9)
        self.d_optimizer = d_optimizer or keras.optimizers.Adam(4e-4, beta_1=0.0, beta_2=0.9)
        # Built here, not lazily inside the replicated step (ecosystem.md §2: lazy builds
        # break under MirroredStrategy).
        self.g_optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)
        names = (list(self.tracked_losses()) + (["ms"] if self.mode_seeking else [])
                 + (["damsm"] if self.damsm_weight else []))
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
        """Images for ``inputs["tokens"]`` with ``inputs["noise"]`` (or fresh noise)."""
        text = self.encode_text(inputs["tokens"])
        noise = inputs.get("noise")
        if noise is None:
            noise = self.sample_noise(tf.shape(inputs["tokens"])[0])
        return self.final_images(self.generate_images(noise, text, training=training,
                                                      generator=self.inference_generator))

    def _fake_inputs(self, text, batch):
        """Noise and text for the generator: two noise vectors per caption with mode seeking."""
        copies = 2 if self.mode_seeking else 1
        noise = self.sample_noise(batch * copies)
        if copies == 1:
            return noise, text
        return noise, {k: tf.concat([v, v], axis=0) for k, v in text.items()}

    def train_step(self, data):
        images = tf.convert_to_tensor(data["image"])
        text = self.encode_text(data["tokens"])
        batch = tf.shape(images)[0]
        _, replicas = _replica_context()
        noise, fake_text = self._fake_inputs(text, batch)

        with tf.GradientTape() as g_tape:
            fake = self.generate_images(noise, fake_text, training=True)
            with g_tape.stop_recording():
                with tf.GradientTape() as d_tape:
                    d_values = self.discriminator_losses(
                        images, text, tf.nest.map_structure(tf.stop_gradient, fake), fake_text)
                    d_scaled = d_values["d_loss"] / replicas
                d_vars = self.discriminator.trainable_variables
                self.d_optimizer.apply(d_tape.gradient(d_scaled, d_vars), d_vars)
            # D has been updated: the G step scores the same fakes with the new D.
            g_values = self._add_regularisers(
                self.generator_losses(fake, fake_text, noise), fake, fake_text, noise, batch)
            g_scaled = g_values["g_loss"] / replicas
        g_vars = self.generator.trainable_variables
        self.g_optimizer.apply(g_tape.gradient(g_scaled, g_vars), g_vars)
        if self.generator_ema is not None:
            self.update_ema()
        return self._track({**d_values, **g_values})

    def test_step(self, data):
        images = tf.convert_to_tensor(data["image"])
        text = self.encode_text(data["tokens"])
        batch = tf.shape(images)[0]
        noise, fake_text = self._fake_inputs(text, batch)
        fake = self.generate_images(noise, fake_text, training=False)
        values = {**self.discriminator_losses(images, text, fake, fake_text, training=False),
                  **self._add_regularisers(
                      self.generator_losses(fake, fake_text, noise, training=False),
                      fake, fake_text, noise, batch)}
        return self._track(values)

    def _add_regularisers(self, g_values, fake, fake_text, noise, batch):
        """The generator's losses with mode seeking (``ms``, already weighted) and the DAMSM
        loss (``damsm``, tracked unweighted) added to ``g_loss`` when they are on."""
        final = self.final_images(fake)
        if self.mode_seeking:
            g_values["ms"] = losses.mode_seeking_loss(final[:batch], final[batch:], noise[:batch],
                                                      noise[batch:], weight=self.mode_seeking)
            g_values["g_loss"] = g_values["g_loss"] + g_values["ms"]
        if self.damsm_weight:
            # With mode seeking each caption is in the batch twice: each half is scored as a
            # batch of its own, so no caption is its own negative and the negatives are as many.
            halves = 2 if self.mode_seeking else 1
            g_values["damsm"] = tf.add_n([
                self.damsm_loss(final[h * batch:(h + 1) * batch],
                                {k: v[h * batch:(h + 1) * batch] for k, v in fake_text.items()})
                for h in range(halves)]) / halves
            g_values["g_loss"] = g_values["g_loss"] + self.damsm_weight * g_values["damsm"]
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
    def generate_from_tokens(self, tokens, seeds):
        """float32 images in [-1, 1] (B, S, S, 3) for tokens (B, T) and int seeds (B,)."""
        noise = noise_from_seeds(seeds, self.noise_dim)
        text = self.encode_text(tokens)
        return self.final_images(self.generate_images(noise, text, training=False,
                                                      generator=self.inference_generator))

    def generate(self, captions, seed=0, seeds=None):
        """Generates one image per caption.

        Caption i uses the noise of seed ``seeds[i]`` (default ``seed + i``): the same caption
        and seed always give the same image, whatever else is in the batch.

        Args:
            captions: str or list of str.
            seed: int. Defaults to 0.
            seeds: list of int, one per caption. Overrides ``seed``.

        Returns:
            uint8 numpy array (B, S, S, 3).
        """
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
        if len(seeds) != len(captions):
            raise ValueError(f"{len(seeds)} seeds for {len(captions)} captions.")
        tokens = self.text_encoder.tokenizer(tf.constant(captions))
        images = self.generate_from_tokens(tokens, np.asarray(seeds, np.int64))
        return to_uint8(images).numpy()

    def get_config(self):
        return {**super().get_config(), "text_encoder": keras.layers.serialize(self.text_encoder),
                "noise_dim": self.noise_dim, "mode_seeking": self.mode_seeking,
                "max_batch": self.max_batch, "ema_decay": self.ema_decay,
                "damsm_weight": self.damsm_weight,
                "image_encoder": (None if self.image_encoder is None
                                  else keras.layers.serialize(self.image_encoder))}


def to_uint8(images):
    """[-1, 1] float images → uint8 [0, 255], rounding to nearest."""
    return tf.cast(tf.round(tf.clip_by_value((images + 1.0) * 127.5, 0.0, 255.0)), tf.uint8)
