#!/usr/bin/env bash
# Build the documentation site into site/ (mkdocs-material, API reference from the
# numpydoc docstrings via mkdocstrings). Warnings are errors (strict: true in
# mkdocs.yml). Usage: bash scripts/docs.sh [extra mkdocs build options]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
MKDOCS=${MKDOCS:-.venv/bin/mkdocs}
if [ ! -x "$MKDOCS" ]; then
  echo "scripts/docs.sh: $MKDOCS not found; install the docs extra: .venv/bin/pip install -e '.[docs]'" >&2
  exit 2
fi
export NO_MKDOCS_2_WARNING=1
echo "building the documentation site into site/ (about 10-30 s)" >&2
exec "$MKDOCS" build --strict --clean "$@"
