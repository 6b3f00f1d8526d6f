"""Hostile and careless inputs: every bad input is one line naming it with exit status 2, and what a file declares
is checked before memory is allocated or a network is built (svgan_tf.interop.bounded, svgan_tf.cli)."""

import copy
import dataclasses
import errno
import os
import re
import struct
import zipfile
import zlib

import numpy as np
import pytest

from svgan_tf import atomic, cli
from svgan_tf.data import convert, sources
from svgan_tf.interop import bounded, reference
from tests import support


def _png_header(width, height):
    """A PNG declaring width x height RGB pixels, with almost no pixel data."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _labelled(tmp_path, labels_text):
    root = support.write_frame_folder(tmp_path / "frames", [3, 3])
    (root / sources.LABELS_FILE).write_text(labels_text)
    return root


_DELETED = object()


def _npz_export(tmp_path, **json_overrides):
    """A tiny generator's .npz export, its .json changed by `json_overrides`."""
    path = str(tmp_path / "G.npz")
    reference.save_reference_npz(support.tiny_generator(), path)
    atomic.write_json(path[:-4] + ".json", {**support.TINY_G, **json_overrides})
    return path


class TestDatasetSources:
    """Unreadable, oversized, traversing or absurd dataset sources: a ValueError naming the file, no output."""

    def test_image_declaring_60000_squared_pixels_is_refused_before_decoding(self, tmp_path):
        root = support.write_frame_folder(tmp_path / "frames", [3])
        frame = sorted((root / "vid0").iterdir())[0]
        frame.write_bytes(_png_header(60000, 60000))
        with pytest.raises(ValueError, match=f"^{frame}: declares more than the 134,217,728 pixels allowed"):
            sources.FolderSource(str(root))
        out = tmp_path / "out"
        with pytest.raises(ValueError, match="declares more than the 134,217,728 pixels allowed"):
            convert.make_dataset(str(root), str(out), 16, log=lambda *a: None)
        assert sorted(os.listdir(tmp_path)) == ["frames"]  # no output, no staging leftover

    @pytest.mark.parametrize("declared", [(20000, 20000), (16, 17)])
    def test_later_frame_declaring_another_size_is_refused_before_decoding(self, tmp_path, declared):
        import PIL.Image
        import tensorflow as tf

        root = support.write_frame_folder(tmp_path / "frames", [4])
        frames = sorted((root / "vid0").iterdir())
        for frame, fmt in zip(frames[1:], ("JPEG", "BMP", "GIF")):  # every other format's header is read too
            PIL.Image.open(frame).convert("RGB").save(frame, format=fmt)
        frames[2].write_bytes(_png_header(*declared))  # only the first frame is checked when the source opens
        source = sources.FolderSource(str(root))
        good = source.load_frames(tf.constant(0, tf.int64), tf.constant([0, 1, 3], tf.int64))
        assert good.shape == (3, 16, 16, 3)
        message = f"(?s){frames[2].name}.*declares size.*{declared[1]}, {declared[0]}"  # [height, width]
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            source.load_frames(tf.constant(0, tf.int64), tf.constant([2], tf.int64))

    def test_truncated_frame_names_it(self, tmp_path):
        root = support.write_frame_folder(tmp_path / "frames", [3])
        frame = sorted((root / "vid0").iterdir())[0]
        frame.write_bytes(frame.read_bytes()[:30])
        with pytest.raises(ValueError, match=f"^{frame}: unreadable image"):
            sources.FolderSource(str(root))

    def test_zip_member_stepping_outside_is_refused(self, tmp_path):
        frame = (support.write_frame_folder(tmp_path / "frames", [1]) / "vid0").iterdir().__next__().read_bytes()
        path = tmp_path / "evil.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for i in range(3):
                archive.writestr(f"top/../{i:06d}.png", frame)
        with pytest.raises(ValueError, match=r"member name 'top/\.\./000000\.png' is not a plain relative path"):
            convert.make_dataset(str(path), str(tmp_path / "out"), 16, out_format="folder", log=lambda *a: None)
        assert sorted(os.listdir(tmp_path)) == ["evil.zip", "frames"]  # nothing written beside or above the output

    def test_zip_member_declaring_a_huge_size_is_not_inflated(self, tmp_path):
        root = support.write_frame_folder(tmp_path / "frames", [3])
        path = tmp_path / "bomb.zip"
        support.zip_folder(root, path)
        with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(sources.LABELS_FILE, b" " * (bounded.MAX_JSON_BYTES + 1))  # 64 MiB -> 65 KiB
        with pytest.raises(ValueError, match=rf"^{path}/dataset.json: declares 67,108,865 bytes uncompressed, more "
                                             r"than the 67,108,864 allowed\.$"):
            sources.FrameFiles.open(str(path))

    @pytest.mark.parametrize("labels, message", [
        ('{"labels": [["vid0/000000.png", 1000000000], ["vid1/000000.png", 0]]}',
         "label 1000000000 of 'vid0/000000.png' needs more than the 4096 label dimensions allowed"),
        ("[" * 100000 + "]" * 100000, "JSON nested too deeply."),
        ('{"labels": 5}', '"labels" must be a list of [frame path, label] pairs, got int'),
        ('{"labels": [["vid0/000000.png", true]]}', "expected [frame path, integer or list of numbers], got "
                                                    "['vid0/000000.png', True]"),
    ], ids=["huge-class", "deep", "not-a-list", "bool-label"])
    def test_absurd_label_files(self, tmp_path, labels, message):
        root = _labelled(tmp_path, labels)
        with pytest.raises(ValueError) as error:
            sources.FrameFiles.open(str(root))
        assert str(error.value) == f"{root}/dataset.json: {message}"

    def test_too_short_source(self, tmp_path):
        root = support.write_frame_folder(tmp_path / "frames", [2])
        with pytest.raises(ValueError, match=f"^--source {root}: no video with at least 3 frames"):
            convert.make_dataset(str(root), str(tmp_path / "out"), 16, log=lambda *a: None)
        assert not (tmp_path / "out").exists()


