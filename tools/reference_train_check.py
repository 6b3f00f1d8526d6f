"""Checks svgan_tf's training step against a training fixture recorded from the reference's own training loop.

    python -m tools.reference_check --fixture ../shared/fixtures/official_train_small

A training fixture (format: that directory's README) holds `config.json`, `state_k.npz` (the whole training state
before iteration k) and `iter_k.npz` (iteration k's inputs and results). Every size, setting and the schedule are
read from those files. The project's own training objects are built from them (`loop.build_training`,
`loop.make_train_step`, the loss, the phase table, the optimisers) with a sampler that replays the recorded
draws, then checked two ways:

1. Teacher-forced, per iteration and phase, each starting from the reference's recorded state: D's logits, the
   per-clip losses, the objectives, every gradient, w_avg; the optimiser step from the recorded gradients and
   optimiser state (parameters, both moments, step count); the EMA.
2. Free-running: the training step itself, three iterations from state_0 on the recorded draws and real clips;
   the drift of every parameter, G_ema and optimiser moment from the recorded states is reported.

One line per quantity (max error, tolerance, ok); the caller exits 1 on any failure. The tolerances and the
errors measured on `official_train_small` are in `TOLERANCES`.
"""

import json
import os

import numpy as np

# (tolerance, kind). "abs": max |ours - reference|. "rel": per tensor, max |diff| / max |reference tensor|, the
# worst tensor reported. "ulp": max |diff| in float32 units in the last place of the reference value (for Adam's
# parameters: of the larger of the value before and after the step, since a step that nearly cancels the
# parameter turns one ulp of the step into many of the result; the fixture's own exact formula gives 8 "result
# ulps" there). "relelem": max over elements of |diff| / |reference element|.
# Measured on official_train_small (TF 2.21 CPU, 2 threads), worst over the three iterations, in brackets.
TOLERANCES = {
    "logits": (1e-5, "abs"),           # [8.3e-6 it2 Dmain fake; others <= 1.6e-6]
    "loss": (1e-5, "abs"),             # [8.1e-6]
    "objective": (1e-5, "abs"),        # [2.1e-6]
    "r1_penalty": (1e-4, "rel"),       # [4.6e-7]
    "reg": (1e-4, "rel"),              # [4.3e-7]
    # [1.8e-4, it2 Dreg b8.conv0.bias; 1.2e-4 it1 Gmain]. Not looser than the quantity itself allows: scaling our
    # own weights by (1 + 6e-8 N(0,1)), half an ulp, moves our gradients by up to 9.7e-5 (Gmain) and 1.8e-4 (Dreg
    # it2), by 1.4e-3 at 3e-7 (leaky-ReLU slopes flip where a pre-activation is within rounding of zero).
    "grads": (5e-4, "rel"),
    "w_avg": (1e-6, "abs"),            # [4.7e-10]
    "adam params": (2, "ulp"),         # [2 ulp]
    "adam exp_avg": (0, "ulp"),        # [0: beta1 = 0 copies the gradient]
    "adam exp_avg_sq": (1e-6, "relelem"),  # [1.2e-7, one rounding]
    "adam step": (0, "abs"),
    "settings": (1e-12, "rel"),        # [0]
    "ema": (2, "ulp"),                 # [0]
    # Free run from state_0 on the recorded draws, three iterations. The reference's own drift with another thread
    # count is 3e-5. A Dreg that skips the parameters R1 does not reach (None instead of zero gradients) leaves
    # their exp_avg_sq 6.7e-3 (1 - beta2) too large, above the moment tolerances.
    "drift params": (5e-4, "abs"),     # [4.6e-5]
    "drift exp_avg": (2e-3, "rel"),    # [2.3e-4]
    "drift exp_avg_sq": (2e-3, "rel"), # [1.4e-4]
}


def is_training_fixture(directory):
    return os.path.isfile(os.path.join(directory, "state_0.npz"))


