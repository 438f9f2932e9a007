# `normkit lab sync --quick` over 2 seeds on a slice of Fashion-MNIST, started as a plain
# command: it starts itself on 4 ranks of mpirun, every arm trains, and the
# first rank writes the section, sync.csv (18 rows: 2 models x 3 arms x
# evaluations) and the plot. Run as:
#   cmake -DCLI=build/normkit -DOUT=dir -P tests/lab_sync_smoke.cmake
file(REMOVE_RECURSE "${OUT}")
execute_process(COMMAND "${CLI}" lab sync --quick --seeds 2 --limit 96 --test-limit 200 --out "${OUT}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 300)
message("${out}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "normkit lab sync --quick failed (${rc}):\n${err}")
endif()
string(FIND "${out}" "running on 4 ranks" started)
if(started EQUAL -1)
  message(FATAL_ERROR "normkit lab sync did not start itself on 4 ranks")
endif()
file(READ "${OUT}/report.md" report)
foreach(text "## sync" "on 4 MPI ranks" "| mlp | SyncBN |" "| cnn | GroupNorm |" "Measured here:")
  string(FIND "${report}" "${text}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "report.md has no '${text}':\n${report}")
  endif()
endforeach()
file(STRINGS "${OUT}/sync.csv" lines)
list(LENGTH lines n)
if(n LESS 13)
  message(FATAL_ERROR "sync.csv: expected a header and a row per evaluation of each of the 6 runs, got ${n} lines")
endif()
find_program(GNUPLOT gnuplot)
if(GNUPLOT AND NOT EXISTS "${OUT}/sync.png")
  message(FATAL_ERROR "gnuplot is installed but sync.png was not written")
endif()
