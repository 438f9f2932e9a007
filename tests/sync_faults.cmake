# Faults in Synchronized BN on 3 ranks, from `normkit selftest sync --fault`:
#   mismatch, skip, error: every rank reports the error (never a hang): the
#     job ends with an error and each of the 3 ranks printed "rank r: error";
#   kill: a rank dies mid-run; the job ends with an error within 30 seconds;
#   stall: a rank stops calling collectives; the others wait 5 seconds
#     (NORMKIT_DIST_TIMEOUT) and end the job with a message.
# Run as: cmake -DCLI=build/normkit -DMPIEXEC=mpirun -P tests/sync_faults.cmake
foreach(fault mismatch skip error kill stall)
  string(TIMESTAMP start "%s")
  execute_process(COMMAND "${MPIEXEC}" --oversubscribe --allow-run-as-root -x OMP_NUM_THREADS=1
                          -x NORMKIT_DIST_TIMEOUT=5 -np 3 "${CLI}" selftest sync --fault ${fault}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 60)
  string(TIMESTAMP end "%s")
  math(EXPR seconds "${end} - ${start}")
  message("-- fault ${fault}: exit ${rc} after ${seconds} s\n${err}")
  if(rc EQUAL 0 OR NOT rc MATCHES "^[0-9]+$")
    message(FATAL_ERROR "fault ${fault}: expected the job to end with an error, got '${rc}'")
  endif()
  if(seconds GREATER 30)
    message(FATAL_ERROR "fault ${fault}: the job took ${seconds} s to end (limit 30)")
  endif()
  if(fault STREQUAL "stall")
    string(FIND "${err}" "waited more than 5 s for the other ranks" at)
    if(at EQUAL -1)
      message(FATAL_ERROR "fault stall: no rank said it waited too long")
    endif()
  elseif(NOT fault STREQUAL "kill")
    foreach(rank 0 1 2)
      string(FIND "${err}" "rank ${rank}: error: the ranks cannot go on together" at)
      if(at EQUAL -1)
        message(FATAL_ERROR "fault ${fault}: rank ${rank} reported no error")
      endif()
    endforeach()
  endif()
endforeach()
