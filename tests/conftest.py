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


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


@pytest.fixture(scope="session")
def encoder_dir(tmp_path_factory):
    """A tiny text/image encoder pair saved as `keras-t2i pretrain damsm` saves them."""
    from keras_t2i.data import caption_tokenizer
    from keras_t2i.text.damsm import DAMSMImageEncoder, DAMSMTextEncoder

    out = tmp_path_factory.mktemp("damsm")
    tok = caption_tokenizer("shapes", max_objects=1)
    DAMSMTextEncoder(tok, embedding_dim=8, units=8).save(out / "text_encoder.keras")
    DAMSMImageEncoder(feature_dim=16, width=4, input_size=16).save(out / "image_encoder.keras")
    return out


@pytest.fixture(scope="session")
def exported(tmp_path_factory, encoder_dir):
    """A tiny DF-GAN exported once (``base/1``), with its reference images from ``generate``.
    Tests that add or remove versions copy ``dir`` into a base path of their own."""
    from fixtures import CAPTIONS, SEEDS

    import keras_t2i as kt
    from keras_t2i.export import export_saved_model
    from keras_t2i.pretrain import load_encoders

    gan = kt.models.DFGAN(load_encoders(encoder_dir)[0], image_size=16, nf=4, max_batch=8)
    gan.compile()
    base = tmp_path_factory.mktemp("savedmodels") / "tiny"
    directory = export_saved_model(gan, base, preset="test")
    return {"gan": gan, "base": base, "dir": directory,
            "images": gan.generate(CAPTIONS, seeds=SEEDS)}
