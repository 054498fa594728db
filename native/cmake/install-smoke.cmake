cmake_minimum_required(VERSION 3.16)
# ctest script: installs the build into a scratch prefix, then compiles and
# runs a C program against the installed files twice: through pkg-config
# with the shared library, and with the C compiler alone against
# liblooplet.a (proving the static core needs no C++ runtime).
#   cmake -DBUILD_DIR=... -DCONFIG=... -DPREFIX=... -DLIBDIR=lib -DCC=cc
#         -DSOURCE=install_smoke.c -P install-smoke.cmake
foreach(var BUILD_DIR PREFIX LIBDIR CC SOURCE)
  if(NOT ${var})
    message(FATAL_ERROR "install-smoke: ${var} is not set")
  endif()
endforeach()

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "install-smoke: `${cmd}` failed (${rc})\n${out}${err}")
  endif()
  set(run_out "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE "${PREFIX}")
set(config_args)
if(CONFIG)
  set(config_args --config "${CONFIG}")
endif()
run("${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}" ${config_args})

foreach(f include/looplet.h ${LIBDIR}/liblooplet.a ${LIBDIR}/pkgconfig/looplet.pc
          ${LIBDIR}/cmake/looplet/looplet-config.cmake)
  if(NOT EXISTS "${PREFIX}/${f}")
    message(FATAL_ERROR "install-smoke: ${f} was not installed")
  endif()
endforeach()

set(work "${PREFIX}/smoke")
file(MAKE_DIRECTORY "${work}")

# Static: the C compiler as linker, no libstdc++.
run("${CC}" -std=c11 -Wall -Wextra -Werror -I "${PREFIX}/include" "${SOURCE}"
    "${PREFIX}/${LIBDIR}/liblooplet.a" -o "${work}/smoke-static")
run("${work}/smoke-static")
message(STATUS "static: ${run_out}")

# Shared, through pkg-config (found relative to the .pc file).
find_program(PKG_CONFIG NAMES pkg-config pkgconf)
if(PKG_CONFIG)
  set(ENV{PKG_CONFIG_PATH} "${PREFIX}/${LIBDIR}/pkgconfig")
  run("${PKG_CONFIG}" --modversion looplet)
  string(STRIP "${run_out}" version)
  message(STATUS "pkg-config --modversion looplet: ${version}")
  run("${PKG_CONFIG}" --cflags --libs looplet)
  string(STRIP "${run_out}" flags)
  separate_arguments(flags UNIX_COMMAND "${flags}")
  run("${CC}" -std=c11 -Wall -Wextra -Werror "${SOURCE}" ${flags} -o "${work}/smoke-shared")
  set(ENV{LD_LIBRARY_PATH} "${PREFIX}/${LIBDIR}")
  set(ENV{DYLD_LIBRARY_PATH} "${PREFIX}/${LIBDIR}")
  run("${work}/smoke-shared")
  message(STATUS "shared: ${run_out}")
  if(NOT run_out MATCHES "version ${version}")
    message(FATAL_ERROR "install-smoke: library reports '${run_out}', pkg-config says ${version}")
  endif()
else()
  message(STATUS "pkg-config not found: shared-library smoke test skipped")
endif()
