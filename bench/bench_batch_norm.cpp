// BatchNorm kernels, fast against reference, on the shapes of issue 4.
// The full side-by-side benchmark with PyTorch and oneDNN is `normkit bench`
// (to come); this one tracks normkit's own kernels.
#include <benchmark/benchmark.h>

#include <random>

#include "normkit/normkit.hpp"

namespace {

using normkit::Tensor;

Tensor random_tensor(normkit::Shape shape, normkit::MemoryFormat format) {
  Tensor t(std::move(shape), normkit::DType::float32, format);
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

void BM_BatchNormTrainForward(benchmark::State& state, normkit::Shape shape,
                              normkit::MemoryFormat format) {
  Tensor x = random_tensor(shape, format);
  Tensor y(shape, normkit::DType::float32, format);
  Tensor mean({shape[1]}), invstd({shape[1]});
  for (auto _ : state)
    normkit::batch_norm_forward({x}, {.training = true}, {y, mean, invstd});
  state.SetBytesProcessed(state.iterations() * x.numel() * 4 * 2);  // read x, write y
}

void BM_BatchNormTrainBackward(benchmark::State& state, normkit::Shape shape,
                               normkit::MemoryFormat format) {
  Tensor x = random_tensor(shape, format), dy = random_tensor(shape, format);
  Tensor dx(shape, normkit::DType::float32, format);
  Tensor mean({shape[1]}), invstd({shape[1]}), dw({shape[1]}), db({shape[1]});
  Tensor y(shape, normkit::DType::float32, format);
  normkit::batch_norm_forward({x}, {.training = true}, {y, mean, invstd});
  for (auto _ : state)
    normkit::batch_norm_backward({dy, x, {}, {}, {}, mean, invstd}, {.training = true},
                                 {dx, dw, db});
  state.SetBytesProcessed(state.iterations() * x.numel() * 4 * 3);  // read dy, x; write dx
}

using MF = normkit::MemoryFormat;
BENCHMARK_CAPTURE(BM_BatchNormTrainForward, nchw_32x64x56x56, {32, 64, 56, 56}, MF::contiguous)
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_BatchNormTrainForward, nhwc_32x64x56x56, {32, 64, 56, 56}, MF::channels_last)
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_BatchNormTrainForward, nc_256x1024, {256, 1024}, MF::contiguous)
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_BatchNormTrainBackward, nchw_32x64x56x56, {32, 64, 56, 56}, MF::contiguous)
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_BatchNormTrainBackward, nhwc_32x64x56x56, {32, 64, 56, 56}, MF::channels_last)
    ->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
