# What the data-parallel tests share (tests/dist_train.cmake,
# tests/dist_resume.cmake): train(NAME RANKS OPTIONS...) runs `normkit train`
# on one process (RANKS 0) or under mpirun, logging every step's loss to
# WORK/NAME.log and setting NAME_accuracy; expect_same(A B) fails unless
# both logged the same losses, bit for bit, and the same test accuracy.
file(MAKE_DIRECTORY "${WORK}")

function(train name ranks)  # ARGN: the options after `train`
  if(ranks EQUAL 0)
    set(command "${CLI}" train ${ARGN} --step-log "${WORK}/${name}.log")
  else()
    set(command "${MPIEXEC}" --oversubscribe --allow-run-as-root -x OMP_NUM_THREADS=1 -np ${ranks}
                "${CLI}" train ${ARGN} --step-log "${WORK}/${name}.log")
  endif()
  execute_process(COMMAND ${command} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 300)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${name} failed (${rc}):\n${out}\n${err}")
  endif()
  string(REGEX MATCH "test_accuracy=([0-9.]+)" line "${out}")
  set(accuracy "${CMAKE_MATCH_1}")
  if(NOT accuracy)
    message(FATAL_ERROR "${name} printed no test_accuracy:\n${out}")
  endif()
  file(READ "${WORK}/${name}.log" log)
  string(REGEX MATCHALL "\n" lines "${log}")
  list(LENGTH lines steps)
  message("-- ${name}: test_accuracy=${accuracy}, ${steps} steps logged")
  if(steps EQUAL 0)
    message(FATAL_ERROR "${name} logged no step")
  endif()
  set(${name}_accuracy "${accuracy}" PARENT_SCOPE)
endfunction()

function(expect_same a b)
  file(READ "${WORK}/${a}.log" log_a)
  file(READ "${WORK}/${b}.log" log_b)
  if(NOT log_a STREQUAL log_b OR NOT "${${a}_accuracy}" STREQUAL "${${b}_accuracy}")
    message(FATAL_ERROR "${b} differs from ${a}:\n${a}:\n${log_a}\n${b}:\n${log_b}")
  endif()
endfunction()

