#!/usr/bin/env bash
# The main job on the bundled example: assess a synthetic case, write its report
# (HTML and PDF) to out/, then start the web app on an embedded SQLite registry
# seeded with a synthetic demo clinic. Ctrl-C stops the server.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
mkdir -p out
case_file=examples/cases/sequestration_rim_three_mri.yaml
resorb assess "$case_file" --html out/report.html --pdf out/report.pdf
echo
echo "report: out/report.html and out/report.pdf"
echo
exec resorb serve --demo --db "sqlite:///$PWD/out/demo.db" "$@"
