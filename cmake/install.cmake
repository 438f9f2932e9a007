# cmake --install [--prefix DIR]: the public headers, the libraries
# (normkit_kernels, normkit, and normkit_dist where MPI was found; static, or
# shared with -DBUILD_SHARED_LIBS=ON), the CLI, a CMake package
# (find_package(normkit) gives normkit::kernels, normkit::normkit and
# normkit::dist) and pkg-config files (normkit-kernels.pc, normkit.pc).
# examples/ is a project built against it.
include(CMakePackageConfigHelpers)

set(NORMKIT_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/normkit)
set(NORMKIT_INSTALLED_TARGETS normkit_kernels normkit_lib)
set_target_properties(normkit_kernels PROPERTIES EXPORT_NAME kernels)
set_target_properties(normkit_lib PROPERTIES EXPORT_NAME normkit)
if(NORMKIT_HAS_MPI)
  set_target_properties(normkit_dist PROPERTIES EXPORT_NAME dist OUTPUT_NAME normkit_dist)
  list(APPEND NORMKIT_INSTALLED_TARGETS normkit_dist)
endif()

install(DIRECTORY include/normkit DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS ${NORMKIT_INSTALLED_TARGETS} EXPORT normkit-targets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS normkit_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES LICENSE CHANGELOG.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(EXPORT normkit-targets NAMESPACE normkit:: DESTINATION ${NORMKIT_CMAKE_DIR})

configure_package_config_file(cmake/normkit-config.cmake.in ${CMAKE_CURRENT_BINARY_DIR}/normkit-config.cmake
                              INSTALL_DESTINATION ${NORMKIT_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/normkit-config-version.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/normkit-config.cmake ${CMAKE_CURRENT_BINARY_DIR}/normkit-config-version.cmake
              cmake/onednn.cmake
        DESTINATION ${NORMKIT_CMAKE_DIR})

# pkg-config: the prefix is found from the .pc file's own place, so that the
# files stay right for any --prefix given at install time. Static libraries
# need their dependencies in Libs; shared ones keep them in Libs.private.
file(RELATIVE_PATH NORMKIT_PC_TO_PREFIX /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
string(REGEX REPLACE "/$" "" NORMKIT_PC_TO_PREFIX "${NORMKIT_PC_TO_PREFIX}")
if(BUILD_SHARED_LIBS)
  set(NORMKIT_PC_LIBS "Libs: -L\${libdir} -lnormkit\nLibs.private: -ldnnl -lz")
else()
  set(NORMKIT_PC_LIBS "Libs: -L\${libdir} -lnormkit -ldnnl -lz")
endif()
configure_file(cmake/normkit.pc.in ${CMAKE_CURRENT_BINARY_DIR}/normkit.pc @ONLY)
configure_file(cmake/normkit-kernels.pc.in ${CMAKE_CURRENT_BINARY_DIR}/normkit-kernels.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/normkit.pc ${CMAKE_CURRENT_BINARY_DIR}/normkit-kernels.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
