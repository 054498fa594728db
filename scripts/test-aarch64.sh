#!/usr/bin/env bash
# Cross-compiles the looplet core, its C tests and the C examples for aarch64
# (g++-aarch64-linux-gnu) and runs them with ctest under qemu-aarch64 in user
# mode: the assembly context switch (switch_aarch64_aapcs64.S), the
# coroutine, hub and poller tests, and the echo example over 127.0.0.1.
#
#   scripts/test-aarch64.sh [BUILD_DIR]        default: build-c-aarch64/
#
# Needs, on Debian/Ubuntu:  apt-get install g++-aarch64-linux-gnu qemu-user
# Overrides: AARCH64_CC, AARCH64_CXX, QEMU_AARCH64, AARCH64_SYSROOT
# (default /usr/aarch64-linux-gnu, where the cross libc lives).
# Exit status: 0 passed, 1 failed, 77 skipped because a tool is missing.
# `CI=true node scripts/test-c.mjs` runs this as its aarch64 step (~10 s).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-"$root/build-c-aarch64"}
cc=${AARCH64_CC:-aarch64-linux-gnu-gcc}
cxx=${AARCH64_CXX:-aarch64-linux-gnu-g++}
qemu=${QEMU_AARCH64:-qemu-aarch64}
sysroot=${AARCH64_SYSROOT:-/usr/aarch64-linux-gnu}
jobs=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)

missing=()
for tool in "$cc" "$cxx" "$qemu" cmake ctest; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[ -d "$sysroot" ] || missing+=("$sysroot")
if [ ${#missing[@]} -gt 0 ]; then
  echo "test-aarch64: skipped, not found: ${missing[*]}"
  echo "  (Debian/Ubuntu: apt-get install g++-aarch64-linux-gnu qemu-user)"
  exit 77
fi

# A tree configured for another source directory cannot be reused.
if [ -f "$build/CMakeCache.txt" ] &&
  ! grep -qx "CMAKE_HOME_DIRECTORY:INTERNAL=$root/native" "$build/CMakeCache.txt"; then
  rm -rf "$build"
fi

set -x
cmake -S "$root/native" -B "$build" \
  -DCMAKE_BUILD_TYPE=Release \
  -DLOOPLET_WARNINGS_AS_ERRORS=ON \
  -DCMAKE_SYSTEM_NAME=Linux \
  -DCMAKE_SYSTEM_PROCESSOR=aarch64 \
  -DCMAKE_C_COMPILER="$cc" \
  -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_ASM_COMPILER="$cc" \
  -DCMAKE_FIND_ROOT_PATH="$sysroot" \
  -DCMAKE_FIND_ROOT_PATH_MODE_PROGRAM=NEVER \
  -DCMAKE_FIND_ROOT_PATH_MODE_LIBRARY=ONLY \
  -DCMAKE_FIND_ROOT_PATH_MODE_INCLUDE=ONLY \
  -DCMAKE_CROSSCOMPILING_EMULATOR="$qemu;-L;$sysroot"
cmake --build "$build" --parallel "$jobs"
cd "$build"
ctest --output-on-failure --parallel "$jobs"
