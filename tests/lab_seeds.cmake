# Seeds run as child processes of one thread each give the same bits as the
# same seeds run one after another in this process with all its threads:
# every seed's rows of every CSV file are equal. With 3 seeds 2 at a time
# the third runs alone in the main process. Run as:
#   cmake -DCLI=build/normkit -DOUT=dir -P tests/lab_seeds.cmake
file(REMOVE_RECURSE "${OUT}")
foreach(jobs 1 2)
  execute_process(COMMAND "${CLI}" lab eval-bug --quick --seeds 3 --jobs ${jobs} --limit 512 --test-limit 100
                          --out "${OUT}/jobs-${jobs}"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "normkit lab eval-bug --jobs ${jobs} failed (${rc}):\n${out}\n${err}")
  endif()
endforeach()
file(READ "${OUT}/jobs-2/report.md" report)
if(NOT report MATCHES "seeds 1 to 3, 2 at a time as processes of 1 thread, seed 3 alone in the main process")
  message(FATAL_ERROR "report.md does not say the seeds ran as processes:\n${report}")
endif()
foreach(csv eval_bug_modes_seeds.csv eval_bug_finetune_seeds.csv eval_bug_modes.csv eval_bug_finetune.csv)
  file(READ "${OUT}/jobs-1/${csv}" one)
  file(READ "${OUT}/jobs-2/${csv}" two)
  if(NOT one STREQUAL two)
    message(FATAL_ERROR "${csv} differs between --jobs 1 and --jobs 2:\n${one}\n---\n${two}")
  endif()
endforeach()
