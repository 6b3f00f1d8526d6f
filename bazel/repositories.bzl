"""Repository rules that take what the build needs from this machine, so that nothing is downloaded.

`python_interpreter` registers the Python interpreter named by `PYTHON_BIN` (else `python3` on PATH) as
the Python toolchain; `reference_fixtures` exposes the reference fixtures in `../shared` beside the
checkout (where tests/conftest.py looks for them) as a repository that tests depend on.
"""

_PYTHON_BUILD = """\
load("@bazel_tools//tools/python:toolchain.bzl", "py_runtime_pair")

py_runtime(
    name = "python3",
    interpreter_path = "{interpreter}",
    python_version = "PY3",
    stub_shebang = "#!{interpreter}",
)

py_runtime_pair(
    name = "runtime_pair",
    py3_runtime = ":python3",
)

toolchain(
    name = "toolchain",
    toolchain = ":runtime_pair",
    toolchain_type = "@bazel_tools//tools/python:toolchain_type",
)
"""

def _python_interpreter_impl(rctx):
    name = rctx.os.environ.get("PYTHON_BIN", "python3")
    python = rctx.path(name) if name.startswith("/") else rctx.which(name)
    if python == None or not python.exists:
        fail("PYTHON_BIN={}: not an absolute path to a Python interpreter nor a command on PATH".format(name))

    # The interpreter names itself: a pyenv shim or other wrapper gives way to the real interpreter (a
    # shim would need the caller's HOME, which tests do not get), while a virtual environment's python
    # keeps its own path (resolving that symlink would lose the environment's packages).
    result = rctx.execute([python, "-c", "import sys; print(sys.executable)"])
    if result.return_code != 0 or not result.stdout.strip():
        fail("PYTHON_BIN={}: cannot run it: {}".format(name, result.stderr))

    # The launcher scripts start with the same interpreter, not whichever python3 comes first on PATH.
    rctx.file("BUILD", _PYTHON_BUILD.format(interpreter = result.stdout.strip()))

python_interpreter = repository_rule(
    implementation = _python_interpreter_impl,
    environ = ["PYTHON_BIN", "PATH"],
    local = True,
)

def _reference_fixtures_impl(rctx):
    # Named `shared`, this repository sits beside the main one in every runfiles tree too, so the layout
    # tests/conftest.py expects holds there as well. The link is made even when ../shared is absent (the
    # filegroup is then empty and the parity tests skip with the same loud note as under plain pytest):
    # Bazel checks files outside the workspace at every build, so fixtures that appear, change or go away
    # later re-run the tests, although this rule runs only once per Bazel server.
    shared = rctx.path(Label("//:WORKSPACE")).dirname.dirname.get_child("shared")
    rctx.symlink(shared.get_child("fixtures"), "fixtures")
    rctx.file("BUILD", """\
filegroup(
    name = "fixtures",
    srcs = glob(["fixtures/**"]),
    visibility = ["//visibility:public"],
)
""")

reference_fixtures = repository_rule(
    implementation = _reference_fixtures_impl,
    local = True,
)
