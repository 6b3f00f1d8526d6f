"""Stand-in for @rules_cc//cc:defs.bzl that forwards to Bazel's native C++ rules.

Bazel 4 loads this file (from @bazel_tools' C++ toolchain packages) even in a Python-only build, and would
otherwise download rules_cc from the network. These are the symbols @bazel_tools loads.
"""

def cc_binary(**attrs):
    native.cc_binary(**attrs)

def cc_library(**attrs):
    native.cc_library(**attrs)

def cc_proto_library(**attrs):
    native.cc_proto_library(**attrs)

def cc_test(**attrs):
    native.cc_test(**attrs)

def cc_toolchain(**attrs):
    native.cc_toolchain(**attrs)

def cc_toolchain_suite(**attrs):
    native.cc_toolchain_suite(**attrs)

def objc_library(**attrs):
    native.objc_library(**attrs)