class TestFileDeclarations:
    """.npz headers and Generator arguments are checked against what the file holds before allocating."""

    def test_npz_header_declaring_4_tib(self, tmp_path):
        path = tmp_path / "bomb.npz"
        header = np.lib.format.header_data_from_array_1_0(np.zeros(1, np.float32))
        with zipfile.ZipFile(path, "w") as archive, archive.open("w.npy", "w") as f:
            np.lib.format.write_array_header_1_0(f, {**header, "shape": (1 << 20, 1 << 20)})
            f.write(b"\0" * 64)
        with pytest.raises(ValueError) as error:
            bounded.load_npz(str(path))
        assert str(error.value) == (f"{path}/w.npy: declares shape (1048576, 1048576) (4,398,046,511,104 bytes) but "
                                    "holds 64.")

    def test_npz_of_pickled_objects_is_refused(self, tmp_path):
        path = tmp_path / "objects.npz"
        np.savez(path, w=np.array([{"a": 1}], dtype=object))
        with pytest.raises(ValueError, match=r"w\.npy: dtype object refused \(numbers only\)\.$"):
            bounded.load_npz(str(path))

    def test_architecture_larger_than_the_stored_weights_is_not_built(self, tmp_path):
        path = _npz_export(tmp_path, img_resolution=1024, channel_max=16384, channel_base=1 << 24)
        with pytest.raises(ValueError) as error:
            reference.check_npz_export(path)
        assert str(error.value) == (f"{path[:-4]}.json: the declared Generator needs at least 21,743,271,936 "
                                    "weights, but the file holds 18,396.")

    @pytest.mark.parametrize("overrides, message", [
        (dict(img_resolution=1 << 20), "Generator img_resolution must be a power of two in [4, 16384], got 1048576."),
        (dict(w_dim=-1), "Generator w_dim must be an integer in [0, 16384], got -1."),
        (dict(mapping_layers=2.5), "Generator mapping_layers must be an integer in [0, 64], got 2.5."),
    ], ids=["resolution", "negative", "float"])
    def test_generator_arguments_out_of_bounds(self, tmp_path, overrides, message):
        path = _npz_export(tmp_path, **overrides)
        with pytest.raises(ValueError) as error:
            reference.check_npz_export(path)
        assert str(error.value) == f"{path[:-4]}.json: {message}"

    @pytest.mark.parametrize("network, path, value, message", [
        ("G", ["cfg"], _DELETED, r"the networks' constructor arguments are not the reference's \(G_kwargs / D_kwargs / "
                              r"training_set_kwargs: no 'cfg' entry\)\."),
        ("G", ["cfg", "motion"], [], r"the networks' constructor arguments are not the reference's .*'list' object.*"),
        ("G", ["mapping_kwargs"], "x", r"the networks' constructor arguments are not the reference's .*'str' object.*"),
        ("G", ["cfg", "z_dim"], "512", r"Generator z_dim must be an integer in \[0, 16384\], got '512'\."),
        ("D", ["mapping_kwargs", "num_layers"], 10 ** 9,
         r"Discriminator mapping_layers must be an integer in \[0, 64\], got 1000000000\."),
        ("D", ["channel_max"], 1 << 14, r"the declared Discriminator needs at least [0-9,]+ weights, but the file "
                                        r"holds [0-9,]+\."),
        ("D", ["cfg", "sampling"], None, r"the networks' constructor arguments are not the reference's .*'NoneType'.*"),
        ("D", ["img_resolution"], 128, r"the snapshot's D uses arguments that training flags cannot express .*"),
    ], ids=["G-no-cfg", "G-motion-list", "G-mapping-str", "G-z_dim-str", "D-1e9-layers", "D-huge-widths",
            "D-sampling-none", "D-other-resolution"])
    def test_reference_pickle_with_malformed_constructor_arguments(self, reference_pickle, tmp_path, monkeypatch,
                                                                   network, path, value, message):
        # The snapshot as read from the file, with one constructor argument replaced: refused, fast, before any
        # network (a 10^9-layer mapping) is built, and nothing is written.
        from svgan_tf.interop import importer, snapshot
        read = snapshot.read_snapshot(str(reference_pickle))
        kwargs = copy.deepcopy(read[network].init_kwargs)
        where = kwargs
        for key in path[:-1]:
            where = where[key]
        if value is _DELETED:
            del where[path[-1]]
        else:
            where[path[-1]] = value
        read[network] = dataclasses.replace(read[network], init_kwargs=kwargs)
        monkeypatch.setattr(importer, "read_snapshot", lambda *args, **kw: read)
        with pytest.raises(ValueError, match=f"^{re.escape(str(reference_pickle))}: {message}$"):
            importer.import_snapshot(str(reference_pickle), str(tmp_path / "run"))
        assert not (tmp_path / "run").exists()

    def test_checkpoint_errors_become_one_user_error(self, tmp_path):
        path = _npz_export(tmp_path, bogus=1)
        with pytest.raises(cli.UserError) as error:
            cli.load_generator(path)
        assert str(error.value) == (f"--checkpoint: {path}: cannot load a generator: Unrecognized keyword arguments "
                                    "passed to Generator: {'bogus': 1}")
        atomic.write_text(path[:-4] + ".json", "[1, 2]")
        with pytest.raises(cli.UserError, match=r"^--checkpoint: .*G\.json: Generator arguments must be a JSON "
                                                r"object, got list\.$"):
            cli.load_generator(path)
        with pytest.raises(cli.UserError, match=f"^--checkpoint: {tmp_path}/missing.npz: "):
            cli.load_generator(str(tmp_path / "missing.npz"))


