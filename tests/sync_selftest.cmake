# `mpirun -np R normkit selftest sync` for R = 1, 2, 3 and 4 ranks: each run
# must find SyncBN bit-identical to one process (exit 0) and print the same
# digest. Run as:
#   cmake -DCLI=build/normkit -DMPIEXEC=mpirun -P tests/sync_selftest.cmake
set(digests "")
foreach(R 1 2 3 4)
  execute_process(COMMAND "${MPIEXEC}" --oversubscribe --allow-run-as-root -x OMP_NUM_THREADS=1 -np ${R}
                          "${CLI}" selftest sync
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 300)
  message("-- ${R} ranks:\n${out}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "selftest sync on ${R} ranks failed (${rc}):\n${out}\n${err}")
  endif()
  string(REGEX MATCH "digest=([0-9a-f]+)" line "${out}")
  if(NOT CMAKE_MATCH_1)
    message(FATAL_ERROR "selftest sync on ${R} ranks printed no digest")
  endif()
  list(APPEND digests "${CMAKE_MATCH_1}")
endforeach()
list(REMOVE_DUPLICATES digests)
list(LENGTH digests distinct)
if(NOT distinct EQUAL 1)
  message(FATAL_ERROR "the digests differ between rank counts: ${digests}")
endif()
