#!/usr/bin/env bash
# Runs once, as root, when Gradescope builds the autograder image (Ubuntu 22.04, python3 3.10).
# Installs the grader's pinned dependencies into its own venv and leaves the system python alone.
set -euo pipefail
cd /autograder/source
if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c "import ensurepip" >/dev/null 2>&1; then
    apt-get update -q && apt-get install -y -q python3-venv
fi
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install --quiet --no-cache-dir --upgrade pip
/autograder/venv/bin/pip install --quiet --no-cache-dir -r requirements.txt
# The venv stays world-readable (the sandboxed tests run as an unprivileged uid); the bundle does not.
chmod 700 /autograder/source
