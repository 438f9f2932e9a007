# oneDNN as the imported target normkit::onednn, for the build and for the
# installed package alike. Debian's libdnnl-dev is found by header and library:
# its own CMake config insists on OpenCL.
if(NOT TARGET normkit::onednn)
  find_path(NORMKIT_DNNL_INCLUDE oneapi/dnnl/dnnl.hpp REQUIRED)
  find_library(NORMKIT_DNNL_LIBRARY dnnl REQUIRED)
  add_library(normkit::onednn UNKNOWN IMPORTED)
  set_target_properties(normkit::onednn PROPERTIES IMPORTED_LOCATION "${NORMKIT_DNNL_LIBRARY}"
                        INTERFACE_INCLUDE_DIRECTORIES "${NORMKIT_DNNL_INCLUDE}")
endif()
