"""MemoryGAN (Wang, Peng, Liu, Electronics 12(13):2927, 2023): compositional text-to-image
synthesis with one generator shared by every part as their memory, queried by an RNN with
feedback (seeds.md §6).

No code of the paper is public and only its abstract and introduction are known here, so the
networks, the composition and the losses below are this package's design around the paper's
three stated elements (a single shared generator holding all parts' information; an RNN that
models the parts' dependency and provides each part's query code; a query-and-feedback
mechanism), not a port. The choices, each in the module that makes it:

- parts: K part slots, each with its own latent code z_k drawn from the seed; a slot draws an
  object or nothing (its mask can lose to the background everywhere). K is a constructor
  argument and can grow after training (``with_num_parts``): the RNN just runs more steps.
- the query: ``PartQueryRNN``, a GRU whose step attends over the caption's words from its
  state, reads z_k and the feedback, and emits q_k;
- the feedback: what the memory returned for the previous part (its masked mean features and
  its mask on a 4×4 grid), encoded into the next step's input;
- the memory: ``SharedPartGenerator``, DF-GAN's generator body conditioned on q_k, giving a
  feature map and a mask logit (pseudo-depth) per part at half the image size;
- composition: SemanticStyleGAN's softmax over pseudo-depths with a background part, then a
  small local renderer (``compositor``);
- adversarial training: DF-GAN's discriminator on the whole image with the sentence, its
  hinge loss with mismatched pairs and MA-GP (this class is a DF-GAN with another generator),
  plus two optional mask regularisers (the masks' entropy; a coverage prior per part) and
  every option of the base.
"""

from __future__ import annotations

import keras
from keras import ops

from keras_t2i import _backend  # noqa: F401
from keras_t2i.models.df_gan.df_gan import DFGAN
from keras_t2i.models.loss_terms import MaskEntropyTerm, PartAreaTerm
from keras_t2i.models.memory_gan.memory_gan_generator import MemoryGANGenerator
from keras_t2i.models.memory_gan.memory_gan_presets import PRESETS


class PartGAN(DFGAN):
    """DF-GAN's discriminator and losses around a generator that composes K parts (the base of
    ``MemoryGAN`` and the ``MultiPartGAN`` baseline).

    Latents: ``noise`` (z, the scene's code: background and the RNN's start) and one
    ``part_k`` code per part, all from the seed, so a caption and seed give the same scene in
    any batch. Mode seeking divides by the distance of all of them. The generator's output
    carries the part masks (``masks``, background first) and each part's word attention.

    Args:
        text_encoder: DAMSMTextEncoder, pretrained.
        image_size: int. Defaults to 64.
        nf: int. Width of D, the part generator(s) and the renderer. Defaults to 16.
        num_parts: int. K. Defaults to 3.
        part_dim: int. z_k's width. Defaults to 32.
        query_dim: int. A part query's width. Defaults to 64.
        feature_channels: int. The part features' channels. Defaults to 32.
        part_size: int or None. The side of the part maps; None: image_size / 2.
        mask_entropy_weight: float. λ of the mask-entropy regulariser (``MaskEntropyTerm``;
            tracked as ``mask_entropy``). 0, the default, turns it off.
        part_area_weight: float. λ of the coverage prior per part (``PartAreaTerm``;
            tracked as ``part_area``): a part pays for what it holds beyond
            ``max_part_area`` of the image. 0, the default, turns it off.
        max_part_area: float in (0, 1]. The share of the image a part holds for free.
            Defaults to 0.25 (a big Shapes object with its margin is about a tenth).
        text_background: bool. The background's features read the sentence (True, the
            default) or only z (False: every captioned object must come from a part).
        background_logit: float. The background's constant pseudo-depth; above 0, parts start
            behind it and must win their pixels. Defaults to 0.
        **kwargs: DF-GAN's (``noise_dim``, ``gp_weight``, ``gp_power``), the base's
            (``mode_seeking``, ``damsm_weight``, the fast-convergence options, ``ema_decay``,
            ``max_batch``) and Keras' (``name``).
    """

    def __init__(self, text_encoder, image_size=64, nf=16, num_parts=3, part_dim=32,
                 query_dim=64, feature_channels=32, part_size=None, mask_entropy_weight=0.0,
                 part_area_weight=0.0, max_part_area=0.25, text_background=True,
                 background_logit=0.0, **kwargs):
        type(self).check_options(num_parts=num_parts, part_dim=part_dim, query_dim=query_dim,
                                 feature_channels=feature_channels,
                                 mask_entropy_weight=mask_entropy_weight,
                                 part_area_weight=part_area_weight, max_part_area=max_part_area)
        self.num_parts, self.part_dim = int(num_parts), int(part_dim)
        self.query_dim, self.feature_channels = int(query_dim), int(feature_channels)
        self.part_size = None if part_size is None else int(part_size)
        self.mask_entropy_weight = float(mask_entropy_weight)
        self.part_area_weight, self.max_part_area = float(part_area_weight), float(
            max_part_area)
        self.text_background, self.background_logit = bool(text_background), float(
            background_logit)
        super().__init__(text_encoder, image_size=image_size, nf=nf, **kwargs)

    @classmethod
    def check_options(cls, **options):
        super().check_options(**options)
        for name in ("num_parts", "part_dim", "query_dim", "feature_channels"):
            if name in options and int(options[name]) < 1:
                raise ValueError(f"{name} must be >= 1, got {options[name]}")
        for name in ("mask_entropy_weight", "part_area_weight"):
            if float(options.get(name, 0.0)) < 0:
                raise ValueError(f"{name} must be >= 0, got {options[name]}")
        if not 0.0 < float(options.get("max_part_area", 0.25)) <= 1.0:
            raise ValueError(f"max_part_area must be in (0, 1], got {options['max_part_area']}")

    def generator_kwargs(self, noise_dim):
        """The constructor arguments both part generators share."""
        return {"image_size": self.image_size, "part_size": self.part_size, "nf": self.nf,
                "noise_dim": noise_dim, "part_dim": self.part_dim, "cond_dim": self.cond_dim,
                "query_dim": self.query_dim, "feature_channels": self.feature_channels,
                "text_background": self.text_background,
                "background_logit": self.background_logit}

    def build_loss_terms(self):
        terms = super().build_loss_terms()
        if self.mask_entropy_weight:
            terms.append(MaskEntropyTerm(self.mask_entropy_weight))
        if self.part_area_weight:
            terms.append(PartAreaTerm(self.part_area_weight, self.max_part_area))
        return terms

    def part_names(self) -> list[str]:
        return [f"part_{k}" for k in range(self.num_parts)]

    def latent_dims(self):
        # Part k's code is latent stream k + 1 whatever K is, so growing K keeps the codes of
        # the first parts.
        return {self.primary_latent: self.noise_dim,
                **{name: self.part_dim for name in self.part_names()}}

    def seeking_noise(self, latents):
        return ops.concatenate([latents[name] for name in self.latent_dims()], axis=-1)

    def generate_images(self, latents, text, training=None, generator=None):
        generator = self.generator if generator is None else generator
        parts = ops.stack([latents[name] for name in self.part_names()], axis=1)
        return generator(latents["noise"], parts, text["condition"], text["words"],
                         text["word_mask"], training=training)

    def generate_masks_from_tokens(self, tokens, seeds, truncation=None):
        """float32 part masks (B, part_size, part_size, K + 1), background first, for tokens
        (B, T) and seeds (B,) (the images' ``generate_from_tokens``)."""
        latents = self.latents_from_seeds(seeds, truncation)
        return self.generate_images(latents, self.encode_text(tokens), training=False,
                                    generator=self.inference_generator)["masks"]

    def generate_masks(self, captions, seed=0, seeds=None, truncation=None):
        """The part masks of ``generate``'s images: float32 numpy (B, part_size, part_size,
        K + 1), background first, summing to 1 per pixel."""
        tokens, seeds = self._check_request(captions, seed, seeds)
        return self.generate_masks_from_tokens(tokens, seeds, truncation).numpy()

    def get_config(self):
        return {**super().get_config(), "num_parts": self.num_parts,
                "part_dim": self.part_dim, "query_dim": self.query_dim,
                "feature_channels": self.feature_channels, "part_size": self.part_size,
                "mask_entropy_weight": self.mask_entropy_weight,
                "part_area_weight": self.part_area_weight,
                "max_part_area": self.max_part_area,
                "text_background": self.text_background,
                "background_logit": self.background_logit}


