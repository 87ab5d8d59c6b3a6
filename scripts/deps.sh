# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by scripts/run and scripts/test: make sure Debian 12's packages for
# building (and, with "test", testing) switchboard are installed. As root it
# installs what is missing; otherwise it names the apt-get command to run.

# scdoc builds the man pages (optional: -Dman=auto); bash-completion's
# pkg-config file says where bash completion goes. libnats-dev builds
# switchboard-bridge (optional: -Dbridge=auto): Debian's packaged, maintained
# official NATS C client.
sb_build_packages="build-essential pkgconf meson ninja-build libsystemd-dev libglib2.0-dev check
        libdbus-1-dev libjson-c-dev gettext dbus-daemon dbus-bin scdoc bash-completion libnats-dev"
# man-db renders the man pages in tests/man; zsh checks the zsh completion;
# tests/applet runs the GTK 4 applet under Xvfb and takes a screenshot with
# ImageMagick's import; nats-server is the real NATS of tests/bridge and
# bench/run-bridge.
sb_test_packages="systemd libglib2.0-bin python3-dbus python3-gi libxml2-utils socat nodejs strace clang libclang-rt-14-dev
        man-db zsh xvfb xauth gir1.2-gtk-4.0 imagemagick nats-server"

sb_install_deps() {
        local want="$sb_build_packages" missing=""
        [ "${1:-}" = test ] && want="$want $sb_test_packages"
        for p in $want; do
                dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
                        missing="$missing $p"
        done
        [ -z "$missing" ] && return 0
        if [ "$(id -u)" -ne 0 ]; then
                echo "switchboard needs these Debian packages:$missing" >&2
                echo "Install them with: sudo apt-get install$missing" >&2
                return 1
        fi
        echo "Installing:$missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null
}
