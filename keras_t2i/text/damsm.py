"""DAMSM: the text and image encoders of AttnGAN, and the model that pretrains them.

The text encoder is the sentence/word encoder of every GAN in this package (frozen there);
the image encoder scores generated images (DAMSM loss in DM-GAN, R-precision).
Equations and sizes: seeds.md §1.2-1.4; Xu et al., AttnGAN, CVPR 2018, §3.2.
"""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

from keras_t2i import losses
from keras_t2i.text.tokenizer import PAD_ID, CaptionTokenizer

BACKBONES = ("cnn", "inception_v3")


def _uniform_init(seed=None):
    # AttnGAN initialises the embedding and both image projections uniform(-0.1, 0.1).
    return keras.initializers.RandomUniform(-0.1, 0.1, seed=seed)


@keras.saving.register_keras_serializable(package="keras_t2i")
class DAMSMTextEncoder(keras.Model):
    """Bidirectional-LSTM caption encoder (AttnGAN ``RNN_ENCODER``).

    Embedding(vocabulary, 300) → Dropout(0.5) → BiLSTM(128 per direction). Word features are
    the concatenated forward/backward outputs; the sentence feature concatenates the final
    hidden states, which masking takes at each caption's true last word.

    The LSTM runs only over the batch's words: the trailing columns that are padding in every
    row are cut before it and given back as zero word features after it, the same values the
    masked LSTM gives them (tested), without its steps over them (a caption of one Shapes
    object has 7 of the tokenizer's 33 columns: 4.8 → 1.4 ms at batch 1 on two cores).

    Args:
        tokenizer: CaptionTokenizer. Its vocabulary sizes the embedding and travels with the
            encoder.
        embedding_dim: int. Defaults to 300.
        units: int. LSTM units per direction; features are 2·units wide. Defaults to 128.
        dropout: float. Dropout on the embeddings while training. Defaults to 0.5.

    Call arguments:
        tokens: int (batch, words), 0 for padding.

    Returns:
        (words, sentence): float (batch, words, 2·units) and (batch, 2·units).

    Example:
    >>> encoder = DAMSMTextEncoder(kt.data.caption_tokenizer("shapes"))
    >>> words, sentence = encoder.encode(["a small red circle in the center"])
    """

    def __init__(self, tokenizer, embedding_dim=300, units=128, dropout=0.5, **kwargs):
        super().__init__(**kwargs)
        if isinstance(tokenizer, dict):
            tokenizer = keras.layers.deserialize(tokenizer)
        if not isinstance(tokenizer, CaptionTokenizer):
            raise TypeError(f"tokenizer must be a CaptionTokenizer, got {type(tokenizer)}")
        self.tokenizer = tokenizer
        self.embedding_dim = int(embedding_dim)
        self.units = int(units)
        self.dropout = float(dropout)
        self.embedding = keras.layers.Embedding(
            tokenizer.vocabulary_size(), self.embedding_dim, mask_zero=True,
            embeddings_initializer=_uniform_init(), name="embedding")
        self.embedding_dropout = keras.layers.Dropout(self.dropout, name="embedding_dropout")
        self.rnn = keras.layers.Bidirectional(
            keras.layers.LSTM(self.units, return_sequences=True, return_state=True),
            name="bilstm")
        self.build((None, tokenizer.max_words))

    @property
    def feature_dim(self) -> int:
        return 2 * self.units

    def build(self, input_shape):
        self.embedding.build(input_shape)
        emb_shape = tuple(input_shape) + (self.embedding_dim,)
        self.rnn.build(emb_shape)
        self.built = True

    def call(self, tokens, training=None):
        tokens = keras.ops.convert_to_tensor(tokens, "int32")
        width = tokens.shape[1]
        # The columns up to the last one holding a word in any row (at least one).
        total = keras.ops.shape(tokens)[1]
        columns = keras.ops.arange(1, total + 1, dtype="int32")
        used = keras.ops.maximum(keras.ops.max(keras.ops.where(
            keras.ops.not_equal(tokens, PAD_ID), columns[None, :], 0)), 1)
        tokens = tokens[:, :used]
        mask = keras.ops.not_equal(tokens, PAD_ID)
        x = self.embedding(tokens)
        x = self.embedding_dropout(x, training=training)
        words, h_forward, _, h_backward, _ = self.rnn(x, mask=mask, training=training)
        words = keras.ops.pad(words, [[0, 0], [0, total - used], [0, 0]])
        if width is not None:
            words = keras.ops.reshape(words, (-1, width, self.feature_dim))
        sentence = keras.ops.concatenate([h_forward, h_backward], axis=-1)
        return words, sentence

    def compute_output_shape(self, input_shape):
        batch, length = input_shape
        return (batch, length, self.feature_dim), (batch, self.feature_dim)

    def encode(self, captions):
        """Tokenises raw captions and encodes them (inference mode)."""
        return self(self.tokenizer(tf.convert_to_tensor(captions, tf.string)), training=False)

    def get_config(self):
        config = super().get_config()
        config.update(
            tokenizer=keras.layers.serialize(self.tokenizer),
            embedding_dim=self.embedding_dim,
            units=self.units,
            dropout=self.dropout,
        )
        return config


