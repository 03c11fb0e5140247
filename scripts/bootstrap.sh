#!/usr/bin/env bash
# Builds what is missing: the app environment (.venv, Python 3.12) and the Rasa environment (.venv-rasa,
# Python 3.10.13, rasa==3.6.21), each rebuilt when its lock file changes; and Debian's chromium for the browser
# test of the web chat pages (Playwright drives /usr/bin/chromium; it never downloads a browser). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
export RASA_TELEMETRY_ENABLED=false PIP_DISABLE_PIP_VERSION_CHECK=1

find_python() {  # find_python 3.12 | 3.10.13 -> path of an interpreter of that version
  local want="$1" candidate
  local root; root="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"
  for candidate in "$root"/versions/"$want"*/bin/python"${want%.*}" "$root"/versions/"$want"*/bin/python3 \
                   "$(command -v "python${want%.*}" || true)" "$(command -v "python$want" || true)"; do
    [[ -x "$candidate" ]] || continue
    if "$candidate" -c "import sys; v='.'.join(map(str, sys.version_info[:3])); sys.exit(0 if v.startswith('$want') else 1)" 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "Python $want not found. Install it (e.g. 'pyenv install $want') and run this again." >&2
  return 1
}

apt_install() {  # apt_install PACKAGE... -> Debian packages, as root or with password-less sudo; 1 if neither works
  local run=()
  if [[ "$(id -u)" -ne 0 ]]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then run=(sudo -n); else return 1; fi
  fi
  command -v apt-get >/dev/null || return 1
  echo "      ${run[*]:+${run[*]} }apt-get install -y --no-install-recommends $*"
  if ! "${run[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"; then
    echo "      ${run[*]:+${run[*]} }apt-get update, then again"  # a fresh machine has no package lists yet
    "${run[@]}" apt-get update -q && \
      "${run[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
  fi
}

stamp_ok() {  # stamp_ok VENV LOCK -> the venv was built from this exact lock file
  [[ -f "$1/.built-from" ]] && [[ "$(cat "$1/.built-from")" == "$(sha256sum "$2" | cut -d' ' -f1)" ]]
}

build() {  # build STEP VENV VERSION LOCK PIP_VERSION
  local step="$1" venv="$2" version="$3" lock="$4" pip_version="$5"
  if stamp_ok "$venv" "$lock"; then
    echo "[$step] $venv is up to date"
    return 0
  fi
  local python; python="$(find_python "$version")"
  echo "[$step] building $venv with $("$python" --version) from $lock (a few minutes the first time) ..."
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --progress-bar on -q "pip==$pip_version"
  "$venv/bin/python" -m pip install --progress-bar on -r "$lock"
  sha256sum "$lock" | cut -d' ' -f1 > "$venv/.built-from"
}

build "1/4" .venv-rasa 3.10.13 requirements/rasa.lock 24.0
build "2/4" .venv 3.12 requirements/app.lock 26.3
if ! .venv/bin/python -c "import hotline, bot, actions" 2>/dev/null || [[ ! -x .venv/bin/hotline ]]; then
  echo "[3/4] installing the hotline package (editable) ..."
  .venv/bin/python -m pip install -q --no-deps --no-build-isolation -e .
else
  echo "[3/4] the hotline package is installed"
fi
if [[ -x /usr/bin/chromium ]]; then
  echo "[4/4] chromium is installed (/usr/bin/chromium, for the browser test)"
else
  echo "[4/4] installing Debian's chromium for the browser test of the web chat (tests/web/test_browser.py) ..."
  if ! apt_install chromium || [[ ! -x /usr/bin/chromium ]]; then
    echo "The browser test (tests/web/test_browser.py) needs Debian's chromium at /usr/bin/chromium, and it could" >&2
    echo "not be installed here (this needs root or password-less sudo, and apt-get). Install it with" >&2
    echo "    sudo apt-get install -y --no-install-recommends chromium" >&2
    echo "and run 'make setup' again." >&2
    exit 1
  fi
fi
if command -v fc-list >/dev/null && [[ -z "$(fc-list :lang=zh 2>/dev/null)" ]]; then
  echo "      no Chinese font: installing fonts-wqy-microhei so that the browser test's screenshots are readable"
  apt_install fonts-wqy-microhei || echo "      (could not; the screenshots will show boxes for Chinese text)"
fi
