# Shared by scripts/demo, scripts/test and .ci/run: install what the build
# needs from Debian, then configure and build.
set -euo pipefail

ACEFIT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ACEFIT_PACKAGES=(cmake ninja-build g++ pkg-config libopenblas-dev nlohmann-json3-dev libcli11-dev
  libgtest-dev libbenchmark-dev clang-format libpcre2-dev libutf8proc-dev libflac-dev
  libmp3lame-dev libopus-dev libopusenc-dev libopusfile-dev libvulkan-dev libze-dev glslc
  mesa-vulkan-drivers vulkan-tools libsqlite3-dev libcpp-httplib-dev chromium)

acefit_install_packages() {
  local missing=()
  local package
  for package in "${ACEFIT_PACKAGES[@]}" "$@"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$package")
    fi
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    return 0
  fi
  echo "acefit: installing Debian packages: ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# acefit_build BUILD_DIR [cmake args...]
acefit_build() {
  local dir="$1"
  shift
  cmake -S "$ACEFIT_ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
  cmake --build "$dir" --parallel "$(nproc)"
}