def _conv_block(x, filters, kernel, strides, name, norm=True):
    x = keras.layers.Conv2D(filters, kernel, strides, padding="same", use_bias=not norm,
                            name=f"{name}_conv")(x)
    if norm:
        x = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"{name}_bn")(x)
        return keras.layers.LeakyReLU(0.2, name=f"{name}_lrelu")(x)
    # LeakyReLU(0.2) as max(x, 0.2x) after a biased conv: TF 2.21's Grappler remapper fuses
    # conv + bias + LeakyRelu although the gradient (the DAMSM loss on G's images) still reads
    # the BiasAdd, fails, and logs "remapper failed: INVALID_ARGUMENT: Mutation::Apply error"
    # on every run (the same fix as DF-GAN's generator). No weights, so saved encoders load.
    slope = keras.layers.Rescaling(0.2, name=f"{name}_lrelu_slope")(x)
    return keras.layers.Maximum(name=f"{name}_lrelu")([x, slope])


def cnn_trunk(size, width):
    """Small CNN: its stride-8 map gives the regions, the flattened stride-16 map the global."""
    images = keras.Input((size, size, 3))
    x = _conv_block(images, width, 4, 2, "c1", norm=False)
    x = _conv_block(x, 2 * width, 4, 2, "c2")
    local = _conv_block(x, 4 * width, 4, 2, "c3")
    x = _conv_block(local, 8 * width, 4, 2, "c4")
    return keras.Model(images, [local, keras.layers.Flatten(name="flatten")(x)], name="trunk")


def _inception_trunk(size, weights):
    """Frozen InceptionV3: the 17×17 ``mixed7`` map and the average-pooled ``mixed10``."""
    base = keras.applications.InceptionV3(include_top=False, weights=weights,
                                          input_shape=(size, size, 3))
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(base.output)
    trunk = keras.Model(base.input, [base.get_layer("mixed7").output, pooled], name="trunk")
    trunk.trainable = False
    return trunk


def calibrate_batch_norm(model, batches) -> int:
    """Sets the BatchNorm statistics of a functional ``model`` (its top-level layers, in
    order) to their exact values on ``batches`` of its inputs: each BatchNorm layer in turn,
    earlier ones already calibrated and in inference mode, gets the mean and the (biased)
    variance of its inputs over all of them ("precise BN": Wu & Johnson, "Rethinking 'Batch'
    in BatchNorm", 2021); frozen (non-trainable) BatchNorm layers keep theirs. Weights are not
    touched. Returns the number of examples read."""
    batches = list(batches)
    if not batches:
        raise ValueError("calibrate_batch_norm needs at least one batch of images.")
    for layer in model.layers:
        # A frozen layer's statistics belong to the pretrained network it is part of.
        if not isinstance(layer, keras.layers.BatchNormalization) or not layer.trainable:
            continue
        inputs = keras.Model(model.input, layer.input)
        total = squares = 0.0
        count = 0
        for batch in batches:
            x = keras.ops.convert_to_numpy(inputs(batch, training=False)).astype("float64")
            x = x.reshape(-1, x.shape[-1])
            total, squares, count = total + x.sum(0), squares + (x * x).sum(0), count + len(x)
        mean = total / count
        layer.moving_mean.assign(mean.astype("float32"))
        layer.moving_variance.assign((squares / count - mean * mean).astype("float32"))
    return sum(int(b.shape[0]) for b in batches)


