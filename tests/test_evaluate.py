"""svgan_tf.evaluate: metrics of a generator or of two dataset halves, results as JSON lines."""

import json

import pytest

from svgan_tf import data, evaluate
from tests.test_metrics import _detector
from tests.tiny_models import tiny_generator

STUB = {"fvd": ("stub", _detector), "fid": ("stub", lambda frames: _detector(frames[:, None]))}


def test_evaluate_generator_and_real_vs_real(tmp_path):
    source = data.open_source("demo:3", sampling=data.SamplingConfig(num_frames=1, mirror=False))
    metrics = evaluate.resolve_protocols(["fvd2048_16f", "fid50k_full"], num_fake=32, num_real=32)
    generated = evaluate.evaluate(tiny_generator(), source, metrics, cache_dir=str(tmp_path), detectors=STUB,
                                  progress=False)
    floor = evaluate.evaluate(None, source, metrics[:1], cache_dir=str(tmp_path), detectors=STUB, progress=False)
    assert set(generated) == {"fvd2048_16f", "fid50k_full"} and floor["fvd2048_16f"] < generated["fvd2048_16f"] / 5
    lines = evaluate.write_results(generated, str(tmp_path / "m.jsonl"), {"seed": 0})
    assert [json.loads(line)["metric"] for line in (tmp_path / "m.jsonl").read_text().splitlines()] == \
        ["fvd2048_16f", "fid50k_full"] and len(lines) == 2
    with pytest.raises(ValueError, match="unknown metric 'fvd16'"):
        evaluate.resolve_protocols(["fvd16"])