def _error(ours, expected, kind, magnitude=None):
    """The error of one array (or the worst of a list of arrays) in the tolerance's kind.

    `magnitude` (same structure as `expected`): ulps are counted at max(|expected|, |magnitude|) instead.
    """
    if isinstance(expected, list):
        magnitude = magnitude or [None] * len(expected)
        return max((_error(o, e, kind, m) for o, e, m in zip(ours, expected, magnitude)), default=0.0)
    ours, expected = np.asarray(ours, np.float64), np.asarray(expected, np.float64)
    if ours.shape != expected.shape:
        raise ValueError(f"shape {ours.shape} != reference {expected.shape}")
    if expected.size == 0:
        return 0.0
    diff = np.abs(ours - expected)
    if kind == "abs":
        return float(diff.max())
    if kind == "rel":
        return float(diff.max() / max(np.abs(expected).max(), 1e-30))
    if kind == "ulp":
        scale = np.abs(expected) if magnitude is None else np.maximum(np.abs(expected), np.abs(magnitude))
        return float((diff / np.spacing(scale.astype(np.float32)).astype(np.float64)).max())
    return float((diff / np.maximum(np.abs(expected), 1e-30)).max())


class Report:
    """Collects one line per quantity and whether all passed."""

    def __init__(self, out):
        self.out, self.ok = out, True
        print(f"{'quantity':<44}{'size':>10}{'max error':>14}{'tolerance':>16}  result", file=out)

    def check(self, name, kind, ours, expected, magnitude=None):
        tol, unit = TOLERANCES[kind]
        size = sum(np.size(e) for e in expected) if isinstance(expected, list) else np.size(expected)
        try:
            error = _error(ours, expected, unit, magnitude)
            passed = error <= tol
            text = f"{error:>14.3e}{f'{tol:g} {unit}':>16}"
        except ValueError as problem:
            passed, text = False, f"  {problem}"
        self.ok &= passed
        print(f"{name:<44}{size:>10}{text}  {'ok' if passed else 'FAIL'}", file=self.out)

    def fail(self, name, why):
        self.ok = False
        print(f"{name:<44}{why}  FAIL", file=self.out)


class Fixture:
    """A training fixture directory: config, states and iterations as NumPy dictionaries."""

    def __init__(self, directory):
        def path(name):
            p = os.path.join(directory, name)
            if not os.path.isfile(p):
                raise FileNotFoundError(f"Fixture file missing: {p}")
            return p

        with open(path("config.json")) as f:
            self.config = json.load(f)
        for key in ("G_kwargs", "D_kwargs", "optimizers", "loss_kwargs", "G_reg_interval", "D_reg_interval",
                    "batch_size", "num_iterations", "ema"):
            if key not in self.config:
                raise KeyError(f"{path('config.json')} has no {key!r} entry.")
        self.num_iterations = int(self.config["num_iterations"])
        self.states = [dict(np.load(path(f"state_{k}.npz"))) for k in range(self.num_iterations + 1)]
        self.iterations = [dict(np.load(path(f"iter_{k}.npz"))) for k in range(self.num_iterations)]

    def params(self, state, prefix):
        """{reference name: array} of one network (`prefix` 'G', 'D' or 'G_ema') in a state dictionary."""
        return {k[len(prefix) + 1:]: v for k, v in state.items() if k.startswith(prefix + "/")}

    def opt_state(self, state, prefix):
        """{param: (exp_avg, exp_avg_sq, step)} of an optimiser ('G_opt' or 'D_opt')."""
        names = {k[len(prefix) + 1:].rsplit("/", 1)[0] for k in state if k.startswith(prefix + "/")}
        return {n: tuple(state[f"{prefix}/{n}/{s}"] for s in ("exp_avg", "exp_avg_sq", "step")) for n in names}

    def ran(self, k, phase):
        return any(p["name"] == phase for p in self.config["iterations"][k]["phases"]) \
            if "iterations" in self.config else f"{phase}/objective_0" in self.iterations[k]