# The trunk's maps a projected discriminator reads (``DAMSMImageEncoder.feature_maps_model``),
# finest first: for the 64×64 CNN 16×16×2w, 8×8×4w, 4×4×8w; for InceptionV3 at 299 the
# 35×35 ``mixed2``, the 17×17 ``mixed7`` (the regions) and the 8×8 ``mixed10``.
FEATURE_MAP_LAYERS = {"cnn": ("c2_lrelu", "c3_lrelu", "c4_lrelu"),
                      "inception_v3": ("mixed2", "mixed7", "mixed10")}

# ``backbone_weights`` value used when a saved encoder is rebuilt: its weights come from the
# saved file, so the backbone is built without loading any.
ARCHITECTURE_ONLY = "architecture-only"


@keras.saving.register_keras_serializable(package="keras_t2i")
class DAMSMImageEncoder(keras.Model):
    """Image encoder giving region features and a global feature (AttnGAN ``CNN_ENCODER``).

    Two backbones:

    - ``"cnn"`` (default): a small CNN trained from scratch, for the Shapes benchmark and CPUs.
      Input resized to ``input_size`` (64); regions are the (input_size/8)² cells of its
      stride-8 feature map; the global feature reads the stride-16 map flattened, so it keeps
      the layout that spatial captions ("left of") describe.
    - ``"inception_v3"``: Keras InceptionV3 (ImageNet weights from ``backbone_weights``, a
      ``*_notop.h5`` file), frozen, input resized to 299. Regions are the 17×17 ``mixed7``
      map (torchvision's Mixed_6e), the global feature the average-pooled ``mixed10``, as
      in AttnGAN. Only the two projections train.

    Args:
        backbone: str. ``"cnn"`` or ``"inception_v3"``. Defaults to ``"cnn"``.
        feature_dim: int. Width of both outputs (the text encoder's 2·units). Defaults to 256.
        input_size: int. Images are resized to this side first. Defaults to 64 for ``"cnn"``,
            299 for ``"inception_v3"``.
        width: int. Channels of the first ``"cnn"`` layer. Defaults to 32.
        backbone_weights: str. Path of the InceptionV3 weights file; required to build a new
            ``"inception_v3"`` encoder (a saved encoder carries its weights).

    Call arguments:
        images: float (batch, height, width, 3) in [-1, 1].

    Returns:
        (regions, global): float (batch, h, w, feature_dim) and (batch, feature_dim).
    """

    def __init__(self, backbone="cnn", feature_dim=256, input_size=None, width=32,
                 backbone_weights=None, **kwargs):
        super().__init__(**kwargs)
        if backbone not in BACKBONES:
            raise ValueError(f"Unknown image-encoder backbone {backbone!r}; valid: {BACKBONES}")
        self.backbone = backbone
        self.feature_dim = int(feature_dim)
        self.input_size = int(input_size or (64 if backbone == "cnn" else 299))
        self.width = int(width)
        if backbone == "cnn":
            if self.input_size % 16:
                raise ValueError(f"input_size must be a multiple of 16, got {self.input_size}")
            self.trunk = cnn_trunk(self.input_size, self.width)
        else:
            if backbone_weights is None:
                raise ValueError(
                    "The inception_v3 image encoder needs ImageNet weights: pass "
                    "backbone_weights= (--backbone-weights) with the path of Keras' "
                    "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5; this package "
                    "never downloads weights.")
            weights = None if backbone_weights == ARCHITECTURE_ONLY else backbone_weights
            self.trunk = _inception_trunk(self.input_size, weights)
        self.local_projection = keras.layers.Conv2D(
            self.feature_dim, 1, use_bias=False, kernel_initializer=_uniform_init(),
            name="local_projection")
        self.global_projection = keras.layers.Dense(
            self.feature_dim, kernel_initializer=_uniform_init(), name="global_projection")
        self.build((None, self.input_size, self.input_size, 3))

    def build(self, input_shape):
        size = self.input_size
        local_shape, global_shape = self.trunk.compute_output_shape((None, size, size, 3))
        self.local_projection.build(local_shape)
        self.global_projection.build(global_shape)
        self.built = True

    def resize(self, images):
        """Images resized (bilinear) to the encoder's ``input_size``, as ``call`` does."""
        x = keras.ops.convert_to_tensor(images)
        if x.shape[1] != self.input_size or x.shape[2] != self.input_size:
            x = keras.ops.image.resize(x, (self.input_size, self.input_size),
                                       interpolation="bilinear")
        return x

    def calibrate_batch_norm(self, batches):
        """Sets the CNN's BatchNorm statistics to their exact values on ``batches``.

        The moving averages ``fit`` leaves behind follow the last few batches while the weights
        still move; this encoder, whose global feature reads a flattened map, is sensitive to
        that noise (on Shapes, test R-precision 32 % with the moving averages against 89 % once
        recalibrated, same weights: benchmarks/RESULTS.md). So, as "precise BN" does (Wu &
        Johnson, "Rethinking 'Batch' in BatchNorm", 2021), each BatchNorm layer in turn, earlier
        ones already calibrated and in inference mode, gets the mean and the (biased) variance
        of its inputs over all the images. Weights are not touched.

        Args:
            batches: iterable of float image batches (batch, H, W, 3) in [-1, 1], for example
                a few dozen training batches.

        Returns:
            int, the number of images read.
        """
        if self.backbone != "cnn":
            raise ValueError("calibrate_batch_norm applies to the 'cnn' backbone; the frozen "
                             f"{self.backbone} backbone keeps its ImageNet statistics.")
        return calibrate_batch_norm(self.trunk, [self.resize(b) for b in batches])

    def feature_maps_model(self):
        """A model images → the trunk's intermediate maps (``FEATURE_MAP_LAYERS``, finest
        first), sharing the trunk's layers: no new weights. Its input is already resized to
        ``input_size`` (``resize``); call it with ``training=False``."""
        trunk = self.trunk
        return keras.Model(trunk.input,
                           [trunk.get_layer(name).output
                            for name in FEATURE_MAP_LAYERS[self.backbone]],
                           name=f"{self.name}_feature_maps")

    def call(self, images, training=None):
        x = self.resize(images)
        # The Inception backbone stays in inference mode (frozen BatchNorm statistics).
        local, pooled = self.trunk(x, training=training if self.backbone == "cnn" else False)
        return self.local_projection(local), self.global_projection(pooled)

    def compute_output_shape(self, input_shape):
        size = self.input_size
        local_shape, _ = self.trunk.compute_output_shape((input_shape[0], size, size, 3))
        return tuple(local_shape[:3]) + (self.feature_dim,), (input_shape[0], self.feature_dim)

    def get_config(self):
        config = super().get_config()
        config.update(backbone=self.backbone, feature_dim=self.feature_dim,
                      input_size=self.input_size, width=self.width,
                      backbone_weights=None if self.backbone == "cnn" else ARCHITECTURE_ONLY)
        return config


