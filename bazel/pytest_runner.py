"""Runs one pytest file as a Bazel test: the main of every `pytest_test` target (bazel/defs.bzl).

Bazel starts it in the test's runfiles tree with the test file as argument. Under `bazel test`, pytest
writes Bazel's test XML (XML_OUTPUT_FILE); the temporary files of the tests and of the programs they start
go to the test's private TEST_TMPDIR; and `--test_filter=EXPR` selects tests as `pytest -k EXPR`. No
pytest cache is written into the runfiles tree. The exit status is pytest's, so a failure, an error or a
file without tests fails the target.
"""

import os
import sys

import pytest


def main():
    """Runs pytest on the arguments with Bazel's test environment; returns pytest's exit status."""
    args = [*sys.argv[1:], "-p", "no:cacheprovider"]
    if "XML_OUTPUT_FILE" in os.environ:
        args.append("--junitxml=" + os.environ["XML_OUTPUT_FILE"])
    if "TEST_TMPDIR" in os.environ:
        os.environ["TMPDIR"] = os.environ["TEST_TMPDIR"]  # read by tempfile, here and in child processes
        args.append("--basetemp=" + os.path.join(os.environ["TEST_TMPDIR"], "pytest"))
    if os.environ.get("TESTBRIDGE_TEST_ONLY"):
        args += ["-k", os.environ["TESTBRIDGE_TEST_ONLY"]]
    return pytest.main(args)


if __name__ == "__main__":
    sys.exit(main())
