# Shared by scripts/test and scripts/run: install what is missing, build.
# Idempotent: a second run installs nothing and rebuilds only what changed.

readonly REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly JOBS="${JOBS:-2}"

say() { printf '\n==> %s\n' "$*"; }

# Debian packages the build, the tests and the local stack need.
readonly APT_PACKAGES=(
  cmake g++ make pkg-config
  libboost-dev libpqxx-dev nlohmann-json3-dev prometheus-cpp-dev doctest-dev libssl-dev
  postgresql-15 postgresql-client-15 pgbouncer
  clang clang-format clang-tidy libclang-rt-14-dev
  python3 python3-yaml
  prometheus
  nodejs npm
  curl procps
)

ensure_packages() {
  local missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  # The machine image may ship Node.js outside dpkg; a working node is enough.
  if command -v node >/dev/null && command -v npm >/dev/null; then
    local filtered=()
    for pkg in "${missing[@]}"; do [[ "$pkg" == nodejs || "$pkg" == npm ]] || filtered+=("$pkg"); done
    missing=("${filtered[@]}")
  fi
  if ((${#missing[@]} == 0)); then
    say "system packages: all present"
    return
  fi
  say "installing system packages: ${missing[*]}"
  local sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# npm ci into a folder unless its node_modules already matches the committed lock.
ensure_npm() {
  local dir="$1"
  local stamp="$dir/node_modules/.fgac-lock-sha"
  local want
  want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    say "npm packages in ${dir#"$REPO_DIR"/}: up to date"
    return
  fi
  say "npm ci in ${dir#"$REPO_DIR"/}"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" >"$stamp"
}

ensure_node_packages() {
  ensure_npm "$REPO_DIR/deploy/local/authz-server"
  ensure_npm "$REPO_DIR/tools"
  ensure_npm "$REPO_DIR/deploy/tests/k8s-validate"
}

# build DIR [cmake args...]: configure once, then build with $JOBS jobs.
build() {
  local dir="$1"
  shift
  say "building ${dir#"$REPO_DIR"/} ($*)"
  cmake -S "$REPO_DIR" -B "$dir" "$@" >/dev/null
  cmake --build "$dir" -j "$JOBS"
}