def _train_config(fx):
    """The project's TrainConfig with the fixture's optimisation settings."""
    from svgan_tf.training import config

    c, loss, ema = fx.config, fx.config["loss_kwargs"], fx.config["ema"]
    if ema.get("ema_rampup") is not None:
        raise NotImplementedError("ema_rampup (the reference's default run disables it, SPEC.md 1.4)")
    if loss.get("augment_pipe") is not None or loss.get("pl_weight", 0) or loss.get("style_mixing_prob", 0):
        raise NotImplementedError("augmentation, path-length regularisation and style mixing are not in training "
                                  "fixtures")
    preset = c.get("preset_params", {})
    opt = c["optimizers"]["G"]
    ratio = opt.get("mb_ratio", 1.0)
    gk = c["G_kwargs"]
    return config.TrainConfig(
        data="demo", batch=int(c["batch_size"]), lr=float(preset.get("lr", opt["lr"] / ratio)),
        betas=tuple(float(b) for b in preset.get("betas", tuple(beta ** (1 / ratio) for beta in opt["betas"]))),
        eps=float(opt["eps"]), concat_res=int(c["D_kwargs"]["cfg"]["concat_res"]),
        r1_gamma=float(loss["r1_gamma"]), r1_interval=int(c["D_reg_interval"] or 0),
        g_reg_interval=int(c["G_reg_interval"] or 0), ema_kimg=float(ema["ema_kimg"]), aug="noaug",
        num_fp16_res=0, cond=gk.get("c_dim", 0) > 0, num_frames=int(c["num_frames_per_video"]),
        z_dim=gk["cfg"]["z_dim"], motion_z_dim=gk["cfg"]["motion"]["z_dim"],
    ).resolve(gk["img_resolution"], gk.get("c_dim", 0), 1)


class RecordedSampler:
    """Replays the fixture's recorded draws: (phase, step, replica) -> `Draws` of iteration `step`."""

    def __init__(self, fx, motion_tokens, motion_z_dim):
        import tensorflow as tf

        from svgan_tf.training import draws

        self.draws = draws
        self.arrays = {}
        for phase in ("Gmain", "Dmain", "Dreg"):
            def stack(name, dtype, default=None, phase=phase):
                rows = [it.get(f"inputs/{phase}/{name}", default) for it in fx.iterations]
                return tf.constant(np.stack(rows).astype(dtype))
            b = fx.iterations[0]["inputs/Gmain/gen_z"].shape[0]
            self.arrays[phase] = (stack("gen_z", np.float32), stack("gen_c", np.float32), stack("gen_t", np.float32),
                                  stack("motion_z", np.float32, np.zeros([b, motion_tokens, motion_z_dim])))

    def __call__(self, phase, step, replica):
        import tensorflow as tf

        z, c, t, motion_z = (tf.gather(a, step) for a in self.arrays[phase])
        return self.draws.Draws(z, c, t, motion_z, tf.zeros([2], tf.int64))


def _real_batch(it):
    """The data pipeline's batch of iteration `it`: uint8 [b, k, H, W, C], t, c."""
    return {"frames": np.ascontiguousarray(it["inputs/real_img_uint8"].transpose(0, 1, 3, 4, 2)),
            "t": it["inputs/real_t"].astype(np.float32), "c": it["inputs/real_c"].astype(np.float32)}


def _nchw(frames):
    """[b, k, H, W, C] -> [b*k, C, H, W]."""
    return np.asarray(frames).reshape((-1,) + tuple(frames.shape[2:])).transpose(0, 3, 1, 2)


