# Shared by the comparison scripts in docs/bench (source it from the project root after setting
# `script` to the caller's name and `core` from its --openblas-core option).
#
#   require_python_env "torch onnx" "torch==2.15.0 numpy onnx"   # modules to import, what to pip install
#   build_bench                                                  # release cyclex-bench → $BENCH
#   run_cyclex ARGS...                                           # $BENCH with OPENBLAS_CORETYPE from $core
#
# PY is $TORCHENV/bin/python; a missing or incomplete environment ends the script with the
# commands that make one.

require_python_env() {
    local modules="$1" packages="$2"
    TORCHENV="${TORCHENV:-}"
    PY="$TORCHENV/bin/python"
    if ! [ -x "$PY" ] || ! "$PY" -c "import ${modules// /, }" 2>/dev/null; then
        cat >&2 <<MSG
$script: TORCHENV="$TORCHENV" is not a Python environment whose bin/python imports ${modules// /, }.
Make one and point TORCHENV at it:
    python3 -m venv ~/torchenv
    ~/torchenv/bin/pip install $packages
    TORCHENV=~/torchenv docs/bench/$script
MSG
        exit 1
    fi
}

build_bench() {
    echo "building cyclex-bench (release) ..." >&2
    swift build -c release --scratch-path .build-bench --product cyclex-bench >&2
    BENCH=.build-bench/release/cyclex-bench
}

run_cyclex() {
    if [ "$core" = unset ]; then
        env -u OPENBLAS_CORETYPE "$BENCH" "$@"
    elif [ -n "$core" ]; then
        OPENBLAS_CORETYPE="$core" "$BENCH" "$@"
    else
        "$BENCH" "$@"
    fi
}
