"""Macros of the svgan-tf build: programs from entry functions, and one Bazel test per pytest file."""

def _entry_main_impl(ctx):
    module, function = ctx.attr.entry.split(":")
    ctx.actions.write(ctx.outputs.out, "from {} import {}\n\n{}()\n".format(module, function, function))

_entry_main = rule(
    implementation = _entry_main_impl,
    attrs = {
        "entry": attr.string(mandatory = True),
        "out": attr.output(mandatory = True),
    },
)

def py_entry_binary(name, entry, **kwargs):
    """A py_binary that calls `entry` ("module:function"), as pip's console script of the same name does.

    Use it in the root package: Python puts the main file's directory first on sys.path, and only the
    repository root is free of modules that shadow installed packages (svgan_tf/export/onnx.py would hide `onnx`),
    just as for `python -m module` run from the root.

    Args:
      name: the target, also the console script's name.
      entry: "module:function" to call, as in pyproject.toml's [project.scripts].
      **kwargs: passed to py_binary (deps, data, ...).
    """
    main = "_{}_main.py".format(name)
    _entry_main(name = name + "_main", entry = entry, out = main)
    native.py_binary(name = name, srcs = [main], main = main, **kwargs)

def pytest_test(name, src = None, **kwargs):
    """A py_test that runs the pytest file `src` (default: name + ".py") through //bazel:pytest_runner.py.

    Args:
      name: the target.
      src: the test file, in the calling package.
      **kwargs: passed to py_test (deps, data, size, ...).
    """
    src = src or name + ".py"
    native.py_test(
        name = name,
        srcs = ["//bazel:pytest_runner.py", src],
        main = "//bazel:pytest_runner.py",
        args = ["$(rootpath {})".format(src)],
        **kwargs
    )