class _Setup:
    """The project's training objects for a fixture, and loading of recorded states into them."""

    def __init__(self, fx):
        import tensorflow as tf

        from svgan_tf.interop import reference
        from svgan_tf.training import loop

        self.fx, self.reference = fx, reference
        self.cfg = _train_config(fx)
        self.strategy = tf.distribute.get_strategy()
        G = reference.build_generator(fx.config["G_kwargs"], mixed_precision=None)
        D = reference.build_discriminator(fx.config["D_kwargs"], mixed_precision=None)
        self.training = loop.build_training(self.cfg, self.strategy, G=G, D=D)
        motion_z = fx.iterations[0]["inputs/Gmain/motion_z"]
        self.step = loop.make_train_step(self.cfg, self.training, None, self.strategy,
                                          sampler=RecordedSampler(fx, motion_z.shape[1], motion_z.shape[2]))
        self.phases = {p.name: p for p in self.step.phases}
        self.names = {m: {n: (v, layout) for n, v, layout in reference.reference_variables(getattr(self.training, m))}
                      for m in ("G", "D", "G_ema")}

    def load(self, module, params):
        self.reference.load_reference_weights(getattr(self.training, module), params)

    def load_opt(self, opt_name, module, opt_state):
        opt = getattr(self.training, opt_name)
        steps = {int(s) for _, _, s in opt_state.values()}
        if len(steps) != 1:
            raise NotImplementedError(f"{opt_name}: per-parameter Adam steps differ ({sorted(steps)}); the Keras "
                                      "optimiser has one step counter")
        opt.iterations.assign(steps.pop())
        for name, (m, v, _) in opt_state.items():
            var, layout = self.names[module][name]
            first, second = opt.moments(var)
            first.assign(self.reference.from_reference_layout(layout, m))
            second.assign(self.reference.from_reference_layout(layout, v))

    def grads_to_reference(self, module, grads):
        """{reference name: gradient} of our gradients aligned with module.trainable_variables."""
        model = getattr(self.training, module)
        by_var = {id(v): (n, layout) for n, (v, layout) in self.names[module].items()}
        out = {}
        for g, v in zip(grads, model.trainable_variables):
            name, layout = by_var[id(v)]
            out[name] = None if g is None else self.reference.to_reference_layout(layout, np.asarray(g))
        return out

    def grads_from_reference(self, module, recorded):
        """Recorded reference gradients as a list aligned with module.trainable_variables (None if absent)."""
        model = getattr(self.training, module)
        by_var = {id(v): (n, layout) for n, (v, layout) in self.names[module].items()}
        grads = []
        for v in model.trainable_variables:
            name, layout = by_var[id(v)]
            grads.append(None if name not in recorded else
                         self.reference.from_reference_layout(layout, recorded[name]).astype(np.float32))
        return grads

    def values(self, module, names):
        return [self.reference.to_reference_layout(self.names[module][n][1], self.names[module][n][0].numpy())
                for n in names]

    def opt_values(self, opt_name, module, names):
        opt = getattr(self.training, opt_name)
        moments = [opt.moments(self.names[module][n][0]) for n in names]
        layouts = [self.names[module][n][1] for n in names]
        return ([self.reference.to_reference_layout(lay, m.numpy()) for lay, (m, _) in zip(layouts, moments)],
                [self.reference.to_reference_layout(lay, v.numpy()) for lay, (_, v) in zip(layouts, moments)])


def _check_optimizer(setup, report, label, phase, before, before_opt, grads, after, after_opt):
    """Teacher-forced optimiser step of a phase (its optimiser from our phase table): recorded gradients from a
    recorded state -> the next recorded state."""
    from svgan_tf.training import loop

    opt_name, module = phase.opt, phase.module
    setup.load(module, before)
    setup.load_opt(opt_name, module, before_opt)
    model = getattr(setup.training, module)
    loop.apply_gradients(getattr(setup.training, opt_name), setup.grads_from_reference(module, grads),
                          model.trainable_variables)
    names = sorted(after_opt)
    report.check(f"{label} adam params", "adam params", setup.values(module, names), [after[n] for n in names],
                 magnitude=[before[n] for n in names])
    m, v = setup.opt_values(opt_name, module, names)
    report.check(f"{label} adam exp_avg", "adam exp_avg", m, [after_opt[n][0] for n in names])
    report.check(f"{label} adam exp_avg_sq", "adam exp_avg_sq", v, [after_opt[n][1] for n in names])
    steps = {int(s) for _, _, s in after_opt.values()}
    ours = int(getattr(setup.training, opt_name).iterations.numpy())
    report.check(f"{label} adam step", "adam step", [ours], [max(steps)] if len(steps) == 1 else [-1])


def _check_grads(setup, report, label, module, ours, recorded):
    ours = setup.grads_to_reference(module, ours)
    missing = sorted(n for n in recorded if ours.get(n) is None)
    extra = sorted(n for n, g in ours.items() if g is not None and n not in recorded)
    if missing or extra:
        report.fail(f"{label} grads", f"no gradient for {missing[:3]}, unexpected {extra[:3]}")
        return
    names = sorted(recorded)
    report.check(f"{label} grads ({len(names)} tensors)", "grads", [ours[n] for n in names],
                 [recorded[n] for n in names])


def _recorded(it, prefix):
    return {k[len(prefix):]: v for k, v in it.items() if k.startswith(prefix)}


def check_settings(setup, report):
    """The optimisers' effective settings (after the lazy-regularisation correction) and the EMA beta."""
    for opt_name, key in (("G_opt", "G"), ("D_opt", "D")):
        opt, expected = getattr(setup.training, opt_name), setup.fx.config["optimizers"][key]
        opt = getattr(opt, "inner_optimizer", opt)
        report.check(f"{opt_name} lr, beta1, beta2, eps", "settings", [opt._lr64, opt.beta_1, opt.beta_2, opt.epsilon],
                     [expected["lr"], *expected["betas"], expected["eps"]])
    betas = setup.fx.config["ema"].get("betas", [])
    report.check("EMA beta", "settings", [setup.step.ema_beta] * len(betas), betas)


