#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
set -euo pipefail
AUTOGRADER_ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
    apt-get update && apt-get install -y python3.11 python3.11-venv && PYTHON=python3.11
fi
"$PYTHON" -m venv /opt/mlp-grade
/opt/mlp-grade/bin/pip install "$AUTOGRADER_ROOT/source/package"
# fetch and verify MNIST now, while the image build has internet
/opt/mlp-grade/bin/python -c "from autograder.data import load_mnist; load_mnist('mnist')"
chmod -R a+rX /opt/mlp-grade "${XDG_CACHE_HOME:-$HOME/.cache}/mlp-backprop" 2>/dev/null || true
