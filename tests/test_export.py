"""Export: the frame-at-time module and the TF Serving SavedModel, checked against the Keras model."""


import numpy as np
import pytest
import tensorflow as tf

from export.frame_model import FrameModel
from export.savedmodel import export_savedmodel
from svgan_tf import summaries
from tests.tiny_models import tiny_generator


def _inputs(G, batch=2, frames=3):
    rng = np.random.default_rng(0)
    t = np.array([[0.0, 3.5, 17.25], [40.0, 41.0, 63.9]], np.float32)[:batch, :frames]
    z = rng.standard_normal((batch, G.z_dim)).astype(np.float32)
    motion_z = rng.standard_normal((batch, G.num_motion_tokens(t.max()), G.motion_z_dim)).astype(np.float32)
    return z, t, motion_z


@pytest.mark.parametrize("c_dim", [0, 2])
def test_savedmodel_signatures_match_keras(tmp_path, c_dim):
    G = tiny_generator(c_dim=c_dim)
    G.mapping.w_avg.assign(np.full(G.w_dim, 0.2, np.float32))
    z, t, motion_z = _inputs(G)
    c = [np.eye(2, dtype=np.float32)[[1, 0]]] if c_dim else []
    cond = dict(c=c[0]) if c_dim else {}
    path = export_savedmodel(G, str(tmp_path / "sky"), version=3, truncation_psi=0.7)
    assert path.endswith("/3") and sorted(p.name for p in tmp_path.joinpath("sky").iterdir()) == ["3"]
    loaded = tf.saved_model.load(path)
    assert set(loaded.signatures) == {"serving_default", "frame_at_time", "mapping"}
    # mapping
    w = loaded.signatures["mapping"](z=tf.constant(z), **{k: tf.constant(v) for k, v in cond.items()})["w"].numpy()
    np.testing.assert_allclose(w, G.mapping(z, c[0] if c_dim else None, truncation_psi=0.7)[:, 0].numpy(), atol=1e-6)
    # serving_default: whole videos, uint8
    frames = loaded.signatures["serving_default"](z=tf.constant(z), motion_z=tf.constant(motion_z), t=tf.constant(t),
                                                  **{k: tf.constant(v) for k, v in cond.items()})["frames"].numpy()
    keras_frames = G(z, t, motion_z, truncation_psi=0.7, **cond)
    assert frames.dtype == np.uint8 and frames.shape == (2, 3, 32, 32, 3)
    assert np.abs(frames.astype(int) - summaries.to_uint8(keras_frames).numpy().astype(int)).max() <= 1
    # frame_at_time: each frame from its own token window
    model = FrameModel(G)
    for f in range(t.shape[1]):
        start = model.window_start(t[:, f])
        window = np.stack([motion_z[b, s:s + model.window_length] for b, s in enumerate(start)])
        frame = loaded.signatures["frame_at_time"](w=tf.constant(w), window=tf.constant(window),
                                                   t=tf.constant(t[:, f]),
                                                   **{k: tf.constant(v) for k, v in cond.items()})["frame"].numpy()
        np.testing.assert_allclose(frame, keras_frames[:, f].numpy(), atol=1e-4)


def test_existing_version_is_refused(tmp_path):
    G = tiny_generator()
    export_savedmodel(G, str(tmp_path), version=1)
    with pytest.raises(FileExistsError, match="versions are immutable"):
        export_savedmodel(G, str(tmp_path), version=1)