def teacher_forced(setup, report, iterations):
    """Every phase of the first `iterations` iterations from the reference's recorded state (module docstring)."""
    import tensorflow as tf

    from svgan_tf.training import loop
    from svgan_tf.training import loss as loss_lib

    fx, training, loss = setup.fx, setup.training, setup.step.loss
    for k in range(iterations):
        S, S1, it = fx.states[k], fx.states[k + 1], fx.iterations[k]
        real = loss_lib.real_clips({key: tf.constant(v) for key, v in _real_batch(it).items()})
        step = tf.constant(k, tf.int64)
        before_dreg = _recorded(it, "before_Dreg/")
        # Gmain from S_k.
        setup.load("G", fx.params(S, "G"))
        setup.load("D", fx.params(S, "D"))
        phase = setup.phases["Gmain"]
        grads, rep = loss.Gmain(setup.step.sampler("Gmain", step, 0), real, phase.gain)
        report.check(f"it{k} Gmain D(fake) logits", "logits", rep["Loss/scores/fake"],
                     it["Gmain/report/Loss/scores/fake"])
        report.check(f"it{k} Gmain loss per clip", "loss", rep["Loss/G/loss"], it["Gmain/report/Loss/G/loss"])
        report.check(f"it{k} Gmain objective", "objective", [rep["objective_0"]], [it["Gmain/objective_0"]])
        _check_grads(setup, report, f"it{k} Gmain", "G", grads, _recorded(it, "Gmain/grad/"))
        report.check(f"it{k} Gmain w_avg", "w_avg", training.G.mapping.w_avg.numpy(), it["Gmain/w_avg_after_mapping"])
        _check_optimizer(setup, report, f"it{k} Gmain", phase, fx.params(S, "G"), fx.opt_state(S, "G_opt"),
                         _recorded(it, "Gmain/grad/"), fx.params(S1, "G"), fx.opt_state(S1, "G_opt"))
        # Dmain: G after Gmain's step (S_k1), its w_avg as Gmain left it; D from S_k.
        setup.load("G", fx.params(S1, "G"))
        training.G.mapping.w_avg.assign(it["Gmain/w_avg_after_mapping"])
        setup.load("D", fx.params(S, "D"))
        phase = setup.phases["Dmain"]
        grads, rep = loss.Dmain(setup.step.sampler("Dmain", step, 0), real, phase.gain)
        for ours, theirs in (("Loss/scores/fake", "report/Loss/scores/fake"),
                             ("Loss/scores/real", "report/Loss/scores/real")):
            report.check(f"it{k} Dmain {theirs.split('/')[-1]} logits", "logits", rep[ours], it[f"Dmain/{theirs}"])
        for ours, theirs in (("loss_fake", "loss_fake"), ("loss_real", "loss_real"),
                             ("Loss/D/loss", "report/Loss/D/loss")):
            report.check(f"it{k} Dmain {theirs.split('/')[-1]} per clip", "loss", rep[ours], it[f"Dmain/{theirs}"])
        for i in (0, 1):
            report.check(f"it{k} Dmain objective_{i}", "objective", [rep[f"objective_{i}"]],
                         [it[f"Dmain/objective_{i}"]])
        _check_grads(setup, report, f"it{k} Dmain", "D", grads, _recorded(it, "Dmain/grad/"))
        report.check(f"it{k} Dmain w_avg", "w_avg", training.G.mapping.w_avg.numpy(), it["Dmain/w_avg_after_mapping"])
        after, after_opt = (fx.params(before_dreg, "D"), fx.opt_state(before_dreg, "D_opt")) if before_dreg else \
            (fx.params(S1, "D"), fx.opt_state(S1, "D_opt"))
        _check_optimizer(setup, report, f"it{k} Dmain", phase, fx.params(S, "D"), fx.opt_state(S, "D_opt"),
                         _recorded(it, "Dmain/grad/"), after, after_opt)
        due = setup.step.due(k)
        if ("Dreg" in due) != bool(fx.ran(k, "Dreg")):
            report.fail(f"it{k} Dreg schedule", f"ours runs Dreg: {'Dreg' in due}, the reference: {fx.ran(k, 'Dreg')}")
        elif "Dreg" in due:
            setup.load("D", fx.params(before_dreg, "D"))
            phase = setup.phases["Dreg"]
            grads, rep = loss.Dreg(setup.step.sampler("Dreg", step, 0), real, phase.gain)
            report.check(f"it{k} Dreg D(real) logits", "logits", rep["Loss/scores/real"],
                         it["Dreg/report/Loss/scores/real"])
            report.check(f"it{k} Dreg r1 penalty per frame", "r1_penalty", np.reshape(rep["Loss/r1_penalty"], [-1]),
                         it["Dreg/report/Loss/r1_penalty"])
            report.check(f"it{k} Dreg reg per clip", "reg", rep["Loss/D/reg"], it["Dreg/report/Loss/D/reg"])
            report.check(f"it{k} Dreg objective", "objective", [rep["objective_0"]], [it["Dreg/objective_0"]])
            _check_grads(setup, report, f"it{k} Dreg", "D", grads, _recorded(it, "Dreg/grad/"))
            _check_optimizer(setup, report, f"it{k} Dreg", phase, fx.params(before_dreg, "D"),
                             fx.opt_state(before_dreg, "D_opt"), _recorded(it, "Dreg/grad/"), fx.params(S1, "D"),
                             fx.opt_state(S1, "D_opt"))
        # EMA of G after the iteration's phases.
        setup.load("G", fx.params(S1, "G"))
        setup.load("G_ema", fx.params(S, "G_ema"))
        loop.update_ema(training.G_ema, training.G, setup.step.ema_beta)
        names = sorted(fx.params(S1, "G_ema"))
        names = [n for n in names if n in setup.names["G_ema"]]
        report.check(f"it{k} EMA G_ema", "ema", setup.values("G_ema", names), [S1[f"G_ema/{n}"] for n in names])


