"""The frames of a video from a frame-at-time `.tflite` file alone, without TensorFlow (`FramePlayer`).

This is the player of `python -m svgan_tf.play`, and the reference for an on-device integration (README
"On device"): everything the loop needs is in the file (`metadata` signature), and it uses only NumPy and
the LiteRT interpreter (`ai_edge_litert`, the package a phone app links in another language). Per video:

1. `w = mapping(z)` once (z: [1, z_dim] standard normal; + c for conditional models), or a projected
   content's w from a latents file (`svgan_tf.project`).
2. Motion-noise tokens: an endless sequence of standard-normal vectors, token j at time
   j * motion_z_distance, drawn lazily (`svgan_tf.latents`, NumPy only: the same seed is the same video
   as with `svgan_tf.generate`); only the `window_length` tokens from index floor(t / motion_z_distance)
   (`svgan_tf.tokens.window_start`, NumPy as well) are needed for a frame at time t.
3. Frame i at time t = time_offset + i * time_step (`svgan_tf.tokens.frame_times`; frame units of the
   training data: time_step 1 is the training frame rate; 0.5 renders two frames per training frame, slow
   motion):
   `frame = frame_at_time(w, window, t)`, a [1, R, R, 3] float32 image in about [-1, 1].

Memory is constant however long the video: only the current window of tokens is kept.
"""

import numpy as np

from svgan_tf import tokens
from svgan_tf.latents import MotionTokenStream, content_z, read_latents_file


def frame_to_uint8(frames):
    """Frames of `frame_at_time` (float32, about [-1, 1]) -> uint8: (x + 1) * 127.5 rounded and clipped, as
    `svgan_tf.training.summaries.to_uint8` does in graphs."""
    return np.clip(np.round((np.asarray(frames, np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)


class FramePlayer:
    """Frames of one video from a frame-at-time `.tflite` file.

    Args:
        model_path: the .tflite file (written by `python -m svgan_tf.export tflite`).
        seed: content and motion seed.
        class_index: class of a conditional model.
        num_threads: interpreter threads.
        latents: a latents `.npz` (`svgan_tf.project`) whose content replaces the seed's; the seed then chooses
            only the motion.
    """

    def __init__(self, model_path, seed, class_index=None, num_threads=2, latents=None):
        from ai_edge_litert.interpreter import Interpreter
        try:
            interpreter = Interpreter(model_path=model_path, num_threads=num_threads)
        except ValueError as error:
            raise ValueError(f"{model_path}: not a LiteRT model ({error}).") from error
        missing = {"mapping", "frame_at_time", "metadata"} - set(interpreter.get_signature_list())
        if missing:
            raise ValueError(f"{model_path}: not a frame-at-time model (no {', '.join(sorted(missing))} signature).")
        metadata = interpreter.get_signature_runner("metadata")(t=np.zeros(1, np.float32))
        self.meta = {k: v.item() for k, v in metadata.items()}
        self.frame_at_time = interpreter.get_signature_runner("frame_at_time")
        conditioning = {}
        if self.meta["c_dim"]:
            if class_index is None or not 0 <= class_index < self.meta["c_dim"]:
                raise ValueError(f"{model_path} is conditional: --class_idx must be in [0, {self.meta['c_dim']}).")
            conditioning["c"] = np.eye(self.meta["c_dim"], dtype=np.float32)[[class_index]]
        self.conditioning = conditioning
        if latents is None:
            z = content_z(seed, self.meta["z_dim"])[None]
            self.w = interpreter.get_signature_runner("mapping")(z=z, **conditioning)["w"]
        else:
            self.w, _ = read_latents_file(latents, self.meta["w_dim"], self.meta["motion_z_dim"])
        self.stream = MotionTokenStream(seed, self.meta["motion_z_dim"])

    def frame(self, t):
        """One frame.

        Args:
            t: its time (>= 0), in frames.

        Returns:
            uint8 [R, R, 3].
        """
        start = int(tokens.window_start(t, self.meta["motion_z_distance"]))
        window = self.stream.window(start, self.meta["window_length"])[None]
        frame = self.frame_at_time(w=self.w, window=window, t=np.array([t], np.float32),
                                   **self.conditioning)["frame"][0]
        return frame_to_uint8(frame)

    def frames(self, num_frames, time_offset=0.0, time_step=1.0):
        """The frames of the video, one at a time.

        Args:
            num_frames: how many.
            time_offset: time of the first frame, in frames.
            time_step: time between consecutive frames (< 1: slow motion).

        Yields:
            uint8 [R, R, 3] frames, at times `svgan_tf.tokens.frame_times(i, 1, time_offset, time_step)`.
        """
        for i in range(num_frames):  # one time at a time: memory stays constant however long the video
            yield self.frame(tokens.frame_times(i, 1, time_offset, time_step)[0])
