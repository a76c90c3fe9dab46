#!/usr/bin/env bash
# Create .venv with everything hvae-zoo needs: the pinned PyTorch build, the package itself
# (editable) with its test extras, Graphviz's `dot` for rendering diagrams, chromium for the browser
# tests of the HTML reports, and the npm packages of editors/vscode (the TextMate engine its grammar
# is tested with).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if ! command -v dot >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        (apt-get install -y -q graphviz >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q graphviz >/dev/null; }) \
            || echo "warning: could not install Graphviz; 'zoo render' will write .dot files only" >&2
    else
        echo "warning: Graphviz 'dot' not found; install it (e.g. apt-get install graphviz) for SVG/PNG/PDF diagrams" >&2
    fi
fi
# Debian's chromium: the HTML reports (zoo report) are tested in a real headless browser, which
# Playwright (a test dependency) drives; without it those tests skip and say why.
if ! command -v chromium >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        (apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null; }) \
            || echo "warning: could not install chromium; the browser tests of zoo report will skip" >&2
    else
        echo "warning: chromium not found; install it (e.g. apt-get install chromium) to run the browser tests of zoo report" >&2
    fi
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q torch==2.14.1 torchvision==0.29.1
.venv/bin/python -m pip install -q -e ".[test]"
# the TextMate grammar's test engine (vscode-textmate + vscode-oniguruma) and the VS Code client
if command -v npm >/dev/null 2>&1; then
    npm install --silent --prefix editors/vscode >/dev/null \
        || echo "warning: npm install in editors/vscode failed; the TextMate grammar test will be skipped" >&2
else
    echo "warning: npm not found; the TextMate grammar test (tests/tooling/test_highlighting.py) will be skipped" >&2
fi
touch .venv/.installed
