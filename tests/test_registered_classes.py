"""Every class the package registers with Keras goes through the shared harness: a config
round trip through Keras' registry, an eager call and a call of the deserialised clone, with
the output shapes and dtypes checked. The classes are found in Keras' registry, so a new
class without an entry here fails the first test."""

import importlib
import pkgutil

import keras
import numpy as np
import pytest
import tensorflow as tf
from harness import run_call_checks

import keras_t2i
import keras_t2i as kt
from keras_t2i.models import cascade, dm_gan, memory_gan, mirror_gan


def _registered() -> set[str]:
    for info in pkgutil.walk_packages(keras_t2i.__path__, "keras_t2i."):
        importlib.import_module(info.name)
    return {key.split(">", 1)[1] for key in keras.saving.get_custom_objects()
            if key.startswith("keras_t2i>")}


def _tokenizer():
    return kt.data.caption_tokenizer("shapes", max_objects=1)


def _text_encoder():
    return kt.text.DAMSMTextEncoder(_tokenizer(), embedding_dim=8, units=8)


def _image_encoder():
    return kt.text.DAMSMImageEncoder(feature_dim=16, width=4, input_size=16)


RNG = np.random.default_rng(0)


def _captioner():
    return mirror_gan.STREAMCaptioner(_tokenizer(), feature_dim=8, units=8, width=4,
                                      input_size=16)


def _normal(*shape):
    return tf.constant(RNG.normal(size=shape).astype("float32"))


def _tokens(n=2):
    return _tokenizer()(tf.constant(["a big red circle in the center", "a small cyan star"][:n]))


