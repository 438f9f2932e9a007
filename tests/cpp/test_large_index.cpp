// Index arithmetic in 64 bits: tensors of more than 2^31 elements, and views
// whose element offsets pass 2^31 and 2^32, without the memory they would take.
// A mapping reserved with MAP_NORESERVE costs nothing until a page is written:
// untouched pages read as zeros from the kernel's one zero page. So the tests
// write a few marked values far out and check that the kernels find them
// (an index that wrapped at 32 bits would read zeros, or fault).
#include <sys/mman.h>

#include <cstring>

#include <gtest/gtest.h>

#include "normkit/batch_norm.hpp"
#include "normkit/group_norm.hpp"
#include "normkit/layer_norm.hpp"
#include "test_util.hpp"

namespace normkit::test {
namespace {

class LargeIndex : public EverySimdPath {};
INSTANTIATE_TEST_SUITE_P(Simd, LargeIndex, every_simd_path(), simd_path_param_name);

constexpr std::int64_t k2to31 = std::int64_t{1} << 31;

// `floats` float32 values of virtual memory, reading as zeros, backed by
// memory only where written.
class SparseFloats {
 public:
  explicit SparseFloats(std::int64_t floats) : bytes_(static_cast<std::size_t>(floats) * sizeof(float)) {
    void* p = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("mmap of " + std::to_string(bytes_) + " bytes failed");
    data_ = static_cast<float*>(p);
  }
  ~SparseFloats() { ::munmap(data_, bytes_); }
  SparseFloats(const SparseFloats&) = delete;
  SparseFloats& operator=(const SparseFloats&) = delete;
  float* data() const { return data_; }

 private:
  std::size_t bytes_;
  float* data_;
};

// BN's backward reductions over a contiguous x of 2^31 + 2^17 elements, all
// in one channel: dbias = sum(dy), dweight = sum(dy * x) with mean 0 and
// invstd 1. Only the marked values are nonzero, all beyond element 2^31.
TEST_P(LargeIndex, BatchNormBackwardSumsOverMoreThan2To31Elements) {
  const std::int64_t per_sample = (std::int64_t{1} << 30) + (std::int64_t{1} << 16);
  const std::int64_t numel = 2 * per_sample;
  ASSERT_GT(numel, k2to31);
  SparseFloats x(numel);
  // 4096 ones at the very end, 1024 twos just past 2^31.
  for (std::int64_t i = numel - 4096; i < numel; ++i) x.data()[i] = 1.0f;
  for (std::int64_t i = k2to31 + 12345; i < k2to31 + 12345 + 1024; ++i) x.data()[i] = 2.0f;
  const TensorView xv(x.data(), {2, 1, per_sample});
  Tensor zero = Tensor::zeros({1}), one = Tensor::full({1}, 1.0f);
  const BatchNormBackwardResult r =
      batch_norm_backward({.dy = xv, .x = xv, .save_mean = zero.view(), .save_invstd = one.view()},
                          {.training = true}, {.input = false, .weight = true, .bias = true});
  EXPECT_EQ(r.dbias.data<float>()[0], 4096.0f + 2048.0f);
  EXPECT_EQ(r.dweight.data<float>()[0], 4096.0f + 4096.0f);
}

// Views of 24 elements (N, C, L) = (2, 3, 4) whose channels lie 2^31 + 3
// elements apart and samples 3 (2^31 + 3) + 5 > 2^32 apart (with a negative
// sample stride, below their data pointer): BN, LN and GN forward and BN backward give
// exactly what they give on a compact copy.
struct FarApart {
  static constexpr std::int64_t kChannelStride = k2to31 + 3;
  static constexpr std::int64_t kSampleStride = 3 * kChannelStride + 5;
  SparseFloats memory{2 * kSampleStride + 64};
  TensorView view;
  Tensor compact;
  FarApart(std::int64_t seed, bool negative) {
    const Shape shape{2, 3, 4};
    float* origin = memory.data() + (negative ? kSampleStride : 0);
    const Strides strides{negative ? -kSampleStride : kSampleStride, kChannelStride, 1};
    view = TensorView(origin, shape, strides, DType::float32);
    compact = Tensor(shape);
    std::int64_t k = 0;
    for (std::int64_t n = 0; n < 2; ++n)
      for (std::int64_t c = 0; c < 3; ++c)
        for (std::int64_t l = 0; l < 4; ++l, ++k) {
          const float v = static_cast<float>((k * 37 + seed * 11) % 17) - 8.0f;
          origin[n * strides[0] + c * strides[1] + l] = v;
          compact.data<float>()[k] = v;
        }
  }
};

void expect_same_bits(const Tensor& a, const Tensor& b, const char* what) {
  ASSERT_EQ(a.numel(), b.numel()) << what;
  EXPECT_EQ(std::memcmp(a.view().raw(), b.view().raw(), static_cast<std::size_t>(a.numel()) * sizeof(float)), 0)
      << what;
}

class LargeIndexStrides : public ::testing::TestWithParam<bool> {};

TEST_P(LargeIndexStrides, KernelsSeeFarApartViewsAsTheirCompactCopy) {
  const bool negative = GetParam();
  FarApart x(1, negative), dy(2, negative);
  const BatchNormForwardResult bn = batch_norm_forward({x.view}, {.training = true});
  const BatchNormForwardResult bn_compact = batch_norm_forward({x.compact.view()}, {.training = true});
  expect_same_bits(bn.y, bn_compact.y, "batch_norm_forward y");
  expect_same_bits(bn.save_invstd, bn_compact.save_invstd, "batch_norm_forward save_invstd");

  // Backward, with dx written into far-apart memory as well.
  FarApart dx(3, negative);
  batch_norm_backward({.dy = dy.view, .x = x.view, .save_mean = bn.save_mean.view(), .save_invstd = bn.save_invstd.view()},
                      {.training = true}, {.dx = dx.view});
  const BatchNormBackwardResult compact = batch_norm_backward(
      {.dy = dy.compact.view(), .x = x.compact.view(), .save_mean = bn.save_mean.view(), .save_invstd = bn.save_invstd.view()},
      {.training = true});
  expect_same_bits(Tensor::copy_of(dx.view), compact.dx, "batch_norm_backward dx");

  const LayerNormForwardResult ln = layer_norm_forward({x.view, {3, 4}});
  expect_same_bits(ln.y, layer_norm_forward({x.compact.view(), {3, 4}}).y, "layer_norm_forward y");
  const GroupNormForwardResult gn = group_norm_forward({x.view}, {.num_groups = 3});
  expect_same_bits(gn.y, group_norm_forward({x.compact.view()}, {.num_groups = 3}).y, "group_norm_forward y");
}

INSTANTIATE_TEST_SUITE_P(PositiveAndNegativeStrides, LargeIndexStrides, ::testing::Bool());

}  // namespace
}  // namespace normkit::test
