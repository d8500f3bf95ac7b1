# Shared helpers for the set-up scripts. Source it; do not run it.
set -euo pipefail

# apt_install PKG...: installs the Debian packages that are missing, refreshing the
# package lists once per run. Idempotent: installed packages cost one dpkg query.
apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$pkg")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    if [ ! -e /tmp/.tierstack-apt-updated ]; then
        apt-get update -qq
        touch /tmp/.tierstack-apt-updated
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

die() {
    echo "tierstack setup: $*" >&2
    exit 1
}
