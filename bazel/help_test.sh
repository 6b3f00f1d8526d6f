#!/usr/bin/env bash
# help_test.sh FLAG PROGRAM [ARGS...]: PROGRAM ARGS --helpfull must start and list FLAG (a Bazel test that
# the svgan-* binaries run: imports, flag definitions, the entry functions of svgan_tf/cli.py).
set -uo pipefail
flag="$1"
shift
help="$("$@" --helpfull 2>&1)"
if ! grep -q -- "^ *${flag}:" <<<"${help}"; then
  echo "$* --helpfull does not list ${flag}:"
  echo "${help}"
  exit 1
fi
