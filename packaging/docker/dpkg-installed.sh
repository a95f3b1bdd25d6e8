# shellcheck shell=bash
# Sourced by scripts/install-deps.sh, packaging/docker/install-build-deps.sh and
# tests/packaging/run.sh: is a Debian package installed?
#
# Installed for this machine's architecture (or "all"). With multiarch (the arm64 cross build
# of tests/packaging installs e.g. libavcodec-dev:arm64 beside the native one), a bare name
# matches one line per architecture; a name with ":arch" asks for that architecture only.
installed() {
  local want
  want="^installed ($(dpkg --print-architecture)|all)\$"
  [[ "$1" == *:* ]] && want="^installed "
  dpkg-query -W -f='${db:Status-Status} ${Architecture}\n' "$1" 2>/dev/null | grep -Eq "$want"
}