@keras.saving.register_keras_serializable(package="keras_t2i")
class MemoryGAN(PartGAN):
    """MemoryGAN: one shared part generator (the memory) queried by an RNN with feedback (see
    the module docstring for the design).

    Args:
        text_encoder: DAMSMTextEncoder, pretrained (``keras-t2i pretrain damsm``).
        rnn_units: int. The query RNN's state. Defaults to 128.
        feedback_dim: int. Defaults to 64.
        feedback: bool. False: the RNN gets no feedback (the ablation). Defaults to True.
        **kwargs: ``PartGAN``'s (``image_size``, ``nf``, ``num_parts``, ``part_dim``, …).

    Example:
    >>> gan = kt.models.MemoryGAN(text_encoder, image_size=64, num_parts=3)
    >>> gan.compile()   # DF-GAN's Adam G 1e-4, D 4e-4, betas (0, 0.9)
    >>> gan.generate(["a red circle on the left and a blue square on the right"], seed=0)
    >>> gan.generate_masks(["a red circle on the left and a blue square on the right"])
    >>> gan.with_num_parts(4)   # the same weights, one more RNN step

    Reference: Wang, Peng, Liu, MemoryGAN: GAN Generator as Heterogeneous Memory for
    Compositional Image Synthesis, Electronics 12(13):2927, 2023 (the idea; the design is
    this package's).
    """

    PRESETS = PRESETS

    def __init__(self, text_encoder, rnn_units=128, feedback_dim=64, feedback=True,
                 **kwargs):
        self.rnn_units, self.feedback_dim = int(rnn_units), int(feedback_dim)
        self.feedback = bool(feedback)
        super().__init__(text_encoder, **kwargs)

    def make_generator(self, noise_dim):
        return MemoryGANGenerator(**self.generator_kwargs(noise_dim),
                                  rnn_units=self.rnn_units, feedback_dim=self.feedback_dim,
                                  feedback=self.feedback, name="generator")

    def with_num_parts(self, num_parts):
        """The same model (weights, encoders, optimizers' config aside) running ``num_parts``
        RNN steps: the shared memory and the RNN do not depend on K."""
        config = {**self.get_config(), "num_parts": int(num_parts)}
        model = type(self).from_config(config)
        model.set_weights(self.get_weights())
        return model

    def get_config(self):
        return {**super().get_config(), "rnn_units": self.rnn_units,
                "feedback_dim": self.feedback_dim, "feedback": self.feedback}
