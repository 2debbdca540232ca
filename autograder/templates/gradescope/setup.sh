#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
# $AUTOGRADER_ROOT and $MLP_GRADE_VENV move the bundle's root and the grader's venv (for testing).
set -euo pipefail
AUTOGRADER_ROOT="${AUTOGRADER_ROOT:-/autograder}"
VENV="${MLP_GRADE_VENV:-/opt/mlp-grade}"
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
    apt-get update && apt-get install -y python3.11 python3.11-venv && PYTHON=python3.11
fi
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install "$AUTOGRADER_ROOT/source/package"
# fetch and verify MNIST now, while the image build has internet (from $MLP_DATA_DIR when set: no download)
"$VENV/bin/python" -c "from autograder.data import load_mnist; load_mnist('mnist')"
chmod -R a+rX "$VENV" "${XDG_CACHE_HOME:-$HOME/.cache}/mlp-backprop" 2>/dev/null || true
