# oneDNN as the imported target normkit::onednn, for the build and for the
# installed package alike: Debian's libdnnl-dev (2.x) by default, or the
# oneDNN under NORMKIT_ONEDNN_ROOT (include/oneapi/dnnl/dnnl.hpp and
# lib/libdnnl.so: a 3.x build, the PyPI onednn-devel wheel). Found by header
# and library: Debian's own CMake config insists on OpenCL.
# The build needs it (NORMKIT_ONEDNN_REQUIRED); an installed package needs it
# only for normkit::normkit when that is static (normkit::kernels never does).
if(NOT TARGET normkit::onednn)
  if(NORMKIT_ONEDNN_ROOT)
    set(normkit_onednn_hints HINTS "${NORMKIT_ONEDNN_ROOT}/include" "${NORMKIT_ONEDNN_ROOT}/lib" NO_DEFAULT_PATH)
  endif()
  find_path(NORMKIT_DNNL_INCLUDE oneapi/dnnl/dnnl.hpp ${normkit_onednn_hints})
  find_library(NORMKIT_DNNL_LIBRARY dnnl ${normkit_onednn_hints})
  if(NORMKIT_DNNL_INCLUDE AND NORMKIT_DNNL_LIBRARY)
    add_library(normkit::onednn UNKNOWN IMPORTED)
    set_target_properties(normkit::onednn PROPERTIES IMPORTED_LOCATION "${NORMKIT_DNNL_LIBRARY}"
                          INTERFACE_INCLUDE_DIRECTORIES "${NORMKIT_DNNL_INCLUDE}")
  elseif(NORMKIT_ONEDNN_REQUIRED)
    message(FATAL_ERROR "oneDNN not found (install libdnnl-dev, or give -DNORMKIT_ONEDNN_ROOT=DIR)")
  endif()
endif()
