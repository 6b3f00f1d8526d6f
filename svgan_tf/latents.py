"""Seeded latents shared by every tool, in NumPy only (no TensorFlow: the LiteRT player uses them too).

A seed names one video everywhere: `svgan_tf.generate`, `svgan_tf.export.client` (TF Serving) and
`svgan_tf.export.player` (LiteRT) draw the same content latent and the same motion-noise tokens for it,
so seed 3 is the same video from a checkpoint, a server or a phone.

* content latent: `default_rng([seed, CONTENT_KEY]).standard_normal(z_dim)`;
* motion-noise tokens: an unbounded stream drawn lazily in blocks of `TOKENS_PER_BLOCK` tokens; block b is
  `default_rng([seed, b]).standard_normal((TOKENS_PER_BLOCK, motion_z_dim))`, token j is row
  j mod TOKENS_PER_BLOCK of block j // TOKENS_PER_BLOCK. Only the blocks under the last requested window
  are kept, so memory does not grow with the video.

NumPy's `default_rng` (PCG64 seeded through SeedSequence) and its normal sampler are the same on every
platform; `requirements.txt` pins NumPy so the streams cannot change under a user.

A latents file (`.npz`, written by `svgan_tf.project`) holds a content instead of a seed: `ws` [1, num_ws,
w_dim] (one code per synthesis layer), `w` [1, w_dim] when one code serves every layer, the projected video's
motion tokens `motion_z` [1, L, motion_z_dim], `times` and `motion_seed`. `read_latents_file` reads it for
every tool (generate, edit, the TF Serving client, the LiteRT player).
"""

import numpy as np

from svgan_tf.interop import bounded

TOKENS_PER_BLOCK = 64
CONTENT_KEY = 2 ** 32 - 1  # second seed word of the content latent; motion blocks use 0, 1, 2, ...


def parse_seeds(text, flag="--seeds"):
    """"0-3,7" -> [0, 1, 2, 3, 7]: comma-separated seeds and inclusive ranges, duplicates dropped.

    Args:
        text: the specification.
        flag: flag name for error messages.

    Raises:
        ValueError: naming `flag`, for anything but non-negative integers and ascending ranges.
    """
    seeds = []
    for part in (text or "").split(","):
        part = part.strip()
        try:
            if "-" in part[1:]:
                first, last = (int(x) for x in part.split("-", 1))
                if last < first:
                    raise ValueError
                values = range(first, last + 1)
            else:
                values = [int(part)]
        except ValueError:
            raise ValueError(f"{flag}: {part!r} in {text!r} is not a seed or an ascending range like 0-3 "
                             "(expected e.g. 0-3,7).") from None
        if values[0] < 0 or values[-1] >= 2 ** 63:
            raise ValueError(f"{flag}: seeds must be in [0, 2^63), got {part!r}.")
        if len(values) > 1_000_000:
            raise ValueError(f"{flag}: range {part!r} has more than a million seeds.")
        seeds.extend(values)
    return list(dict.fromkeys(seeds))


def content_z(seed, z_dim):
    """The content latent of video `seed`: float32 [z_dim]."""
    return np.random.default_rng([int(seed), CONTENT_KEY]).standard_normal(z_dim).astype(np.float32)


class MotionTokenStream:
    """The unbounded motion-noise token sequence of video `seed`, materialised a window at a time (which
    window frames need is `svgan_tf.tokens`).

    Args:
        seed: video seed (non-negative integer).
        motion_z_dim: token width.
        tokens_per_block: block size (part of the definition of the stream: changing it changes videos).
    """

    def __init__(self, seed, motion_z_dim, tokens_per_block=TOKENS_PER_BLOCK):
        self.seed, self.motion_z_dim, self.tokens_per_block = int(seed), motion_z_dim, tokens_per_block
        self._blocks = {}
        self.blocks_drawn = 0  # block draws so far (a block that left the window is drawn again if revisited)

    def block(self, index):
        """Block `index`: float32 [tokens_per_block, motion_z_dim]."""
        rng = np.random.default_rng([self.seed, int(index)])
        return rng.standard_normal((self.tokens_per_block, self.motion_z_dim)).astype(np.float32)

    def window(self, start, length):
        """Tokens start .. start + length - 1: float32 [length, motion_z_dim]."""
        if start < 0 or length < 1:
            raise ValueError(f"Token window must have start >= 0 and length >= 1, got ({start}, {length}).")
        first, last = start // self.tokens_per_block, (start + length - 1) // self.tokens_per_block
        self._blocks = {b: self._blocks[b] for b in range(first, last + 1) if b in self._blocks}
        for b in range(first, last + 1):
            if b not in self._blocks:
                self._blocks[b] = self.block(b)
                self.blocks_drawn += 1
        tokens = np.concatenate([self._blocks[b] for b in range(first, last + 1)])
        offset = start - first * self.tokens_per_block
        return tokens[offset:offset + length]

    @property
    def cached_blocks(self):
        """Indices of the blocks currently held."""
        return sorted(self._blocks)


def read_latents_file(path, w_dim, motion_z_dim, num_ws=None):
    """The content and motion tokens of a latents `.npz`, checked against a generator's sizes (read bounded).

    Args:
        path: the file.
        w_dim: the generator's w size.
        motion_z_dim: its motion token size.
        num_ws: its number of synthesis layer codes; None for an exported frame model, which takes one w for
            every layer: the file's content must then be a single w (not a per-layer, `--w_plus`, projection).

    Returns:
        (ws float32 [1, num_ws, w_dim], or w [1, w_dim] when num_ws is None; motion_z float32 [1, L,
        motion_z_dim], or None when the file has none).

    Raises:
        ValueError: naming `path`, when it is not such a file or does not fit.
    """
    arrays = bounded.load_npz(path)
    if "ws" not in arrays:
        raise ValueError(f"{path}: no 'ws' array (not a latents file of svgan_tf.project).")
    ws = np.asarray(arrays["ws"], np.float32)
    layers = num_ws if num_ws is not None else ws.shape[1] if ws.ndim == 3 else None
    if ws.shape != (1, layers, w_dim):
        raise ValueError(f"{path}: ws has shape {ws.shape}; this generator takes (1, {num_ws or 'num_ws'}, "
                         f"{w_dim}).")
    motion_z = arrays.get("motion_z")
    if motion_z is not None:
        motion_z = np.asarray(motion_z, np.float32)
        if motion_z.ndim != 3 or motion_z.shape[0] != 1 or motion_z.shape[2] != motion_z_dim:
            raise ValueError(f"{path}: motion_z has shape {motion_z.shape}; this generator takes (1, L, "
                             f"{motion_z_dim}).")
    if num_ws is not None:
        return ws, motion_z
    if not np.all(ws == ws[:, :1]):
        raise ValueError(f"{path}: a per-layer (W+) content, one w per synthesis layer; an exported model takes one "
                         "w for every layer (project without --w_plus, or render it with svgan_tf.generate "
                         "--latents).")
    return ws[:, 0], motion_z
