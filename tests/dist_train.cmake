# Data-parallel training (`mpirun -np R normkit train --distributed ...`):
#   - with Synchronized BN, the loss of every step (to 17 digits) and the
#     test accuracy are those of one process with the whole batch, for
#     R = 2, 3 and 4 (whole blocks per rank, uneven from 3), on the CNN, a
#     ResNet-8 (Conv2d, Linear and BN gradients all summed across ranks) and
#     a ViT with BatchNorm over tokens (SyncTokenBatchNorm; AdamW);
#   - per-rank BN trains on other statistics: its losses differ from one
#     process's (the option does something);
#   - 4 ranks x 2 samples (a block cut between ranks, summed in rank order)
#     repeat themselves bit for bit.
# Run as:
#   cmake -DCLI=build/normkit -DMPIEXEC=mpirun -DWORK=dir -P tests/dist_train.cmake
include(${CMAKE_CURRENT_LIST_DIR}/dist_common.cmake)

set(cnn --model cnn --norm bn --epochs 1 --limit 768 --batch-size 96 --augment on)
train(cnn_1 0 ${cnn})
foreach(R 2 3 4)
  train(cnn_sync_${R} ${R} ${cnn} --distributed sync)
  expect_same(cnn_1 cnn_sync_${R})
endforeach()
set(resnet --model resnet --depth 8 --norm bn --epochs 1 --limit 480 --batch-size 80 --lr 0.05)
train(resnet_1 0 ${resnet})
train(resnet_sync_3 3 ${resnet} --distributed sync)
expect_same(resnet_1 resnet_sync_3)
set(vit --model vit --norm bn --depth 2 --patch 7 --epochs 1 --limit 480 --batch-size 80 --optimizer adamw)
train(vit_1 0 ${vit})
train(vit_sync_3 3 ${vit} --distributed sync)
expect_same(vit_1 vit_sync_3)

train(cnn_per_rank_2 2 ${cnn} --distributed per-rank)
file(READ "${WORK}/cnn_1.log" one)
file(READ "${WORK}/cnn_per_rank_2.log" per_rank)
if(one STREQUAL per_rank)
  message(FATAL_ERROR "per-rank BN gave the losses of one process: were the statistics synchronized?")
endif()

set(tiny --model cnn --norm gn --epochs 1 --limit 160 --batch-size 8)
train(tiny_a 4 ${tiny} --distributed sync)
train(tiny_b 4 ${tiny} --distributed sync)
expect_same(tiny_a tiny_b)
