#!/usr/bin/env bash
# Creates (once) the Python virtualenv that runs the offline SPID/CIE peers.
# Idempotent: a marker file records the installed pins; when it matches, this
# is a fast no-op. Prints the venv's python path on the last line of stdout.
set -euo pipefail

VENV="${VARCO_SPID_VENV:-$HOME/.cache/varco-spid-venv}"
PY="${PYTHON:-python3}"
# The pins: the reference OP/TA, the theme its templates extend, and the
# ceilings it needs (Django 5 and pydantic 2 break it).
PINS=(
    'spid-cie-oidc==1.6.3'
    'design-django-theme==1.4.8'
    'Django>=4.2,<5'
    'pydantic<2'
    'requests>=2.28'
)
MARKER="$VENV/.varco-spid-pins"
WANT="$(printf '%s\n' "${PINS[@]}")"

if [ -x "$VENV/bin/python" ] && [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "$WANT" ]; then
    echo "$VENV/bin/python"
    exit 0
fi

echo "setting up the SPID/CIE peers venv in $VENV" >&2
if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
fi
# migrated-database templates belong to the old pins
rm -rf "$VENV/varco-spid-db-templates"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PINS[@]}" >&2
# Import check: a half-installed venv must not get the marker.
"$VENV/bin/python" - >&2 <<'PYEOF'
import django, spid_cie_oidc, bootstrap_italia_template, requests  # noqa: F401
import importlib.util
for mod in ("spid_cie_oidc.provider", "spid_cie_oidc.authority", "spid_cie_oidc.relying_party", "djagger"):
    assert importlib.util.find_spec(mod), mod
PYEOF
printf '%s\n' "$WANT" >"$MARKER"
echo "$VENV/bin/python"