def _cases():
    """name → (layer, positional inputs, expected output structure of (shape, dtype))."""
    words = _tokenizer().max_words
    return {
        "CaptionTokenizer": lambda: (_tokenizer(), (tf.constant(["a red circle", "a cross"]),),
                                     ((2, words), "int32")),
        "DAMSMTextEncoder": lambda: (_text_encoder(), (_tokens(),),
                                     (((2, words, 16), "float32"), ((2, 16), "float32"))),
        "DAMSMImageEncoder": lambda: (_image_encoder(), (_normal(2, 16, 16, 3),),
                                      (((2, 2, 2, 16), "float32"), ((2, 16), "float32"))),
        "DAMSM": lambda: (kt.text.DAMSM(_text_encoder(), _image_encoder()),
                          ({"tokens": _tokens(), "image": _normal(2, 16, 16, 3)},),
                          {"image_global": ((2, 16), "float32"),
                           "regions": ((2, 2, 2, 16), "float32"),
                           "sentence": ((2, 16), "float32"),
                           "words": ((2, words, 16), "float32")}),
        "ShapesOracle": lambda: (kt.metrics.shapes_oracle.ShapesOracle(width=4),
                                 (_normal(2, 64, 64, 3),),
                                 {"color": ((2, 9, 8), "float32"),
                                  "occupied": ((2, 9), "float32"),
                                  "shape": ((2, 9, 6), "float32"),
                                  "size": ((2, 9, 2), "float32")}),
        "Affine": lambda: (kt.layers.Affine(4), (_normal(2, 3, 3, 4), _normal(2, 6)),
                           ((2, 3, 3, 4), "float32")),
        "DiffAugment": lambda: (kt.layers.DiffAugment(0.25, 0.5),
                                (_normal(2, 8, 8, 3), tf.random.uniform((2, 4))),
                                ((2, 8, 8, 3), "float32")),
        "ZCAWhitening": lambda: (kt.layers.ZCAWhitening(6, 1e-3), (_normal(2, 6),),
                                 ((2, 6), "float32")),
        "DFBlock": lambda: (kt.models.df_gan.DFBlock(4), (_normal(2, 3, 3, 4), _normal(2, 6)),
                            ((2, 3, 3, 4), "float32")),
        "UpBlock": lambda: (kt.models.df_gan.UpBlock(4, 2), (_normal(2, 3, 3, 4), _normal(2, 6)),
                            ((2, 6, 6, 2), "float32")),
        "DownBlock": lambda: (kt.models.df_gan.DownBlock(2, 4), (_normal(2, 8, 8, 2),),
                              ((2, 4, 4, 4), "float32")),
        "DFGANGenerator": lambda: (kt.models.DFGANGenerator(16, nf=4, noise_dim=10, cond_dim=6),
                                   (_normal(2, 10), _normal(2, 6)),
                                   ((2, 16, 16, 3), "float32")),
        "DFGANDiscriminator": lambda: (kt.models.DFGANDiscriminator(16, nf=4, cond_dim=6),
                                       (_normal(2, 16, 16, 3), _normal(2, 6)),
                                       ((2,), "float32")),
        "SpectralConv2D": lambda: (kt.layers.SpectralConv2D(3, 3, padding="same"),
                                   (_normal(2, 5, 5, 2),), ((2, 5, 5, 3), "float32")),
        "ConditioningAugmentation": lambda: (
            kt.layers.ConditioningAugmentation(3), (_normal(2, 6), _normal(2, 3)),
            (((2, 3), "float32"), ((2, 3), "float32"), ((2, 3), "float32"))),
        "GLUUpBlock": lambda: (kt.layers.GLUUpBlock(2), (_normal(2, 3, 3, 4),),
                               ((2, 6, 6, 2), "float32")),
        "GLUResBlock": lambda: (kt.layers.GLUResBlock(4), (_normal(2, 3, 3, 4),),
                                ((2, 3, 3, 4), "float32")),
        "InitialStage": lambda: (cascade.InitialStage(2, size=16), (_normal(2, 3), _normal(2, 5)),
                                 ((2, 16, 16, 2), "float32")),
        "ImageHead": lambda: (cascade.ImageHead(), (_normal(2, 4, 4, 2),),
                              ((2, 4, 4, 3), "float32")),
        "StageDiscriminator": lambda: (cascade.StageDiscriminator(32, ndf=2, cond_dim=6),
                                       (_normal(2, 32, 32, 3), _normal(2, 6)),
                                       (((2,), "float32"), ((2,), "float32"))),
        "DynamicMemory": lambda: (dm_gan.DynamicMemory(2, word_dim=6),
                                  (_normal(2, 3, 3, 2), _normal(2, 4, 6),
                                   tf.constant([[True, True, False, False]] * 2)),
                                  (((2, 3, 3, 2), "float32"), ((2, 9, 4), "float32"))),
        "MemoryRefinementStage": lambda: (
            dm_gan.MemoryRefinementStage(2, r_num=1, word_dim=6, condition_dim=3),
            (_normal(2, 4, 4, 2), _normal(2, 4, 6), tf.constant([[True, True, True, False]] * 2),
             _normal(2, 3)),
            (((2, 8, 8, 2), "float32"), ((2, 16, 4), "float32"))),
        "DMGANGenerator": lambda: (
            kt.models.DMGANGenerator(64, stages=2, gf_dim=2, r_num=1, noise_dim=5,
                                     condition_dim=3, cond_dim=6),
            (_normal(2, 5), _normal(2, 3), _normal(2, 6), _normal(2, 4, 6),
             tf.constant([[True, True, True, False]] * 2)),
            {"images": [((2, 32, 32, 3), "float32"), ((2, 64, 64, 3), "float32")],
             "mu": ((2, 3), "float32"), "logvar": ((2, 3), "float32"),
             "attention": [((2, 32 * 32, 4), "float32")]}),
        "DMGAN": lambda: (kt.models.DMGAN(_text_encoder(), image_size=64, stages=2, gf_dim=2,
                                          df_dim=2, r_num=1),
                          ({"tokens": _tokens(),
                            "latents": {"noise": _normal(2, 100),
                                        "condition": _normal(2, 100)}},),
                          ((2, 64, 64, 3), "float32")),
        "WordAttention": lambda: (kt.layers.WordAttention(2, word_dim=6),
                                  (_normal(2, 3, 3, 2), _normal(2, 4, 6),
                                   tf.constant([[True, True, False, False]] * 2)),
                                  (((2, 3, 3, 2), "float32"), ((2, 9, 4), "float32"))),
        "SentenceAttention": lambda: (mirror_gan.SentenceAttention(2, condition_dim=3),
                                      (_normal(2, 3, 3, 2), _normal(2, 3)),
                                      (((2, 3, 3, 2), "float32"), ((2, 3, 3, 2), "float32"))),
        "GLAMStage": lambda: (
            mirror_gan.GLAMStage(2, r_num=1, word_dim=6, condition_dim=3),
            (_normal(2, 4, 4, 2), _normal(2, 4, 6), tf.constant([[True, True, True, False]] * 2),
             _normal(2, 3)),
            (((2, 8, 8, 2), "float32"), ((2, 16, 4), "float32"))),
        "MirrorGANGenerator": lambda: (
            kt.models.MirrorGANGenerator(64, stages=2, gf_dim=2, r_num=1, noise_dim=5,
                                         condition_dim=3, cond_dim=6),
            (_normal(2, 5), _normal(2, 3), _normal(2, 6), _normal(2, 4, 6),
             tf.constant([[True, True, True, False]] * 2)),
            {"images": [((2, 32, 32, 3), "float32"), ((2, 64, 64, 3), "float32")],
             "mu": ((2, 3), "float32"), "logvar": ((2, 3), "float32"),
             "attention": [((2, 32 * 32, 4), "float32")]}),
        "MirrorGAN": lambda: (kt.models.MirrorGAN(_text_encoder(), _captioner(), image_size=64,
                                                  stages=2, gf_dim=2, df_dim=2, r_num=1),
                              ({"tokens": _tokens(),
                                "latents": {"noise": _normal(2, 100),
                                            "condition": _normal(2, 100)}},),
                              ((2, 64, 64, 3), "float32")),
        "STREAMCaptioner": lambda: (
            _captioner(), (_normal(2, 16, 16, 3), _tokens()),
            ((2, words, _tokenizer().vocabulary_size()), "float32")),
        "TorchLSTMCell": lambda: (mirror_gan.TorchLSTMCell(4),
                                  (_normal(2, 3), [_normal(2, 4), _normal(2, 4)]),
                                  (((2, 4), "float32"), [((2, 4), "float32"),
                                                         ((2, 4), "float32")])),
        "PartQueryRNN": lambda: (
            memory_gan.PartQueryRNN(units=6, query_dim=5, part_dim=3, noise_dim=4, word_dim=6,
                                    feature_channels=2, feedback_dim=3),
            (_normal(2, 6), _normal(2, 3), _normal(2, 4, 6),
             tf.constant([[True, True, True, False]] * 2), _normal(2, 3)),
            (((2, 5), "float32"), ((2, 6), "float32"), ((2, 4), "float32"))),
        "SharedPartGenerator": lambda: (
            memory_gan.SharedPartGenerator(part_size=8, nf=2, query_dim=5, feature_channels=3),
            (_normal(2, 5),), (((2, 8, 8, 3), "float32"), ((2, 8, 8, 1), "float32"))),
        "PartRenderer": lambda: (memory_gan.PartRenderer(16, 8, nf=2, feature_channels=3),
                                 (_normal(2, 8, 8, 3),), ((2, 16, 16, 3), "float32")),
        "StaticPartQuery": lambda: (
            memory_gan.StaticPartQuery(units=6, query_dim=5, part_dim=3, word_dim=6),
            (_normal(2, 3), _normal(2, 6), _normal(2, 4, 6),
             tf.constant([[True, True, True, False]] * 2)),
            (((2, 5), "float32"), ((2, 4), "float32"))),
        "MemoryGANGenerator": lambda: (
            memory_gan.MemoryGANGenerator(16, nf=2, noise_dim=4, part_dim=3, cond_dim=6,
                                          query_dim=5, feature_channels=3, rnn_units=6,
                                          feedback_dim=3),
            (_normal(2, 4), _normal(2, 3, 3), _normal(2, 6), _normal(2, 4, 6),
             tf.constant([[True, True, True, False]] * 2)),
            {"images": [((2, 16, 16, 3), "float32")], "masks": ((2, 8, 8, 4), "float32"),
             "attention": ((2, 3, 4), "float32")}),
        "MultiPartGenerator": lambda: (
            memory_gan.MultiPartGenerator(16, nf=2, noise_dim=4, part_dim=3, cond_dim=6,
                                          query_dim=5, feature_channels=3, num_parts=3,
                                          query_units=6),
            (_normal(2, 4), _normal(2, 3, 3), _normal(2, 6), _normal(2, 4, 6),
             tf.constant([[True, True, True, False]] * 2)),
            {"images": [((2, 16, 16, 3), "float32")], "masks": ((2, 8, 8, 4), "float32"),
             "attention": ((2, 3, 4), "float32")}),
        "MemoryGAN": lambda: (kt.models.MemoryGAN(_text_encoder(), image_size=16, nf=2,
                                                  num_parts=2, part_dim=3),
                              ({"tokens": _tokens(),
                                "latents": {"noise": _normal(2, 100), "part_0": _normal(2, 3),
                                            "part_1": _normal(2, 3)}},),
                              ((2, 16, 16, 3), "float32")),
        "MultiPartGAN": lambda: (kt.models.MultiPartGAN(_text_encoder(), image_size=16, nf=2,
                                                        num_parts=2, part_dim=3),
                                 ({"tokens": _tokens(),
                                   "latents": {"noise": _normal(2, 100),
                                               "part_0": _normal(2, 3),
                                               "part_1": _normal(2, 3)}},),
                                 ((2, 16, 16, 3), "float32")),
        "ProjectedDiscriminator": lambda: (
            kt.models.ProjectedDiscriminator([(8, 8, 3), (4, 4, 5)], cond_dim=6, width=4),
            ([_normal(2, 8, 8, 3), _normal(2, 4, 4, 5)], _normal(2, 6)), ((2, 2), "float32")),
        "DFGAN": lambda: (kt.models.DFGAN(_text_encoder(), image_size=16, nf=4),
                          ({"tokens": _tokens(),
                            "latents": {"noise": _normal(2, 100)}},),
                          ((2, 16, 16, 3), "float32")),
    }


def test_every_registered_class_has_a_harness_case():
    assert _registered() == set(_cases()), "register a harness case for each new class"


@pytest.mark.parametrize("name", sorted(_cases()))
def test_registered_class_passes_the_harness(name):
    layer, inputs, expected = _cases()[name]()
    run_call_checks(layer, inputs, expected)