@keras.saving.register_keras_serializable(package="keras_t2i")
class DAMSM(keras.Model):
    """Deep Attentional Multimodal Similarity Model: pretrains the two encoders with ``fit``.

    Loss L_DAMSM = L1^w + L2^w + L1^s + L2^s (AttnGAN eq. 15) with same-class pairs masked.
    As in ``pretrain_DAMSM.py``, the text encoder's gradients are clipped to global norm 0.25.

    Args:
        text_encoder: DAMSMTextEncoder.
        image_encoder: DAMSMImageEncoder.
        gamma1, gamma2, gamma3: floats. Defaults 4, 5, 10.
        text_clip_norm: float or None. Defaults to 0.25.

    The ``fit`` data is a dataset of dicts with ``image`` (batch, H, W, 3) in [-1, 1],
    ``tokens`` (batch, words) and optionally ``class_id`` (batch,), as ``kt.data.load`` gives.

    Example:
    >>> damsm = DAMSM(DAMSMTextEncoder(tok), DAMSMImageEncoder())
    >>> damsm.compile(optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5, beta_2=0.999))
    >>> damsm.fit(kt.data.load("shapes", "train"), epochs=1)
    """

    def __init__(self, text_encoder, image_encoder, gamma1=4.0, gamma2=5.0, gamma3=10.0,
                 text_clip_norm=0.25, **kwargs):
        super().__init__(**kwargs)
        if isinstance(text_encoder, dict):
            text_encoder = keras.layers.deserialize(text_encoder)
        if isinstance(image_encoder, dict):
            image_encoder = keras.layers.deserialize(image_encoder)
        if text_encoder.feature_dim != image_encoder.feature_dim:
            raise ValueError(f"The text encoder gives {text_encoder.feature_dim}-d features but "
                             f"the image encoder {image_encoder.feature_dim}-d; they must match.")
        self.text_encoder = text_encoder
        self.image_encoder = image_encoder
        self.gamma1, self.gamma2, self.gamma3 = float(gamma1), float(gamma2), float(gamma3)
        self.text_clip_norm = None if text_clip_norm is None else float(text_clip_norm)
        self.trackers = {name: keras.metrics.Mean(name=name)
                         for name in ("loss", "word_loss", "sentence_loss")}
        self.built = True  # the encoders build themselves

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, inputs, training=None):
        words, sentence = self.text_encoder(inputs["tokens"], training=training)
        regions, image_global = self.image_encoder(inputs["image"], training=training)
        return {"words": words, "sentence": sentence, "regions": regions,
                "image_global": image_global}

    def compute_losses(self, batch, training=None):
        out = self(batch, training=training)
        regions = out["regions"]
        shape = tf.shape(regions)
        regions = tf.reshape(regions, (shape[0], shape[1] * shape[2], shape[3]))
        mask = tf.not_equal(batch["tokens"], PAD_ID)
        class_ids = batch.get("class_id")
        w1, w2 = losses.damsm_word_loss(out["words"], regions, mask, class_ids,
                                        self.gamma1, self.gamma2, self.gamma3)
        s1, s2 = losses.damsm_sentence_loss(out["sentence"], out["image_global"], class_ids,
                                            self.gamma3)
        return {"word_loss": w1 + w2, "sentence_loss": s1 + s2, "loss": w1 + w2 + s1 + s2}

    def train_step(self, data):
        text_vars = self.text_encoder.trainable_variables
        image_vars = self.image_encoder.trainable_variables
        with tf.GradientTape() as tape:
            values = self.compute_losses(data, training=True)
        grads = tape.gradient(values["loss"], text_vars + image_vars)
        text_grads, image_grads = grads[: len(text_vars)], grads[len(text_vars):]
        if self.text_clip_norm is not None:
            text_grads, _ = tf.clip_by_global_norm(text_grads, self.text_clip_norm)
        self.optimizer.apply(list(text_grads) + list(image_grads), text_vars + image_vars)
        return self._track(values)

    def test_step(self, data):
        return self._track(self.compute_losses(data, training=False))

    def _track(self, values):
        for name, tracker in self.trackers.items():
            tracker.update_state(values[name])
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def get_config(self):
        config = super().get_config()
        config.update(
            text_encoder=keras.layers.serialize(self.text_encoder),
            image_encoder=keras.layers.serialize(self.image_encoder),
            gamma1=self.gamma1, gamma2=self.gamma2, gamma3=self.gamma3,
            text_clip_norm=self.text_clip_norm)
        return config


# A DAMSM pair on disk (``keras-t2i pretrain damsm --out DIR``, a run's ``damsm/``, a preset).
TEXT_ENCODER_FILE = "text_encoder.keras"
IMAGE_ENCODER_FILE = "image_encoder.keras"


def load_encoders(directory):
    """(text_encoder, image_encoder) saved in ``directory``: a ``keras-t2i pretrain damsm``
    run, a training run's ``damsm/`` or a model preset (``save_to_preset``)."""
    directory = Path(directory)
    found = []
    for name in (TEXT_ENCODER_FILE, IMAGE_ENCODER_FILE):
        path = directory / name
        if not path.is_file():
            raise FileNotFoundError(f"No {name} in {directory}: is it the --out directory of "
                                    "`keras-t2i pretrain damsm`?")
        try:
            found.append(keras.saving.load_model(path))
        except Exception as err:  # a truncated or foreign file: say which one
            raise ValueError(f"Cannot read {path} (damaged, or not a saved Keras model): "
                             f"{type(err).__name__}: {err}") from None
    return tuple(found)
