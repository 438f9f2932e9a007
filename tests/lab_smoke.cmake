# `normkit lab EXPERIMENTS --quick` on a slice of Fashion-MNIST: each experiment
# runs end to end and writes its CSV files and its section of report.md (and
# its plots where gnuplot is installed). CTest runs the experiments in two
# halves side by side (tests/CMakeLists.txt). Run as:
#   cmake -DCLI=build/normkit -DOUT=dir -DEXPERIMENTS=a,b -DSECTIONS="a|b" -DCSVS="a.csv|b.csv"
#         -DPNGS="a.png" -P tests/lab_smoke.cmake
foreach(list SECTIONS CSVS PNGS)
  string(REPLACE "|" ";" ${list} "${${list}}")
endforeach()
file(REMOVE_RECURSE "${OUT}")
execute_process(COMMAND "${CLI}" lab "${EXPERIMENTS}" --quick --limit 1536 --test-limit 300 --out "${OUT}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "normkit lab ${EXPERIMENTS} --quick failed (${rc}):\n${err}")
endif()
# The report says what produced it: the command, the commit and the machine.
file(READ "${OUT}/report.md" report)
if(NOT report MATCHES "Produced by `normkit lab ${EXPERIMENTS} --quick[^`]*` \\(quick mode\\) with normkit [0-9.]+, commit [^,]+, in [0-9]+ s on .+ kernels, [0-9]+ threads")
  message(FATAL_ERROR "report.md does not say what produced it:\n${report}")
endif()
# A plot that gnuplot refused is reported in the section instead of drawn.
file(READ "${OUT}/report.md" report)
string(FIND "${report}" "(no plot: gnuplot failed" failed)
if(NOT failed EQUAL -1)
  message(FATAL_ERROR "report.md: gnuplot failed on a plot script")
endif()
foreach(section ${SECTIONS})
  string(FIND "${report}" "## ${section}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "report.md has no section '## ${section}'")
  endif()
endforeach()
foreach(csv ${CSVS})
  file(STRINGS "${OUT}/${csv}" lines)
  list(LENGTH lines n)
  if(n LESS 3)
    message(FATAL_ERROR "${csv}: expected a header and at least two rows, got ${n} lines")
  endif()
endforeach()
find_program(GNUPLOT gnuplot)
if(GNUPLOT)
  foreach(png ${PNGS})
    if(NOT EXISTS "${OUT}/${png}")
      message(FATAL_ERROR "gnuplot is installed but ${png} was not written")
    endif()
  endforeach()
endif()
