"""Checks that Keras runs on TensorFlow (DESIGN §1).

``keras_t2i/__init__`` sets ``KERAS_BACKEND=tensorflow`` when unset, before any submodule can
import Keras; this module, imported by every submodule that uses Keras or TensorFlow, fails
clearly if Keras was nevertheless started on another backend.
"""

import keras

if keras.backend.backend() != "tensorflow":
    raise ImportError(
        "keras_t2i needs the TensorFlow backend of Keras, but Keras runs on "
        f"{keras.backend.backend()!r}. Set KERAS_BACKEND=tensorflow (or unset it) before "
        "importing keras or keras_t2i."
    )