def free_run(setup, report, iterations):
    """The training step itself, `iterations` iterations from state_0; drift from each recorded state."""
    import tensorflow as tf

    fx, training = setup.fx, setup.training
    S = fx.states[0]
    for module in ("G", "D", "G_ema"):
        setup.load(module, fx.params(S, module))
    setup.load_opt("G_opt", "G", fx.opt_state(S, "G_opt"))
    setup.load_opt("D_opt", "D", fx.opt_state(S, "D_opt"))
    training.step.assign(int(S.get("batch_idx", 0)))
    batches = [_real_batch(it) for it in fx.iterations]
    dataset = tf.data.Dataset.from_tensor_slices({k: np.stack([b[k] for b in batches]) for k in batches[0]})
    iterator = iter(setup.strategy.experimental_distribute_dataset(dataset))
    for k in range(iterations):
        setup.step(iterator, k)
        S1 = fx.states[k + 1]
        for module in ("G", "D", "G_ema"):
            names = [n for n in fx.params(S1, module) if n in setup.names[module]]
            report.check(f"free run it{k} {module}", "drift params", setup.values(module, names),
                         [S1[f"{module}/{n}"] for n in names])
        for opt_name, module in (("G_opt", "G"), ("D_opt", "D")):
            state = fx.opt_state(S1, opt_name)
            names = sorted(state)
            m, v = setup.opt_values(opt_name, module, names)
            report.check(f"free run it{k} {opt_name} exp_avg", "drift exp_avg", m, [state[n][0] for n in names])
            report.check(f"free run it{k} {opt_name} exp_avg_sq", "drift exp_avg_sq", v, [state[n][1] for n in names])
            steps = {int(s) for _, _, s in state.values()}
            report.check(f"free run it{k} {opt_name} step", "adam step",
                         [int(getattr(training, opt_name).iterations.numpy())], [max(steps)])


def check(directory, out, iterations=None):
    """The training check of a fixture directory; True when every quantity is within tolerance.

    `iterations` limits both parts to the fixture's first iterations (a quick check); default all.
    """
    fx = Fixture(directory)
    iterations = fx.num_iterations if iterations is None else min(iterations, fx.num_iterations)
    setup = _Setup(fx)
    report = Report(out)
    check_settings(setup, report)
    teacher_forced(setup, report, iterations)
    free_run(setup, report, iterations)
    print(f"reference training check {'passed' if report.ok else 'FAILED'}: {directory}", file=out)
    return report.ok
