# Data-parallel checkpoints: `mpirun -np R normkit train --distributed ...
# --checkpoint F` writes one checkpoint (rank 0), and `--resume F` continues
# it on any number of ranks. With Synchronized BN a run stopped after each
# epoch and resumed on 2, then 3, then 2 ranks logs the losses of a run never
# stopped, bit for bit, and ends with its accuracy; so does per-rank BN
# stopped and resumed on the same ranks. Run as:
#   cmake -DCLI=build/normkit -DMPIEXEC=mpirun -DWORK=dir -P tests/dist_resume.cmake
include(${CMAKE_CURRENT_LIST_DIR}/dist_common.cmake)

set(run --model cnn --norm bn --limit 384 --batch-size 96 --augment on --lr 0.05)
foreach(mode sync per-rank)
  set(ck "${WORK}/${mode}.st")
  file(REMOVE "${ck}")
  train(${mode}_whole 2 ${run} --epochs 3 --distributed ${mode})
  if(mode STREQUAL "sync")
    set(ranks 2 3 2)
  else()
    set(ranks 2 2 2)
  endif()
  set(logs "")
  foreach(epoch 1 2 3)
    math(EXPR index "${epoch} - 1")
    list(GET ranks ${index} R)
    set(resume "")
    if(epoch GREATER 1)
      set(resume --resume "${ck}")
    endif()
    train(${mode}_part${epoch} ${R} ${run} --epochs ${epoch} --distributed ${mode} --checkpoint "${ck}" ${resume})
    file(READ "${WORK}/${mode}_part${epoch}.log" part)
    string(APPEND logs "${part}")
  endforeach()
  file(WRITE "${WORK}/${mode}_stopped.log" "${logs}")
  set(${mode}_stopped_accuracy "${${mode}_part3_accuracy}")
  expect_same(${mode}_whole ${mode}_stopped)
  message("-- ${mode}: stopped after every epoch (ranks ${ranks}) = never stopped")
endforeach()
