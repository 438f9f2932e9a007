// Helpers shared by the C++ tests of the kernels layer (module_util.hpp adds
// the modules'): random tensors in every layout the kernels distinguish,
// comparisons with tolerances scaled to the data, every SIMD path.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "cases/case_list.hpp"
#include "normkit/kernels.hpp"

namespace normkit {
// How GoogleTest prints a SimdPath parameter: its name.
inline void PrintTo(SimdPath path, std::ostream* os) { *os << simd_path_name(path); }
}  // namespace normkit

namespace normkit::test {

// A fresh directory under the system's temporary one, removed with its
// contents at the end of the scope.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    static int count = 0;
    path = std::filesystem::temp_directory_path() /
           ("normkit-test-" + std::to_string(::getpid()) + "-" + std::to_string(count++));
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

// The message of the Error that f() throws, or "(no error)".
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// Kernel tests run once per SIMD path the CPU has, in one process: a suite
// declared as
//   class BatchNormForward : public EverySimdPath {};
//   INSTANTIATE_TEST_SUITE_P(Simd, BatchNormForward, every_simd_path(), simd_path_param_name);
// with TEST_P instead of TEST runs each test under ScopedSimdPath(path), named
// Simd/BatchNormForward.Name/avx2 and so on.
class EverySimdPath : public ::testing::TestWithParam<SimdPath> {
 protected:
  void SetUp() override { path_.emplace(GetParam()); }
  void TearDown() override { path_.reset(); }

 private:
  std::optional<ScopedSimdPath> path_;
};

inline auto every_simd_path() { return ::testing::ValuesIn(simd_paths()); }

inline std::string simd_path_param_name(const ::testing::TestParamInfo<SimdPath>& info) {
  return simd_path_name(info.param);
}

// How a test tensor is laid out in memory.
enum class TestLayout {
  contiguous,     // C order
  channels_last,  // (N, *spatial, C) order
  permuted,       // (C, N, *spatial) order: neither of the fast layouts
  strided,        // every other element of the last dim: not dense
};

inline const char* layout_name(TestLayout l) {
  switch (l) {
    case TestLayout::contiguous: return "contiguous";
    case TestLayout::channels_last: return "channels_last";
    case TestLayout::permuted: return "permuted";
    case TestLayout::strided: return "strided";
  }
  return "?";
}

// A float32 tensor of `shape` in `layout`. `storage` owns the memory; `view`
// sees it with the layout's strides.
struct TestTensor {
  Tensor storage;
  TensorView view;
};

inline TestTensor make_tensor(const Shape& shape, TestLayout layout) {
  const std::size_t rank = shape.size();
  switch (layout) {
    case TestLayout::contiguous: {
      Tensor t(shape);
      return {t, t.view()};
    }
    case TestLayout::channels_last: {
      Tensor t(shape, DType::float32, rank >= 3 ? MemoryFormat::channels_last : MemoryFormat::contiguous);
      return {t, t.view()};
    }
    case TestLayout::permuted: {
      // Memory order (C, N, *spatial).
      Shape stored = shape;
      std::swap(stored[0], stored[1]);
      Tensor t(stored);
      Strides s = contiguous_strides(stored);
      std::swap(s[0], s[1]);
      return {t, TensorView(t.data<float>(), shape, s, DType::float32)};
    }
    case TestLayout::strided: {
      Shape stored = shape;
      stored.back() *= 2;
      Tensor t(stored);
      Strides s = contiguous_strides(stored);
      s.back() = 2;
      return {t, TensorView(t.data<float>(), shape, s, DType::float32)};
    }
  }
  return {};
}

// Reads every element of a view in logical C order (a 16-bit view widened).
inline std::vector<float> values(const TensorView& v) {
  Tensor c(v.shape());
  copy_into(v, c);
  return std::vector<float>(c.data<float>(), c.data<float>() + c.numel());
}

// Writes values (logical C order) into a view.
inline void assign(const TensorView& v, const std::vector<float>& data) {
  Tensor c(v.shape());
  std::copy(data.begin(), data.end(), c.data<float>());
  copy_into(c, v);
}

template <typename T = float>
std::vector<T> normal_values(std::size_t n, std::uint64_t seed, T mean = 0, T stddev = 1) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<T> dist(mean, stddev);
  std::vector<T> out(n);
  for (T& v : out) v = dist(rng);
  return out;
}

