# cmake --install puts normkit where another project can use it: the examples/
# project is configured with find_package(normkit), built and run (its
# kernels-only program must link no oneDNN, zlib or MPI), and both programs are
# built once more with the flags from the .pc files alone. Run as:
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
if(SHARED)
  set(lib_suffix .so)
else()
  set(lib_suffix .a)
endif()
foreach(file include/normkit/normkit.hpp include/normkit/kernels.hpp include/normkit/io/safetensors.hpp
             lib/libnormkit${lib_suffix} lib/libnormkit_kernels${lib_suffix} bin/normkit
             lib/cmake/normkit/normkit-config.cmake lib/cmake/normkit/normkit-config-version.cmake
             lib/cmake/normkit/normkit-targets.cmake lib/pkgconfig/normkit.pc lib/pkgconfig/normkit-kernels.pc
             share/doc/normkit/LICENSE)
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

# The kernels-only program: normkit::kernels brings OpenMP and nothing else.
# Its dynamic dependencies (and, for static libraries, its symbols) show it.
run("examples/kernels_only" "${WORK}/examples/kernels_only")
if(NOT output MATCHES "layer_norm y\\[0\\]")
  message(FATAL_ERROR "examples/kernels_only printed:\n${output}")
endif()
function(expect_no_heavy_dependencies program)
  run("readelf -d ${program}" readelf -d "${program}")
  if(output MATCHES "libdnnl|libz\\.|libmpi")
    message(FATAL_ERROR "${program} links more than the kernels need:\n${output}")
  endif()
  run("nm ${program}" nm -C "${program}")
  if(output MATCHES "dnnl::|dnnl_|deflate|inflate|nlohmann|normkit::nn::")
    message(FATAL_ERROR "${program} holds code from above the kernels layer")
  endif()
endfunction()
expect_no_heavy_dependencies("${WORK}/examples/kernels_only")

# pkg-config alone (shared libraries found through the library path: these
# programs carry no run path).
if(SHARED)
  set(ENV{LD_LIBRARY_PATH} "${prefix}/lib:$ENV{LD_LIBRARY_PATH}")
endif()
set(ENV{PKG_CONFIG_PATH} "${prefix}/lib/pkgconfig")
run("pkg-config --cflags --libs normkit" pkg-config --cflags --libs normkit)
separate_arguments(flags UNIX_COMMAND "${FLAGS} ${output}")
run("compiling the quick start with pkg-config's flags"
    "${CXX}" -std=c++20 "${SOURCE}/examples/quickstart.cpp" ${flags} -o "${WORK}/quickstart-pkg-config")
run("quickstart built with pkg-config" "${WORK}/quickstart-pkg-config")
if(NOT output MATCHES "running_mean\\[0\\]")
  message(FATAL_ERROR "quickstart (pkg-config) printed:\n${output}")
endif()
run("pkg-config --cflags --libs normkit-kernels" pkg-config --cflags --libs normkit-kernels)
separate_arguments(flags UNIX_COMMAND "${FLAGS} ${output}")
run("compiling the kernels-only example with pkg-config's flags"
    "${CXX}" -std=c++20 "${SOURCE}/examples/kernels_only.cpp" ${flags} -o "${WORK}/kernels-only-pkg-config")
run("kernels_only built with pkg-config" "${WORK}/kernels-only-pkg-config")
expect_no_heavy_dependencies("${WORK}/kernels-only-pkg-config")
message("installed to ${prefix}; examples/ built with find_package(normkit) and with pkg-config: all run, "
        "and the kernels-only program links no oneDNN")
