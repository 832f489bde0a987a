import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).parent))

import keras  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

# Two logical CPUs for the tf.distribute tests; must happen before TensorFlow picks devices.
_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    _cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])


@pytest.fixture(scope="session")
def mirrored_strategy():
    """One MirroredStrategy over the two logical CPUs for the whole session: a second one in
    the same process can reuse the first one's collective instance keys, and its all-reduces
    then abort on a shape mismatch with the first one's."""
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert strategy.num_replicas_in_sync == 2
    return strategy


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


def _tiny_encoders(out, max_objects):
    """A tiny text/image encoder pair saved in ``out`` as `keras-t2i pretrain damsm` saves
    them, the tokenizer fitting Shapes captions of ``max_objects`` objects."""
    from keras_t2i.data import caption_tokenizer
    from keras_t2i.text.damsm import DAMSMImageEncoder, DAMSMTextEncoder

    tok = caption_tokenizer("shapes", max_objects=max_objects)
    DAMSMTextEncoder(tok, embedding_dim=8, units=8).save(out / "text_encoder.keras")
    DAMSMImageEncoder(feature_dim=16, width=4, input_size=16).save(out / "image_encoder.keras")
    return out


@pytest.fixture(scope="session")
def encoder_dir(tmp_path_factory):
    """Tiny encoders for single-object Shapes."""
    return _tiny_encoders(tmp_path_factory.mktemp("damsm"), max_objects=1)


@pytest.fixture(scope="session")
def scene_encoder_dir(tmp_path_factory):
    """Tiny encoders whose tokenizer fits captions of four objects (the part models)."""
    return _tiny_encoders(tmp_path_factory.mktemp("scene_damsm"), max_objects=4)


@pytest.fixture(scope="session")
def captioner_dir(tmp_path_factory, encoder_dir):
    """A tiny STREAM captioner in the encoders' vocabulary, saved as `keras-t2i pretrain
    captioner` saves it."""
    from keras_t2i.models.mirror_gan import STREAMCaptioner
    from keras_t2i.text.damsm import load_encoders

    out = tmp_path_factory.mktemp("captioner")
    STREAMCaptioner(load_encoders(encoder_dir)[0].tokenizer, feature_dim=8, units=8, width=4,
                    input_size=16).save(out / "captioner.keras")
    return out


@pytest.fixture(scope="session")
def exported(tmp_path_factory, encoder_dir):
    """A tiny DF-GAN exported once (``base/1``), with its reference images from ``generate``.
    Tests that add or remove versions copy ``dir`` into a base path of their own.

    Its Affine layers are perturbed: an untrained DF-GAN ignores its caption (each Affine
    starts as the identity, and an untrained text encoder's sentence vectors are ~0.01), so
    without this a test could not tell one caption's image from another's, nor catch captions
    swapped within a batch. The output layers get random weights, and the hidden layers' rows
    that read the sentence (the last ``cond_dim`` of the condition) are scaled up 100×."""
    import numpy as np
    from fixtures import CAPTIONS, SEEDS

    import keras_t2i as kt
    from keras_t2i.export import export_saved_model
    from keras_t2i.layers import Affine
    from keras_t2i.text.damsm import load_encoders

    gan = kt.models.DFGAN(load_encoders(encoder_dir)[0], image_size=16, nf=4, max_batch=8)
    gan.compile()
    rng = np.random.default_rng(7)
    cond_dim = gan.generator.cond_dim
    for layer in gan.generator._flatten_layers():
        if isinstance(layer, Affine):
            for dense in (layer.gamma_out, layer.beta_out):
                dense.kernel.assign(rng.normal(0.0, 0.5, dense.kernel.shape).astype("float32"))
            for dense in (layer.gamma_hidden, layer.beta_hidden):
                kernel = dense.kernel.numpy()
                kernel[-cond_dim:] *= 100.0
                dense.kernel.assign(kernel)
    base = tmp_path_factory.mktemp("savedmodels") / "tiny"
    directory = export_saved_model(gan, base, preset="test",
                                   data={"name": "shapes", "options": {"max_objects": 1},
                                         "image_size": 16})
    return {"gan": gan, "base": base, "dir": directory,
            "images": gan.generate(CAPTIONS, seeds=SEEDS)}
