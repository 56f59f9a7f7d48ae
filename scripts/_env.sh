# Shared by scripts/serve and scripts/test: make .venv with the project installed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
VENV="$ROOT/.venv"

ensure_venv() {
  # The project with its extras, every package at the version constraints.txt pins (the
  # versions audited; README "Auditing dependencies" tells how to refresh them).
  local extras="$1"
  if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
  fi
  local stamp="$VENV/.installed-$extras"
  if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ] ||
    [ "$ROOT/constraints.txt" -nt "$stamp" ]; then
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -c "$ROOT/constraints.txt" -e "$ROOT[$extras]"
    touch "$stamp"
  fi
}

write_constraints() {
  # constraints.txt from what .venv holds now (after changing pyproject.toml: install,
  # test, then run this and commit the file).
  {
    sed -n '1,/^# Regenerate/p' "$ROOT/constraints.txt"
    "$VENV/bin/python" -m pip list --format=freeze --exclude-editable \
      --exclude pip --exclude setuptools --exclude wheel
  } >"$ROOT/constraints.txt.new"
  mv "$ROOT/constraints.txt.new" "$ROOT/constraints.txt"
}

ensure_debian_packages() {
  # Debian packages the tests drive: Chromium (browser tests), GDAL (OGC client tests).
  local missing=()
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v ogrinfo >/dev/null 2>&1 || missing+=(gdal-bin)
  # A CJK font so screenshots (test artifacts, README) show Chinese text.
  [ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing+=(fonts-wqy-microhei)
  if [ "${#missing[@]}" -gt 0 ]; then
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing Debian packages: ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

ensure_cjk_font() {
  # The CJK font the progress report (PDF and its map) embeds; scripts/serve needs it.
  [ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing Debian packages: fonts-wqy-microhei" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq fonts-wqy-microhei >/dev/null
}

postgres_bin() {
  # The newest installed PostgreSQL server's bin folder (Debian layout), or nothing.
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  [ -n "$dir" ] && [ -x "$dir/postgres" ] && echo "$dir"
}

ensure_postgis_packages() {
  # Debian's PostgreSQL server and PostGIS, for the tests on the PostGIS backend.
  local bin version sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  bin="$(postgres_bin || true)"
  if [ -z "$bin" ]; then
    echo "installing Debian packages: postgresql" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
    bin="$(postgres_bin)"
  fi
  version="$(basename "$(dirname "$bin")")"
  if [ ! -f "/usr/share/postgresql/$version/extension/postgis.control" ]; then
    echo "installing Debian packages: postgresql-$version-postgis-3" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "postgresql-$version-postgis-3" >/dev/null
  fi
}
