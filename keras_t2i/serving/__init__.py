"""Serving exported models: load them locally, talk to TF Serving (or ``keras-t2i serve``)
over its gRPC API, and the compatible server itself (DESIGN §4.3; ``serving/README.md``).

``LocalModel`` and ``resolve_version_dir`` load on first use, so ``keras_t2i.serving.limits``
(the server's defaults, read by the CLI) imports without TensorFlow.
"""

__all__ = ["LocalModel", "resolve_version_dir"]


def __getattr__(name):
    if name in __all__:
        from keras_t2i.serving import savedmodel

        return getattr(savedmodel, name)
    raise AttributeError(f"module 'keras_t2i.serving' has no attribute {name!r}")
