"""Stand-in for @rules_java//java:defs.bzl that forwards to Bazel's native Java rules.

Bazel 4 loads this file (from @bazel_tools' JDK packages) even in a Python-only build, and would otherwise
download rules_java from the network. These are the symbols @bazel_tools loads.
"""

def java_binary(**attrs):
    native.java_binary(**attrs)

def java_import(**attrs):
    native.java_import(**attrs)

def java_library(**attrs):
    native.java_library(**attrs)

def java_proto_library(**attrs):
    native.java_proto_library(**attrs)

def java_runtime(**attrs):
    native.java_runtime(**attrs)

def java_toolchain(**attrs):
    native.java_toolchain(**attrs)