class TestOutputs:
    """Outputs: never over themselves or their source, never partial, earlier data intact on a failed write."""

    def test_output_inside_its_source_is_refused(self, tmp_path):
        root = support.write_frame_folder(tmp_path / "frames", [3])
        before = sorted(p.name for p in root.rglob("*"))
        for out in (root / "sub", root):
            with pytest.raises(ValueError, match=rf"^--out {out} is inside its own source {root}; write it "):
                convert.make_dataset(str(root), str(out), 16, overwrite=True, log=lambda *a: None)
        assert sorted(p.name for p in root.rglob("*")) == before

    def test_existing_output_needs_overwrite(self, tmp_path):
        root = support.write_frame_folder(tmp_path / "frames", [3])
        out = tmp_path / "out"
        out.mkdir()
        (out / "mine.txt").write_text("keep")
        with pytest.raises(FileExistsError, match=f"^--out {out} exists"):
            convert.make_dataset(str(root), str(out), 16, log=lambda *a: None)
        assert os.listdir(out) == ["mine.txt"]

    def test_full_disk_mid_write_leaves_earlier_file_and_no_partial(self, tmp_path):
        target = tmp_path / "ckpt.npz"
        target.write_bytes(b"earlier")
        with pytest.raises(OSError) as error, atomic.staged_path(target) as staging, open(staging, "wb") as f:
            f.write(b"half of the new")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # what write() raises on a full disk
        assert cli._describe(error.value) == f"{target}: No space left on device."
        assert target.read_bytes() == b"earlier" and os.listdir(tmp_path) == ["ckpt.npz"]

    def test_unwritable_place(self, tmp_path):
        blocker = tmp_path / "file"
        blocker.write_text("x")  # a directory that cannot exist: root ignores chmod, not this
        with pytest.raises(NotADirectoryError) as error:
            atomic.write_json(blocker / "out.json", {})
        assert cli._describe(error.value) == f"{blocker}: Not a directory."
        assert blocker.read_text() == "x"


class TestPrograms:
    """From the command line: one line `<program>: error: ...`, exit status 2, no traceback, nothing written."""

    def test_dataset_absurd_labels(self, tmp_path):
        root = _labelled(tmp_path, '{"labels": [["vid0/000000.png", 1000000000], ["vid1/000000.png", 0]]}')
        result = support.run_program("svgan_tf.dataset", f"--source={root}", "--out=out", cwd=tmp_path)
        assert (result.returncode, result.stderr) == (
            2, f"svgan_tf.dataset: error: {root}/dataset.json: label 1000000000 of 'vid0/000000.png' needs more than "
               "the 4096 label dimensions allowed\n")
        assert sorted(os.listdir(tmp_path)) == ["frames"]

    def test_play_nan_before_loading_the_model(self, tmp_path):
        result = support.run_program("svgan_tf.play", "--model=absent.tflite", "--out=v.mp4", "--fps=nan", cwd=tmp_path)
        assert (result.returncode, result.stderr) == (2, "svgan_tf.play: error: --fps: must be > 0, got nan.\n")
        assert os.listdir(tmp_path) == []

    def test_evaluate_help_says_a_savedmodel_runs_code(self, tmp_path):
        result = support.run_program("svgan_tf.evaluate", "--help", cwd=tmp_path)
        assert "Loading a SavedModel runs its graph (TensorFlow code): pass only SavedModels you trust." in " ".join(
            result.stdout.split())
