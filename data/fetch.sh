#!/usr/bin/env bash
# Fetch the real datasets with the official Kaggle client, or generate the SYNTHETIC sample.
#   data/fetch.sh idc        Kaggle paultimothymooney/breast-histopathology-images -> data/raw/idc
#   data/fetch.sh breakhis   Kaggle forderation/breakhis-400x                      -> data/raw/breakhis
#   data/fetch.sh all        both
#   data/fetch.sh sample     the built-in synthetic sample                          -> data/sample
# Safe to run again: a download resumes, a finished dataset is left as it is, and a failure
# never deletes or overwrites data already in place. Credentials are never printed.
set -euo pipefail
set +x
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -n "${PYTHON:-}" ]; then py="$PYTHON"
elif [ -x "$root/.venv/bin/python" ]; then py="$root/.venv/bin/python"
else py="python3"; fi
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
data="${BC_DATA_DIR:-$root/data}"

die() { echo "error: $*" >&2; exit 2; }

check_credentials() {
  if [ -n "${KAGGLE_USERNAME:-}" ] && [ -n "${KAGGLE_KEY:-}" ]; then return 0; fi
  if [ -n "${KAGGLE_API_TOKEN:-}" ]; then return 0; fi
  local cfg="${KAGGLE_CONFIG_DIR:-$HOME/.kaggle}/kaggle.json"
  if [ ! -f "$cfg" ]; then
    echo "error: no Kaggle credentials found. Create a token at https://www.kaggle.com/settings" >&2
    echo "  (API > Create New Token), save it as $cfg and run: chmod 600 $cfg" >&2
    echo "  or set KAGGLE_USERNAME and KAGGLE_KEY in the environment." >&2
    exit 3
  fi
  local mode
  mode="$(stat -c %a "$cfg")"
  if [ "${mode: -2}" != "00" ]; then
    chmod 600 "$cfg"
    echo "note: $cfg was readable by other users (mode $mode); it is now 600 (owner only)." >&2
  fi
}

kaggle_client() {
  if command -v kaggle >/dev/null 2>&1; then command -v kaggle; return 0; fi
  local beside; beside="$(dirname "$py")/kaggle"
  if [ ! -x "$beside" ]; then
    echo "installing the official Kaggle client (pip install kaggle)..." >&2
    "$py" -m pip install --quiet kaggle >&2 || die "could not install the Kaggle client: pip install kaggle"
  fi
  echo "$beside"
}

fetch() {
  local name="$1" slug="$2" dest="$data/raw/$1" downloads="$data/downloads/$1"
  if [ -f "$dest/.fetched.json" ]; then echo "$name: already in $dest"; return 0; fi
  check_credentials
  local client; client="$(kaggle_client)"
  mkdir -p "$downloads"
  echo "$name: downloading $slug into $downloads (resumes if interrupted)"
  "$client" datasets download -d "$slug" -p "$downloads" \
    || die "$name: the download stopped; run data/fetch.sh $name again to resume"
  local archive
  archive="$(find "$downloads" -maxdepth 1 -name '*.zip' | head -n 1)"
  [ -n "$archive" ] || die "$name: the Kaggle client left no .zip in $downloads"
  echo "$name: unpacking and checking $archive"
  "$py" -m bc_helpers.data.fetch --dataset "$name" --archive "$archive" --out "$dest" \
    ${BC_EXPECT_IMAGES:+--expect "$BC_EXPECT_IMAGES"}
}

case "${1:-}" in
  idc) fetch idc paultimothymooney/breast-histopathology-images ;;
  breakhis) fetch breakhis forderation/breakhis-400x ;;
  all) fetch idc paultimothymooney/breast-histopathology-images
       fetch breakhis forderation/breakhis-400x ;;
  sample)
    if [ -f "$data/sample/sample.json" ]; then echo "sample: already in $data/sample"
    else "$py" -m bc_helpers sample --out "$data/sample"; fi ;;
  *) echo "usage: data/fetch.sh idc|breakhis|all|sample" >&2; exit 2 ;;
esac
