"""Text side: caption tokenizer and the DAMSM text/image encoders."""
from keras_t2i import _backend  # noqa: F401  (TensorFlow backend before keras)
from keras_t2i.text.damsm import DAMSM, DAMSMImageEncoder, DAMSMTextEncoder
from keras_t2i.text.tokenizer import CaptionTokenizer, build_vocabulary, split_words

__all__ = ["DAMSM", "CaptionTokenizer", "DAMSMImageEncoder", "DAMSMTextEncoder",
           "build_vocabulary", "split_words"]
