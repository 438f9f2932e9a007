# `normkit lab all --quick` on a slice of Fashion-MNIST: every experiment runs
# end to end and writes its CSV files and its section of report.md (and its
# plots where gnuplot is installed). Run as:
#   cmake -DCLI=build/normkit -DOUT=dir -P tests/lab_smoke.cmake
file(REMOVE_RECURSE "${OUT}")
execute_process(COMMAND "${CLI}" lab all --quick --limit 1536 --test-limit 300 --out "${OUT}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "normkit lab all --quick failed (${rc}):\n${err}")
endif()
# A plot that gnuplot refused is reported in the section instead of drawn.
file(READ "${OUT}/report.md" report)
string(FIND "${report}" "(no plot: gnuplot failed" failed)
if(NOT failed EQUAL -1)
  message(FATAL_ERROR "report.md: gnuplot failed on a plot script")
endif()
file(READ "${OUT}/report.md" report)
foreach(section "## convergence" "## lr-sweep" "## batch-size" "## eval-bug" "## landscape" "## ics" "## noisy-bn"
                "## ghost" "## dropout" "## scale-invariance" "## resnet" "## placement-and-bias" "## rmsnorm")
  string(FIND "${report}" "${section}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "report.md has no section '${section}'")
  endif()
endforeach()
foreach(csv convergence.csv lr_sweep.csv lr_sweep_curves.csv batch_size.csv eval_bug_modes.csv eval_bug_finetune.csv
            landscape.csv ics.csv noisy_bn.csv ghost.csv dropout.csv scale_invariance.csv
            scale_invariance_training.csv resnet.csv placement.csv rmsnorm_ops.csv rmsnorm_training.csv)
  file(STRINGS "${OUT}/${csv}" lines)
  list(LENGTH lines n)
  if(n LESS 3)
    message(FATAL_ERROR "${csv}: expected a header and at least two rows, got ${n} lines")
  endif()
endforeach()
find_program(GNUPLOT gnuplot)
if(GNUPLOT)
  foreach(png convergence.png lr_sweep.png batch_size.png landscape.png ics.png noisy_bn.png ghost.png
              scale_invariance.png resnet.png)
    if(NOT EXISTS "${OUT}/${png}")
      message(FATAL_ERROR "gnuplot is installed but ${png} was not written")
    endif()
  endforeach()
endif()
