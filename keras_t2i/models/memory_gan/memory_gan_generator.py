"""Scene generators made of parts: the shared pieces (background, compositor, renderer) and
MemoryGAN's generator, one shared part generator queried by ``PartQueryRNN``."""

from __future__ import annotations

import keras
from keras import ops

from keras_t2i import _backend  # noqa: F401
from keras_t2i.models.memory_gan.compositor import PartRenderer, compose
from keras_t2i.models.memory_gan.part_query_rnn import PartQueryRNN
from keras_t2i.models.memory_gan.shared_part_generator import SharedPartGenerator


class PartSceneGenerator(keras.Model):
    """A generator that draws a scene as K parts over a background (the base of MemoryGAN's
    and the multi-generator baseline's generators; they differ only in ``part_maps``).

    The background's features are Dense([z; sentence]) → C (Dense(z) → C with
    ``text_background=False``), constant over the image, with mask logit
    ``background_logit``; the parts come from ``part_maps``; ``compose`` fuses them;
    ``PartRenderer`` draws the image. K is the length of the ``parts`` input.

    Args:
        image_size: int. Defaults to 64.
        part_size: int or None. The side of the part maps and masks; None: image_size / 2.
        nf: int. Width of the part generators and the renderer. Defaults to 16.
        noise_dim: int. z. Defaults to 100.
        part_dim: int. Each part's latent code z_k. Defaults to 32.
        cond_dim: int. The text encoder's width (words and sentence). Defaults to 256.
        query_dim: int. A part query's width. Defaults to 64.
        feature_channels: int. C, the part features' channels. Defaults to 32.
        text_background: bool. The background's features read the sentence. Defaults to True
            (the compositor's docstring says when False is better).
        background_logit: float. The background's constant pseudo-depth. Defaults to 0.

    Call arguments:
        noise: float (batch, noise_dim).
        parts: float (batch, K, part_dim).
        sentence: float (batch, cond_dim).
        words: float (batch, T, cond_dim).
        word_mask: bool (batch, T).

    Returns:
        ``{"images": [float32 (batch, S, S, 3)], "masks": float32 (batch, part_size,
        part_size, K + 1) (background first), "attention": float32 (batch, K, T)}``.
    """

    def __init__(self, image_size=64, part_size=None, nf=16, noise_dim=100, part_dim=32,
                 cond_dim=256, query_dim=64, feature_channels=32, text_background=True,
                 background_logit=0.0, **kwargs):
        super().__init__(**kwargs)
        self.image_size = int(image_size)
        self.part_size = self.image_size // 2 if part_size is None else int(part_size)
        self.nf, self.noise_dim, self.part_dim = int(nf), int(noise_dim), int(part_dim)
        self.cond_dim, self.query_dim = int(cond_dim), int(query_dim)
        self.feature_channels = int(feature_channels)
        self.text_background, self.background_logit = bool(text_background), float(
            background_logit)
        self.background = keras.layers.Dense(self.feature_channels, name="background")
        self.renderer = PartRenderer(self.image_size, self.part_size, self.nf,
                                     self.feature_channels, name="renderer")

    def make_part_generator(self, name):
        return SharedPartGenerator(self.part_size, self.nf, self.query_dim,
                                   self.feature_channels, name=name)

    def build_parts(self):
        """Builds the family's part networks (called by ``build``)."""
        raise NotImplementedError

    def build(self, *shapes):
        self.background.build((None, self.noise_dim + self.cond_dim * self.text_background))
        self.renderer.build((None, self.part_size, self.part_size, self.feature_channels))
        self.build_parts()
        self.built = True

    def part_maps(self, noise, parts, sentence, words, word_mask):
        """(features (B, K, h, w, C), mask logits float32 (B, K, h, w, 1), word attention
        float32 (B, K, T)) of the K parts."""
        raise NotImplementedError

    def call(self, noise, parts, sentence, words, word_mask, training=None):
        sentence = ops.cast(sentence, noise.dtype)
        features, logits, attention = self.part_maps(noise, parts, sentence, words, word_mask)
        scene = ops.concatenate([noise, sentence], axis=-1) if self.text_background else noise
        fused, masks = compose(features, logits, self.background(scene), self.background_logit)
        return {"images": [self.renderer(fused)], "masks": masks, "attention": attention}

    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size,
                "part_size": self.part_size, "nf": self.nf, "noise_dim": self.noise_dim,
                "part_dim": self.part_dim, "cond_dim": self.cond_dim,
                "query_dim": self.query_dim, "feature_channels": self.feature_channels,
                "text_background": self.text_background,
                "background_logit": self.background_logit}


@keras.saving.register_keras_serializable(package="keras_t2i")
class MemoryGANGenerator(PartSceneGenerator):
    """MemoryGAN's generator: for k = 1..K, the RNN emits q_k from the words, z_k and the
    feedback of part k − 1; the one shared part generator (the memory) returns (F_k, d_k) for
    q_k; its output is encoded as the feedback of step k + 1. Then the scene is composed and
    rendered (``PartSceneGenerator``). The same weights run any number of parts.

    Args:
        rnn_units: int. The RNN's state width. Defaults to 128.
        feedback_dim: int. The feedback's width. Defaults to 64.
        feedback: bool. False: no feedback (the ablation). Defaults to True.
        **kwargs: ``PartSceneGenerator``'s.
    """

    def __init__(self, image_size=64, part_size=None, nf=16, noise_dim=100, part_dim=32,
                 cond_dim=256, query_dim=64, feature_channels=32, rnn_units=128,
                 feedback_dim=64, feedback=True, **kwargs):
        super().__init__(image_size, part_size, nf, noise_dim, part_dim, cond_dim, query_dim,
                         feature_channels, **kwargs)
        self.rnn_units, self.feedback_dim = int(rnn_units), int(feedback_dim)
        self.feedback = bool(feedback)
        self.rnn = PartQueryRNN(self.rnn_units, self.query_dim, self.part_dim, self.noise_dim,
                                self.cond_dim, self.feature_channels, self.feedback_dim,
                                self.feedback, name="part_query_rnn")
        self.memory = self.make_part_generator("memory")
        self.build()

    def build_parts(self):
        self.rnn.build()
        self.memory.build((None, self.query_dim))

    def queries(self, noise, parts, sentence, words, word_mask):
        """Runs the query-and-feedback loop: (queries, memory outputs, attention), one per
        part: q_k (B, query_dim), (F_k, d_k), β_k (B, T)."""
        state = self.rnn.initial_state(sentence, noise)
        feedback = self.rnn.initial_feedback(ops.shape(noise)[0], noise.dtype)
        queries, outputs, attention = [], [], []
        for k in range(parts.shape[1]):
            query, state, beta = self.rnn(state, parts[:, k], words, word_mask, feedback)
            features, logit = self.memory(query)
            feedback = self.rnn.encode_feedback(features, logit)
            queries.append(query)
            outputs.append((features, logit))
            attention.append(beta)
        return queries, outputs, attention

    def part_maps(self, noise, parts, sentence, words, word_mask):
        _, outputs, attention = self.queries(noise, parts, sentence, words, word_mask)
        return (ops.stack([f for f, _ in outputs], axis=1),
                ops.stack([d for _, d in outputs], axis=1), ops.stack(attention, axis=1))

    def get_config(self):
        return {**super().get_config(), "rnn_units": self.rnn_units,
                "feedback_dim": self.feedback_dim, "feedback": self.feedback}
