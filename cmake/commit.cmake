# Writes OUT, a C++ source that defines normkit::cli::kCommit: the short
# commit of SOURCE_DIR's checkout, with "+changes" when tracked files differ
# from it, or "unknown" outside a git checkout. Run at every build (the
# normkit_commit target); OUT is rewritten only when its text changes, so
# that nothing recompiles when the commit did not move.
find_package(Git QUIET)
set(commit "unknown")
if(GIT_FOUND)
  execute_process(COMMAND "${GIT_EXECUTABLE}" rev-parse --short=12 HEAD WORKING_DIRECTORY "${SOURCE_DIR}"
                  OUTPUT_VARIABLE head RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(rc EQUAL 0)
    set(commit "${head}")
    execute_process(COMMAND "${GIT_EXECUTABLE}" status --porcelain --untracked-files=no
                    WORKING_DIRECTORY "${SOURCE_DIR}" OUTPUT_VARIABLE changes ERROR_QUIET)
    if(NOT changes STREQUAL "")
      string(APPEND commit "+changes")
    endif()
  endif()
endif()
set(text "// Written by cmake/commit.cmake at build time.\nnamespace normkit::cli {\nextern const char* const kCommit;\nconst char* const kCommit = \"${commit}\";\n}  // namespace normkit::cli\n")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()
