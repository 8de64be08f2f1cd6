# Shared by scripts/test and scripts/demo: make .venv if missing and install onnxbridge into it.
# Usage: source scripts/_env.sh EXTRAS   (e.g. "all,test")
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
EXTRAS="${1:-all}"
if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv"
    python3 -m venv .venv
fi
STAMP=".venv/.installed-$EXTRAS"
# Reinstall only when the package metadata or the pins changed since the last install.
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ] || [ constraints.txt -nt "$STAMP" ]; then
    echo "==> installing onnxbridge[$EXTRAS] into .venv (first run downloads torch and tensorflow)"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -c constraints.txt -e ".[$EXTRAS]"
    touch "$STAMP"
fi
export PATH="$ROOT/.venv/bin:$PATH"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-3}"
