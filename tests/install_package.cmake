# cmake --install puts normkit where another project can use it: the examples/
# project is configured with find_package(normkit), built and run, and the
# quick start is built once more with the flags from normkit.pc alone. Run as:
#   cmake -DBUILD=build -DSOURCE=. -DWORK=dir -DCXX=g++ [-DFLAGS="..."] -P tests/install_package.cmake
# FLAGS: extra compile and link flags (the sanitizer build's).
file(REMOVE_RECURSE "${WORK}")
set(prefix "${WORK}/prefix")

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
  set(output "${out}" PARENT_SCOPE)
endfunction()

run("cmake --install" "${CMAKE_COMMAND}" --install "${BUILD}" --prefix "${prefix}")
foreach(file include/normkit/normkit.hpp include/normkit/io/safetensors.hpp lib/libnormkit.a bin/normkit
             lib/cmake/normkit/normkit-config.cmake lib/cmake/normkit/normkit-config-version.cmake
             lib/cmake/normkit/normkit-targets.cmake lib/pkgconfig/normkit.pc share/doc/normkit/LICENSE)
  if(NOT EXISTS "${prefix}/${file}")
    message(FATAL_ERROR "cmake --install did not install ${file}")
  endif()
endforeach()

# find_package(normkit) from a project of its own.
run("configuring examples/ against the installed package"
    "${CMAKE_COMMAND}" -S "${SOURCE}/examples" -B "${WORK}/examples" "-DCMAKE_PREFIX_PATH=${prefix}"
    "-DCMAKE_CXX_COMPILER=${CXX}" "-DCMAKE_CXX_FLAGS=${FLAGS}")
run("building examples/" "${CMAKE_COMMAND}" --build "${WORK}/examples")
run("examples/quickstart" "${WORK}/examples/quickstart")
if(NOT output MATCHES "running_mean\\[0\\]")
  message(FATAL_ERROR "examples/quickstart printed:\n${output}")
endif()

# pkg-config alone.
set(ENV{PKG_CONFIG_PATH} "${prefix}/lib/pkgconfig")
run("pkg-config --cflags --libs normkit" pkg-config --cflags --libs normkit)
separate_arguments(flags UNIX_COMMAND "${FLAGS} ${output}")
run("compiling the quick start with pkg-config's flags"
    "${CXX}" -std=c++20 "${SOURCE}/examples/quickstart.cpp" ${flags} -o "${WORK}/quickstart-pkg-config")
run("quickstart built with pkg-config" "${WORK}/quickstart-pkg-config")
if(NOT output MATCHES "running_mean\\[0\\]")
  message(FATAL_ERROR "quickstart (pkg-config) printed:\n${output}")
endif()
message("installed to ${prefix}; examples/ built with find_package(normkit) and with pkg-config: both run")