// Per-channel mean and variance (divided by m - ddof) of logical (N, C, S)
// data, by two passes in double: the independent check of the statistics.
struct ChannelMoments {
  std::vector<double> mean, var;
};
inline ChannelMoments exact_channel_moments(const std::vector<float>& x, std::int64_t N,
                                            std::int64_t C, std::int64_t S, int ddof = 0) {
  ChannelMoments out{std::vector<double>(C, 0.0), std::vector<double>(C, 0.0)};
  const double m = static_cast<double>(N * S);
  for (std::int64_t c = 0; c < C; ++c) {
    for (std::int64_t n = 0; n < N; ++n)
      for (std::int64_t s = 0; s < S; ++s) out.mean[c] += x[(n * C + c) * S + s];
    out.mean[c] /= m;
    for (std::int64_t n = 0; n < N; ++n)
      for (std::int64_t s = 0; s < S; ++s) {
        const double d = x[(n * C + c) * S + s] - out.mean[c];
        out.var[c] += d * d;
      }
    out.var[c] /= m - ddof;
  }
  return out;
}

inline TestTensor random_tensor(const Shape& shape, TestLayout layout, std::uint64_t seed,
                                float mean = 0.0f, float stddev = 1.0f) {
  TestTensor t = make_tensor(shape, layout);
  assign(t.view, normal_values(static_cast<std::size_t>(shape_numel(shape)), seed, mean, stddev));
  return t;
}

inline Tensor vector_tensor(const std::vector<float>& data) {
  Tensor t({static_cast<std::int64_t>(data.size())});
  std::copy(data.begin(), data.end(), t.data<float>());
  return t;
}

// |a - b| <= rtol * (|b| + scale), scale = max(max|b|, term_scale): relative
// to each value, with an absolute floor at rtol times the largest magnitude
// (values near zero of a tensor of unit scale are held to rtol, not to their
// own tiny size). A result that is a sum of cancelling terms is held to the
// size of those terms, passed as term_scale (docs/numerics.md). NaN must
// match NaN.
inline ::testing::AssertionResult all_close(const std::vector<float>& actual,
                                            const std::vector<float>& expected,
                                            double rtol = 1e-5, double term_scale = 0) {
  if (actual.size() != expected.size())
    return ::testing::AssertionFailure() << "sizes differ: " << actual.size() << " vs " << expected.size();
  double scale = term_scale;
  for (float e : expected)
    if (std::isfinite(e)) scale = std::max(scale, std::fabs(static_cast<double>(e)));
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double a = actual[i], e = expected[i];
    if (std::isnan(e) || std::isnan(a)) {
      if (std::isnan(e) && std::isnan(a)) continue;
      return ::testing::AssertionFailure() << "element " << i << ": " << a << " vs " << e;
    }
    if (std::fabs(a - e) > rtol * (std::fabs(e) + scale))
      return ::testing::AssertionFailure()
             << "element " << i << ": " << a << " vs " << e << " (diff " << std::fabs(a - e)
             << ", allowed " << rtol * (std::fabs(e) + scale) << ")";
  }
  return ::testing::AssertionSuccess();
}

inline bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  // (memcmp must not see an empty vector's null data.)
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// sum(probe * y): a scalar loss whose gradient with respect to y is probe,
// for gradient checks.
inline double probe_loss(const std::vector<double>& probe, const std::vector<double>& y) {
  double loss = 0;
  for (std::size_t i = 0; i < probe.size(); ++i) loss += probe[i] * y[i];
  return loss;
}

// Central difference of loss() in `value` with step h (value restored
// afterwards).
template <typename T, typename Loss>
double central_difference(T& value, T h, const Loss& loss) {
  const T saved = value;
  value = saved + h;
  const double plus = loss();
  value = saved - h;
  const double minus = loss();
  value = saved;
  return (plus - minus) / (2.0 * static_cast<double>(h));
}

// The same in coordinate i of v with step 1e-6: for gradient checks of the
// double-precision references.
template <typename Loss>
double central_difference(std::vector<double>& v, std::size_t i, const Loss& loss) {
  return central_difference(v[i], 1e-6, loss);
}

// The shapes the BN tests sweep: those of batch_norm's cases in the shared
// list's test set (tests/cases/ops.txt): every rank, sizes 1, 3, 127 and 4097
// among them, and leaves of many samples in the reduction tree.
inline std::vector<Shape> batch_norm_shapes() {
  std::vector<Shape> shapes;
  for (const cases::ListedCase& c : cases::listed_cases("test"))
    if (c.op == "batch_norm" && std::find(shapes.begin(), shapes.end(), c.shape) == shapes.end())
      shapes.push_back(c.shape);
  return shapes;
}

}  // namespace normkit::test
