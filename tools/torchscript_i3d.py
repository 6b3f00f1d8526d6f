"""Fixture maker: a reference-style TorchScript I3D (`i3d_torchscript.pt` layout) holding given weights.

The real file is not available here; this writes what a PyTorch I3D saved with `torch.jit.save` would hold, opcode
by opcode (`tools.pickle_writer`), so that `svgan_tf.metrics.i3d.load_torchscript_i3d` and `check_torchscript`
(and `python -m svgan_tf.evaluate --check_i3d`) can be tested on it.
"""

import numpy as np

from svgan_tf.metrics import i3d
from tools.pickle_writer import Call, Global, New, Pid, dumps, torchscript_archive

ARCHIVE_EPS = 1e-5  # torch's default, written into the archive's code text: the loader must fold it
ARCHIVE_CODE = {
    "__torch__/i3d.py": (
        "class InceptionI3d(Module):\n"
        "  def forward(self: __torch__.i3d.InceptionI3d, x: Tensor, rescale: bool=False, resize: bool=False,\n"
        "    return_features: bool=False) -> Tensor:\n"
        "    t = torch.size(x, 2)\n"
        "    if resize:\n"
        "      x0 = torch.upsample_trilinear3d(x, [t, 224, 224], False, None)\n"
        "    else:\n"
        "      x0 = x\n"
        "    return (self.Conv3d_1a_7x7).forward(x0, )\n"),
    "__torch__/torch/nn/modules/batchnorm.py": (
        "class BatchNorm3d(Module):\n"
        "  def forward(self: __torch__.torch.nn.modules.batchnorm.BatchNorm3d, input: Tensor) -> Tensor:\n"
        "    _0 = torch.batch_norm(input, self.weight, self.bias, self.running_mean, self.running_var, False,\n"
        "      0.10000000000000001, 1.0000000000000001e-05, True)\n"
        "    return _0\n"),
}
BRANCHES = ("b0", "b1a", "b1b", "b2a", "b2b", "b3b")


def write_torchscript_i3d(path, model):
    """A TorchScript-layout archive of `model`'s weights, as a PyTorch I3D would pickle them: per unit
    `<unit>.conv3d.weight` [out, in, t, h, w] then `<unit>.bn.weight/bias/running_mean/running_var/
    num_batches_tracked` (logits: `logits.conv3d.weight/bias`), each module its own object.

    Some units get a batch-norm scale gamma != 1 (one negative) and one a conv bias, with the stored values
    chosen so that the archive computes exactly the port's function; the variances are stored for eps 1e-5.

    Returns:
        {unit scope: the gamma stored for it} for the units that have one.
    """
    storages = []
    rng = np.random.default_rng(7)

    def tensor(array, kind="torch.FloatStorage"):
        array = np.array(array, order="C")  # not ascontiguousarray: it makes a 0-d array 1-d
        key = str(len(storages))
        storages.append((key, array.tobytes()))
        pid = Pid(("storage", Global(kind), key, "cpu", array.size))
        return Call("torch._utils._rebuild_tensor_v2", pid, 0, array.shape,
                    tuple(s // array.itemsize for s in array.strides), False, Call("collections.OrderedDict"))

    def module(cls, **state):
        return New(f"__torch__.{cls}", {"training": False, **state})

    gammas = {}

    def unit(index, u):
        weight = np.transpose(u.kernel.numpy(), (4, 3, 0, 1, 2)).astype(np.float64)
        if not u.use_batch_norm:
            return module("i3d.Unit3D", conv3d=module("torch.nn.modules.conv.Conv3d", weight=tensor(
                weight.astype(np.float32)), bias=tensor(u.bias.numpy())))
        gamma = np.ones(u.out_channels)
        if index % 5 == 1:
            gamma = rng.uniform(0.5, 2.0, u.out_channels) * (-1 if index == 6 else 1)
            gammas[u.scope] = gamma
        bias = rng.normal(size=u.out_channels) if index == 1 else np.zeros(u.out_channels)
        conv = {"weight": tensor((weight / gamma[:, None, None, None, None]).astype(np.float32))}
        if index == 1:
            conv["bias"] = tensor(bias.astype(np.float32))
        mean = u.moving_mean.numpy() / gamma + bias
        var = u.moving_var.numpy().astype(np.float64) + (i3d.BN_EPSILON - ARCHIVE_EPS)
        return module("i3d.Unit3D", conv3d=module("torch.nn.modules.conv.Conv3d", **conv),
                      bn=module("torch.nn.modules.batchnorm.BatchNorm3d", weight=tensor(gamma.astype(np.float32)),
                                bias=tensor(u.beta.numpy()), running_mean=tensor(mean.astype(np.float32)),
                                running_var=tensor(var.astype(np.float32)),
                                num_batches_tracked=tensor(np.array(0, np.int64), "torch.LongStorage")))

    units = iter(enumerate(model.units))
    state = {name: unit(*next(units)) for name in ("Conv3d_1a_7x7", "Conv3d_2b_1x1", "Conv3d_2c_3x3")}
    for block in model.mixed:
        state[block.name] = module("i3d.InceptionModule", **{b: unit(*next(units)) for b in BRANCHES})
    state["logits"] = unit(*next(units))
    torchscript_archive(path, dumps(module("i3d.InceptionI3d", **state), protocol=2), storages, code=ARCHIVE_CODE)
    return gammas
