"""Serving exported models: load them locally, talk to TF Serving (or ``keras-t2i serve``)
over its gRPC API, and the compatible server itself (DESIGN §4.3; ``serving/README.md``)."""

from keras_t2i.serving.savedmodel import LocalModel, resolve_version_dir

__all__ = ["LocalModel", "resolve_version_dir"]
