"""A client of TF Serving's gRPC API for exported text-to-image models.

It speaks ``tensorflow.serving.PredictionService`` and ``ModelService`` through the stubs of
``tensorflow-serving-api``, so the same client works against TF Serving and ``keras-t2i serve``.

Example:
>>> with Client("127.0.0.1:8500", "dfgan_shapes_64") as client:
...     images = client.generate(["a red circle in the center"], seeds=[0])  # uint8 (1, S, S, 3)
...     client.check_words(["a gren circle"])  # words outside the vocabulary:
...     # [{"caption": 0, "word": "gren", "suggestion": "green"}]
...     client.status()    # [{"version": 1, "state": "AVAILABLE", ...}]
"""

from __future__ import annotations

import time

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import wrappers_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from keras_t2i.serving.layout import (
    IMAGES_SIGNATURE,
    PNG_SIGNATURE,
    TOKENIZE_SIGNATURE,
    unknown_word_report,
)

# Image batches outgrow gRPC's default 4 MiB receive limit (ecosystem.md §4).
MAX_MESSAGE_BYTES = 256 << 20
RETRIED_CODES = (grpc.StatusCode.UNAVAILABLE,)


class ServingError(RuntimeError):
    """A failed call: ``code`` is the gRPC status code, ``details`` the server's message."""

    def __init__(self, what, target, code, details):
        self.code = code
        self.details = details
        super().__init__(f"{what} at {target} failed: {code.name}: {details}")


class Client:
    """Calls one served model.

    Args:
        target: str. ``HOST:PORT`` of the gRPC endpoint (8500 by default in TF Serving).
        model_name: str. The name the server serves the model under.
        version: int. A specific version; defaults to the latest the server has.
        timeout: float. Deadline of each call in seconds. Defaults to 60.
        retries: int. Extra attempts when the server is UNAVAILABLE (starting up, restarting);
            no other error is retried. Defaults to 3, with exponential backoff from
            ``backoff`` seconds, at most ``max_backoff`` seconds apart.
        backoff: float. Defaults to 0.5.
        max_backoff: float. Defaults to 8.
        max_message_bytes: int. gRPC send/receive limit. Defaults to 256 MiB.
    """

    def __init__(self, target, model_name, *, version=None, timeout=60.0, retries=3,
                 backoff=0.5, max_backoff=8.0, max_message_bytes=MAX_MESSAGE_BYTES):
        self.target = target
        self.model_name = model_name
        self.version = version
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.channel = grpc.insecure_channel(target, options=[
            ("grpc.max_send_message_length", int(max_message_bytes)),
            ("grpc.max_receive_message_length", int(max_message_bytes))])
        self.predictions = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)
        self.models = model_service_pb2_grpc.ModelServiceStub(self.channel)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.channel.close()

    def _spec(self, spec, signature=None):
        spec.name = self.model_name
        if self.version is not None:
            spec.version.CopyFrom(wrappers_pb2.Int64Value(value=int(self.version)))
        if signature is not None:
            spec.signature_name = signature

    def _call(self, what, method, request):
        for attempt in range(self.retries + 1):
            try:
                return method(request, timeout=self.timeout)
            except grpc.RpcError as err:
                if err.code() in RETRIED_CODES and attempt < self.retries:
                    time.sleep(min(self.max_backoff, self.backoff * 2 ** attempt))
                    continue
                raise ServingError(what, self.target, err.code(), err.details()) from None
        raise AssertionError("unreachable")

    def predict(self, signature, captions, seeds=None, output_filter=()) -> dict:
        """Runs ``signature`` on captions and (for the signatures that take them) one seed
        per caption; outputs as numpy arrays."""
        captions = [captions] if isinstance(captions, str) else list(captions)
        request = predict_pb2.PredictRequest()
        self._spec(request.model_spec, signature)
        request.inputs["captions"].CopyFrom(tf.make_tensor_proto(captions, dtype=tf.string,
                                                                 shape=[len(captions)]))
        if seeds is not None:
            seeds = np.asarray(seeds, np.int64).reshape(-1)
            request.inputs["seeds"].CopyFrom(tf.make_tensor_proto(seeds, dtype=tf.int64))
        request.output_filter.extend(output_filter)
        response = self._call(f"Predict({self.model_name}, {signature})",
                              self.predictions.Predict, request)
        return {k: tf.make_ndarray(v) for k, v in response.outputs.items()}

    def generate(self, captions, seeds) -> np.ndarray:
        """uint8 images (B, S, S, 3), one per caption, from the ``serving_default`` signature."""
        return self.predict(IMAGES_SIGNATURE, captions, seeds)["images"]

    def generate_png(self, captions, seeds) -> list[bytes]:
        """One PNG file (bytes) per caption, from the ``generate_png`` signature."""
        return list(self.predict(PNG_SIGNATURE, captions, seeds)["png"])

    def check_words(self, captions) -> list[dict]:
        """The captions' words outside the served model's vocabulary, with the nearest known
        word: ``[{"caption": i, "word": w, "suggestion": s or None}]``, from the ``tokenize``
        signature (exports made before it have none: the server answers FAILED_PRECONDITION,
        raised as ServingError)."""
        outputs = self.predict(TOKENIZE_SIGNATURE, captions,
                               output_filter=("unknown_words", "suggestions"))
        return unknown_word_report(outputs["unknown_words"], outputs["suggestions"])

    def status(self) -> list[dict]:
        """The served versions: ``version``, ``state`` (e.g. ``AVAILABLE``), ``error_code``,
        ``error_message``."""
        request = get_model_status_pb2.GetModelStatusRequest()
        self._spec(request.model_spec)
        response = self._call(f"GetModelStatus({self.model_name})",
                              self.models.GetModelStatus, request)
        states = get_model_status_pb2.ModelVersionStatus.State
        return [{"version": s.version, "state": states.Name(s.state),
                 "error_code": s.status.error_code, "error_message": s.status.error_message}
                for s in response.model_version_status]

    def metadata(self) -> dict:
        """The served version and its signatures: ``{"version": int, "signatures": {name:
        {"inputs": {key: (dtype, shape)}, "outputs": {...}}}}``."""
        request = get_model_metadata_pb2.GetModelMetadataRequest()
        self._spec(request.model_spec)
        request.metadata_field.append("signature_def")
        response = self._call(f"GetModelMetadata({self.model_name})",
                              self.predictions.GetModelMetadata, request)
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(signature_map)

        def tensors(infos):
            return {key: (tf.dtypes.as_dtype(info.dtype).name,
                          [d.size for d in info.tensor_shape.dim])
                    for key, info in infos.items()}

        return {"version": response.model_spec.version.value,
                "signatures": {name: {"inputs": tensors(sig.inputs),
                                      "outputs": tensors(sig.outputs)}
                               for name, sig in signature_map.signature_def.items()
                               if not name.startswith("__")}}
