"""The ``keras-t2i`` command hides TensorFlow's start-up noise (INFO/WARNING lines and the
benign no-GPU errors) and nothing else; ``--verbose`` or the user's own TF_CPP_MIN_LOG_LEVEL
shows it all."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from keras_t2i._quiet import is_benign

# Lines TF 2.21 printed on every command on this CPU machine before the filter.
SEEN = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796192239.949086    3686 port.cc:153] oneDNN custom operations are on. You "
    "may see slightly different numerical results due to floating-point round-off errors.",
    "I0000 00:00:1796192239.949571    3686 cudart_stub.cc:31] Could not find cuda drivers on "
    "your machine, GPU will not be used.",
    "I0000 00:00:1796192204.988310    5707 cpu_feature_guard.cc:227] This TensorFlow binary is "
    "optimized to use available CPU instructions in performance-critical operations.",
    "To enable the following instructions: AVX2 AVX512F AVX512_VNNI AVX512_BF16 FMA, in other "
    "operations, rebuild TensorFlow with the appropriate compiler flags.",
    "E0000 00:00:1796192243.646721    3686 cuda_platform.cc:52] failed call to cuInit: "
    "INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)",
    "E0000 00:00:1796192250.366896    3686 util.cc:131] oneDNN supports DT_BOOL only on "
    "platforms with AVX-512. Falling back to the default Eigen-based implementation if present.",
    "W0000 00:00:1796192250.366896    3686 some_op.cc:10] a TensorFlow warning",
]
KEPT = [
    "E0000 00:00:1796192250.366896    3686 op_kernel.cc:1830] OP_REQUIRES failed at "
    "conv_ops.cc:12 : RESOURCE_EXHAUSTED: OOM when allocating tensor",
    "F0000 00:00:1796192250.366896    3686 check.cc:1] Check failed: x == y",
    "Traceback (most recent call last):",
    "keras-t2i generate: error: No SavedModel under /tmp/x",
    "UserWarning: something from Python",
]


def test_only_tensorflow_noise_is_hidden():
    assert all(is_benign(line.encode()) for line in SEEN)
    assert not any(is_benign(line.encode()) for line in KEPT)


def _command():
    script = Path(sys.executable).with_name("keras-t2i")
    assert script.is_file(), f"the console script {script} is installed with the package"
    return str(script)


def _tf_lines(text):
    return [line for line in text.splitlines() if is_benign(line.encode())]


@pytest.mark.slow
def test_the_command_is_quiet_unless_verbose(exported, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    argv = [_command(), "generate", "a red circle", "--model", str(exported["base"]),
            "--out", str(tmp_path / "x.png")]
    quiet = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    assert quiet.returncode == 0, quiet.stderr
    assert _tf_lines(quiet.stderr) == [], quiet.stderr
    assert "Wrote" in quiet.stdout
    loud = subprocess.run(argv + ["--verbose"], capture_output=True, text=True, env=env,
                          timeout=300)
    assert loud.returncode == 0 and _tf_lines(loud.stderr), loud.stderr
    mine = subprocess.run(argv, capture_output=True, text=True,
                          env=dict(env, TF_CPP_MIN_LOG_LEVEL="0"), timeout=300)
    assert _tf_lines(mine.stderr), "a TF_CPP_MIN_LOG_LEVEL of the user's own turns it off"
    # Errors still come through the filter, whole.
    bad = subprocess.run(argv[:3] + ["--model", str(tmp_path / "none"), "--out", "x.png"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert bad.returncode == 1
    assert bad.stderr.strip() == (f"keras-t2i generate: error: No SavedModel under "
                                  f"{tmp_path / 'none'}: expected {tmp_path / 'none'}/<version>/"
                                  "saved_model.pb (export one with `keras-t2i export --run "
                                  "runs/NAME`).")
