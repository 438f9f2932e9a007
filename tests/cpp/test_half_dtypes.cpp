// bfloat16 and float16 storage: the bit conversions (normkit/half.hpp), then
// every case of the shared list's test set with x, dy (and AdaIN's content
// and style) in a 16-bit dtype, on every SIMD path. A 16-bit output must be
// the float32 path's output on the same (widened) inputs rounded once, bit
// for bit, and so within one unit in the last place of the reference's;
// statistics and float32 gradients must be the float32 path's bits.
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "cases/case_list.hpp"
#include "core/half_span.hpp"
#include "core/simd_dispatch.hpp"
#include "kernels/vectors.hpp"
#include "normkit/half.hpp"
#include "test_util.hpp"

namespace normkit::test {
namespace {

// ---- the conversions ----------------------------------------------------------

bool is_nan16(std::uint16_t bits, DType dtype) {
  return dtype == DType::bfloat16 ? std::isnan(bfloat16_to_float(bits)) : std::isnan(float16_to_float(bits));
}
float widen(std::uint16_t bits, DType dtype) {
  return dtype == DType::bfloat16 ? bfloat16_to_float(bits) : float16_to_float(bits);
}
std::uint16_t narrow(float v, DType dtype) {
  return dtype == DType::bfloat16 ? float_to_bfloat16(v) : float_to_float16(v);
}

// The nearest 16-bit value to v, ties to the even bit pattern, found by
// comparing v in double with every finite value of the dtype around it (a
// search, not the bit arithmetic under test). Overflow: past the largest
// finite value by half a unit or more, +-inf.
std::uint16_t nearest16(float v, DType dtype) {
  const double target = v;
  const std::uint16_t sign = std::signbit(v) ? 0x8000 : 0;
  const std::uint16_t inf = dtype == DType::bfloat16 ? 0x7F80 : 0x7C00;
  std::uint16_t lo = 0, hi = inf;  // magnitudes: widen(lo) <= |v| < widen(hi)
  const double magnitude = std::fabs(target);
  while (hi - lo > 1) {
    const auto mid = static_cast<std::uint16_t>((lo + hi) / 2);
    (widen(mid, dtype) <= magnitude ? lo : hi) = mid;
  }
  const double below = widen(lo, dtype);
  // The value above the largest finite one, for the tie rule: one more unit.
  const double above = hi == inf ? 2 * static_cast<double>(widen(lo, dtype)) - widen(lo - 1, dtype) : widen(hi, dtype);
  const double d_lo = magnitude - below, d_hi = above - magnitude;
  std::uint16_t pick = d_lo < d_hi ? lo : d_hi < d_lo ? hi : (lo % 2 == 0 ? lo : hi);
  if (magnitude == below) pick = lo;
  return static_cast<std::uint16_t>(sign | pick);
}

class HalfBits : public ::testing::TestWithParam<DType> {};
INSTANTIATE_TEST_SUITE_P(Dtypes, HalfBits, ::testing::Values(DType::bfloat16, DType::float16),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST_P(HalfBits, EveryPatternWidensAndNarrowsBackToItself) {
  const DType dtype = GetParam();
  for (std::uint32_t b = 0; b < 0x10000; ++b) {
    const auto bits = static_cast<std::uint16_t>(b);
    const std::uint16_t back = narrow(widen(bits, dtype), dtype);
    if (is_nan16(bits, dtype)) {
      ASSERT_TRUE(is_nan16(back, dtype)) << std::hex << b;
      continue;
    }
    ASSERT_EQ(back, bits) << std::hex << b;
  }
}

TEST_P(HalfBits, NarrowingRoundsToNearestEven) {
  const DType dtype = GetParam();
  // Every 16-bit value, the midpoints between neighbours (ties), a quarter
  // either side, and a sweep of float bit patterns: normals, subnormals,
  // overflow.
  std::vector<float> probes;
  for (std::uint32_t b = 0; b < 0x7C00; ++b) {
    const float v = widen(static_cast<std::uint16_t>(b), dtype), next = widen(static_cast<std::uint16_t>(b + 1), dtype);
    if (!std::isfinite(v) || !std::isfinite(next)) continue;
    const float gap = next - v;
    for (float f : {v, v + gap / 2, v + gap / 4, v + 3 * gap / 4}) {
      probes.push_back(f);
      probes.push_back(-f);
    }
  }
  for (std::uint32_t u = 0; u < 0x7F800000u; u += 40503) probes.push_back(std::bit_cast<float>(u));
  probes.push_back(std::numeric_limits<float>::max());
  probes.push_back(std::numeric_limits<float>::infinity());
  probes.push_back(-std::numeric_limits<float>::infinity());
  for (float v : probes) ASSERT_EQ(narrow(v, dtype), nearest16(v, dtype)) << v;
}

TEST(HalfBits, NaNsAreQuiet) {
  for (std::uint32_t u : {0x7FC00000u, 0xFFC00001u, 0x7F800001u, 0xFFA00000u}) {
    const float nan = std::bit_cast<float>(u);
    EXPECT_EQ(float_to_bfloat16(nan), 0x7FC0) << std::hex << u;  // as PyTorch's c10::BFloat16
    const std::uint16_t h = float_to_float16(nan);
    EXPECT_TRUE(std::isnan(float16_to_float(h))) << std::hex << u;
    EXPECT_EQ(h & 0x8000u, (u >> 16) & 0x8000u) << "the sign is kept";
    EXPECT_NE(h & 0x0200u, 0u) << "quiet";
  }
}

#if defined(__x86_64__)
// F16C's conversion (what the AVX2 and AVX-512 paths use) gives the
// portable bits, NaNs included.
__attribute__((target("f16c"))) std::uint16_t f16c_narrow(float v) {
  return static_cast<std::uint16_t>(_mm_extract_epi16(_mm_cvtps_ph(_mm_set1_ps(v), _MM_FROUND_TO_NEAREST_INT), 0));
}
__attribute__((target("f16c"))) float f16c_widen(std::uint16_t h) {
  return _mm_cvtss_f32(_mm_cvtph_ps(_mm_set1_epi16(static_cast<short>(h))));
}

TEST(HalfBits, Float16MatchesF16C) {
  if (!__builtin_cpu_supports("f16c")) GTEST_SKIP() << "this CPU has no F16C";
  for (std::uint64_t u = 0; u <= 0xFFFFFFFFu; u += 4099) {
    const float v = std::bit_cast<float>(static_cast<std::uint32_t>(u));
    ASSERT_EQ(float_to_float16(v), f16c_narrow(v)) << std::hex << u;
  }
  for (std::uint32_t b = 0; b < 0x10000; ++b) {
    const float a = float16_to_float(static_cast<std::uint16_t>(b)), h = f16c_widen(static_cast<std::uint16_t>(b));
    ASSERT_EQ(std::bit_cast<std::uint32_t>(a), std::bit_cast<std::uint32_t>(h)) << std::hex << b;
  }
}
#endif

// The kernels' vector loads of 16-bit values (kernels/vectors.hpp: on
// AVX-512 bfloat16 goes through VPERMW) widen every pattern to the scalar
// conversion's bits, at each vector width the paths use.
template <int W, typename T>
[[gnu::always_inline]] inline void load_all(const T* p, float* out, std::int64_t n) {
  for (std::int64_t i = 0; i + W <= n; i += W) kernels::storev<W>(out + i, kernels::loadv<W>(p + i));
}
template <typename T>
void load_all_portable(const T* p, float* out, std::int64_t n) {
  load_all<4>(p, out, n);
}
#if NORMKIT_X86_DISPATCH
template <typename T>
NORMKIT_TARGET_AVX2 void load_all_avx2(const T* p, float* out, std::int64_t n) {
  load_all<8>(p, out, n);
}
template <typename T>
NORMKIT_TARGET_AVX512 void load_all_avx512(const T* p, float* out, std::int64_t n) {
  load_all<16>(p, out, n);
}
#endif

template <typename T>
void expect_loads_widen_every_pattern(DType dtype) {
  std::vector<T> patterns(0x10000);
  for (std::uint32_t b = 0; b < 0x10000; ++b) patterns[b].bits = static_cast<std::uint16_t>(b);
  for (SimdPath path : simd_paths()) {
    std::vector<float> wide(patterns.size(), -1.0f);
    const auto n = static_cast<std::int64_t>(patterns.size());
    switch (path) {
      case SimdPath::portable: load_all_portable(patterns.data(), wide.data(), n); break;
#if NORMKIT_X86_DISPATCH
      case SimdPath::avx2: load_all_avx2(patterns.data(), wide.data(), n); break;
      case SimdPath::avx512: load_all_avx512(patterns.data(), wide.data(), n); break;
#else
      default: continue;
#endif
    }
    for (std::uint32_t b = 0; b < 0x10000; ++b)
      ASSERT_EQ(std::bit_cast<std::uint32_t>(wide[b]), std::bit_cast<std::uint32_t>(widen(static_cast<std::uint16_t>(b), dtype)))
          << simd_path_name(path) << " " << dtype_name(dtype) << " " << std::hex << b;
  }
}

TEST(HalfBits, KernelVectorLoadsWidenEveryPattern) {
  expect_loads_widen_every_pattern<kernels::Bf16>(DType::bfloat16);
  expect_loads_widen_every_pattern<kernels::F16>(DType::float16);
}

// The vectorized spans (core/half_span.hpp) give the scalar conversions
// bits on every path, for every 16-bit pattern widened and a sweep of float
// patterns narrowed (NaNs, infinities, subnormals, ties), at every offset
// from an aligned start and with streaming stores.
TEST(HalfBits, SpansGiveTheScalarBitsOnEveryPath) {
  std::vector<float> probes;
  for (std::uint64_t u = 0; u <= 0xFFFFFFFFu; u += 65537) probes.push_back(std::bit_cast<float>(static_cast<std::uint32_t>(u)));
  for (std::uint32_t b = 0; b < 0x10000; b += 7) {  // ties of both dtypes
    probes.push_back(std::bit_cast<float>((b << 16) | 0x8000u));
    probes.push_back(std::bit_cast<float>((b << 13) | 0x1000u));
  }
  std::vector<std::uint16_t> patterns(0x10000);
  for (std::uint32_t b = 0; b < 0x10000; ++b) patterns[b] = static_cast<std::uint16_t>(b);
  for (SimdPath path : simd_paths()) {
    set_simd_path(path);
    for (DType dtype : {DType::bfloat16, DType::float16}) {
      std::vector<float> wide(patterns.size());
      widen_span(patterns.data(), wide.data(), static_cast<std::int64_t>(patterns.size()), dtype);
      for (std::uint32_t b = 0; b < 0x10000; ++b)
        ASSERT_EQ(std::bit_cast<std::uint32_t>(wide[b]), std::bit_cast<std::uint32_t>(widen(static_cast<std::uint16_t>(b), dtype)))
            << simd_path_name(path) << " " << dtype_name(dtype) << " " << std::hex << b;
      for (bool stream : {false, true})
        for (std::int64_t offset : {0, 1, 5, 13}) {
          std::vector<std::uint16_t> narrowed(probes.size() + 16, 0xABCD);
          const std::int64_t n = static_cast<std::int64_t>(probes.size()) - offset;
          narrow_span(probes.data() + offset, narrowed.data() + offset, n, dtype, stream);
#if defined(__x86_64__)
          _mm_sfence();
#endif
          for (std::int64_t i = 0; i < n; ++i)
            ASSERT_EQ(narrowed[offset + i], narrow(probes[offset + i], dtype))
                << simd_path_name(path) << " " << dtype_name(dtype) << " offset " << offset << " " << probes[offset + i];
          ASSERT_EQ(narrowed[probes.size()], 0xABCD) << "nothing past the span";
        }
    }
  }
  set_simd_path(best_simd_path());
}

TEST(HalfBits, CopyIntoConvertsAndRefusesOtherDtypes) {
  Tensor f({2, 3}), h({2, 3}, DType::bfloat16), back({2, 3});
  for (int i = 0; i < 6; ++i) f.data<float>()[i] = 1.0f + static_cast<float>(i) / 1024;  // between bf16 values
  copy_into(f, h);
  copy_into(h, back);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(h.data<std::uint16_t>()[i], float_to_bfloat16(f.data<float>()[i]));
    EXPECT_EQ(back.data<float>()[i], bfloat16_to_float(h.data<std::uint16_t>()[i]));
  }
  Tensor ints({2, 3}, DType::int64);
  EXPECT_NE(error_of([&] { copy_into(ints, h); }).find("dtypes int64 and bfloat16 differ"), std::string::npos);
}

// ---- the family in 16-bit storage -----------------------------------------------

struct HalfCase {
  SimdPath path;
  DType dtype;
};
class HalfListedCases : public ::testing::TestWithParam<HalfCase> {
 protected:
  void SetUp() override { set_simd_path(GetParam().path); }
  void TearDown() override { set_simd_path(best_simd_path()); }
};
std::vector<HalfCase> half_cases() {
  std::vector<HalfCase> all;
  for (SimdPath path : simd_paths())
    for (DType dtype : {DType::bfloat16, DType::float16}) all.push_back({path, dtype});
  return all;
}
INSTANTIATE_TEST_SUITE_P(Paths, HalfListedCases, ::testing::ValuesIn(half_cases()), [](const auto& info) {
  return std::string(simd_path_name(info.param.path)) + "_" + dtype_name(info.param.dtype);
});

bool is_data(const char* name) {
  const std::string n = name;
  return n == "x" || n == "dy" || n == "content" || n == "style";
}

// The call's values with its data tensors in `dtype` (rounded once;
// `storage` keeps them), and with them widened back to float32 (exactly).
struct NarrowedValues {
  std::vector<ops::Value> narrow, wide;
};
NarrowedValues narrowed(const ops::Function& f, const std::vector<ops::Value>& values, DType dtype,
                        std::vector<Tensor>& storage) {
  NarrowedValues out{values, values};
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (!is_data(f.args[i].name) || !std::holds_alternative<TensorView>(values[i])) continue;
    const TensorView t = std::get<TensorView>(values[i]);
    storage.emplace_back(t.shape(), dtype, t.memory_format());
    copy_into(t, storage.back());
    out.narrow[i] = storage.back().view();
    storage.emplace_back(t.shape(), DType::float32, t.memory_format());
    copy_into(storage[storage.size() - 2], storage.back());
    out.wide[i] = storage.back().view();
  }
  return out;
}

// One unit in the last place of `dtype` at the (float32) value v.
double ulp16(float v, DType dtype) {
  const std::uint16_t b = static_cast<std::uint16_t>(narrow(std::fabs(v), dtype) & 0x7FFF);
  return std::fabs(static_cast<double>(widen(static_cast<std::uint16_t>(b + 1), dtype)) - widen(b, dtype));
}

// Each result of the 16-bit call against the float32 call on the widened
// inputs (`wide`): a 16-bit result must be wide's rounded once, and within
// one unit of the reference's; a float32 result must be wide's bits.
void expect_rounded_once(const std::vector<Tensor>& half, const std::vector<Tensor>& wide,
                         const std::vector<Tensor>& ref, const std::vector<ops::Result>& results, DType dtype,
                         double term_scale) {
  ASSERT_EQ(half.size(), wide.size());
  for (std::size_t i = 0; i < half.size(); ++i) {
    SCOPED_TRACE(results[i].name);
    ASSERT_EQ(half[i].defined(), wide[i].defined());
    if (!half[i].defined()) continue;
    const std::vector<float> h = values(half[i]), w = values(wide[i]), r = values(ref[i]);
    if (half[i].dtype() == DType::float32) {
      EXPECT_TRUE(same_bits(h, w));
      continue;
    }
    ASSERT_EQ(half[i].dtype(), dtype);
    for (std::size_t k = 0; k < h.size(); ++k) {
      ASSERT_EQ(std::bit_cast<std::uint32_t>(h[k]), std::bit_cast<std::uint32_t>(widen(narrow(w[k], dtype), dtype)))
          << "element " << k << ": " << h[k] << " is not " << w[k] << " rounded once";
      ASSERT_LE(std::fabs(static_cast<double>(h[k]) - r[k]), ulp16(r[k], dtype) + 1e-5 * term_scale)
          << "element " << k << ": " << h[k] << " against the reference's " << r[k];
    }
  }
}

double max_abs(const std::vector<Tensor>& ts) {
  double m = 0;
  for (const Tensor& t : ts)
    if (t.defined())
      for (float v : values(t)) m = std::max<double>(m, std::fabs(v));
  return m;
}

TEST_P(HalfListedCases, OutputsAreTheFloat32PathsRoundedOnce) {
  const DType dtype = GetParam().dtype;
  for (const cases::ListedCase& c : cases::listed_cases("test")) {
    if (c.op.rfind("add_", 0) == 0) continue;  // the norm of a rounded sum: AddNormInSixteenBits below
    SCOPED_TRACE(c.name());
    const ops::Op& op = ops::op(c.op);
    ops::CaseArguments half_args = op.arguments(c), wide_args = op.arguments(c), ref_args = op.arguments(c);
    std::vector<Tensor> storage;
    const NarrowedValues forward = narrowed(op.forward, half_args.forward, dtype, storage);
    const std::vector<ops::Value> wide_forward = narrowed(op.forward, wide_args.forward, dtype, storage).wide;
    const std::vector<ops::Value> ref_forward = narrowed(op.forward, ref_args.forward, dtype, storage).wide;
    const std::vector<Tensor> half = op.forward.call(forward.narrow, Impl::fast);
    const std::vector<Tensor> wide = op.forward.call(wide_forward, Impl::fast);
    const std::vector<Tensor> ref = op.forward.call(ref_forward, Impl::reference);
    // (An output near zero is a difference of terms of the size of the
    // largest output: float32's error in it is held to that size.)
    expect_rounded_once(half, wide, ref, op.forward.results, dtype, max_abs(ref));
    // Backward on the float32 forward's results, dy and x in 16 bits.
    const NarrowedValues backward = narrowed(op.backward, half_args.backward(wide), dtype, storage);
    const std::vector<Tensor> half_grads = op.backward.call(backward.narrow, Impl::fast);
    const std::vector<Tensor> wide_grads = op.backward.call(backward.wide, Impl::fast);
    const std::vector<Tensor> ref_grads = op.backward.call(backward.wide, Impl::reference);
    expect_rounded_once(half_grads, wide_grads, ref_grads, op.backward.results, dtype, max_abs(ref_grads));
  }
}

// The fused residual add in 16 bits: residual_out is x + residual rounded
// once, y the float32 norm of those stored values rounded once, dsum the
// float32 norm's dx at them plus dresidual_out, rounded once.
TEST_P(HalfListedCases, AddNormInSixteenBits) {
  const DType dtype = GetParam().dtype;
  const auto narrowed_copy = [&](const TensorView& t, std::vector<Tensor>& keep) {
    keep.emplace_back(t.shape(), dtype);
    copy_into(t, keep.back());
    return keep.back().view();
  };
  const auto wide_copy = [](const TensorView& t, std::vector<Tensor>& keep) {
    keep.emplace_back(t.shape());
    copy_into(t, keep.back());
    return keep.back().view();
  };
  for (const cases::ListedCase& c : cases::listed_cases("test")) {
    if (c.op.rfind("add_", 0) != 0) continue;
    SCOPED_TRACE(c.name());
    const bool rms = c.op == "add_rms_norm";
    const ops::Op& op = ops::op(c.op);
    ops::CaseArguments args = op.arguments(c);
    std::vector<Tensor> keep;
    std::vector<ops::Value> f = args.forward;
    const TensorView x = narrowed_copy(std::get<TensorView>(f[0]), keep);
    const TensorView r = narrowed_copy(std::get<TensorView>(f[1]), keep);
    f[0] = x;
    f[1] = r;
    const std::vector<Tensor> half = op.forward.call(f, Impl::fast);
    // residual_out: the float32 sum, rounded once.
    const std::vector<float> xs = values(x), rs = values(r), stored = values(half[1]);
    for (std::size_t k = 0; k < xs.size(); ++k)
      ASSERT_EQ(std::bit_cast<std::uint32_t>(stored[k]), std::bit_cast<std::uint32_t>(widen(narrow(xs[k] + rs[k], dtype), dtype)))
          << k;
    // y and the statistics: the float32 norm of the stored values.
    const TensorView rows = wide_copy(half[1], keep);
    const ops::Op& norm = ops::op(rms ? "rms_norm" : "layer_norm");
    // (add_*_forward's arguments past x and residual are the norm's past x.)
    const std::vector<ops::Value> norm_args{rows, f[2], f[3], f[4], f[5]};
    const std::vector<Tensor> wide = norm.forward.call(norm_args, Impl::fast);
    const std::vector<float> y = values(half[0]), y32 = values(wide[0]);
    for (std::size_t k = 0; k < y.size(); ++k)
      ASSERT_EQ(std::bit_cast<std::uint32_t>(y[k]), std::bit_cast<std::uint32_t>(widen(narrow(y32[k], dtype), dtype))) << k;
    for (std::size_t i = 1; i < wide.size(); ++i) EXPECT_TRUE(same_bits(values(half[i + 1]), values(wide[i])));
    // Backward: dsum = the norm's dx + dresidual_out, rounded once.
    std::vector<ops::Value> b = args.backward(half);
    const TensorView dy = narrowed_copy(std::get<TensorView>(b[0]), keep);
    const TensorView dres = narrowed_copy(std::get<TensorView>(b[1]), keep);
    b[0] = dy;
    b[1] = dres;
    const std::vector<Tensor> grads = op.backward.call(b, Impl::fast);
    const TensorView dy32 = wide_copy(dy, keep);
    const std::vector<ops::Value> norm_back =
        rms ? std::vector<ops::Value>{dy32, rows, b[3], b[4], b[5], b[6]}
            : std::vector<ops::Value>{dy32, rows, b[3], b[4], b[5], b[6], b[7]};
    const std::vector<Tensor> norm_grads = norm.backward.call(norm_back, Impl::fast);
    const std::vector<float> dsum = values(grads[0]), dx32 = values(norm_grads[0]), d = values(dres);
    for (std::size_t k = 0; k < dsum.size(); ++k)
      ASSERT_EQ(std::bit_cast<std::uint32_t>(dsum[k]),
                std::bit_cast<std::uint32_t>(widen(narrow(dx32[k] + d[k], dtype), dtype)))
          << k;
    for (std::size_t i = 1; i < grads.size(); ++i)
      if (grads[i].defined()) EXPECT_TRUE(same_bits(values(grads[i]), values(norm_grads[i])));
  }
}

TEST(HalfDtypes, MismatchedDtypesAreRefusedByName) {
  Tensor x({4, 8}, DType::bfloat16), y({4, 8}, DType::float16), mean({4, 1}), rstd({4, 1});
  std::memset(x.data<std::uint16_t>(), 0, 64);
  const std::string e = error_of([&] { layer_norm_forward({x, {8}, {}, {}}, {}, {y, mean, rstd}); });
  EXPECT_NE(e.find("y: expected float32 or bfloat16 (the input's dtype), got float16"), std::string::npos) << e;
  Tensor w({8}, DType::float16);
  const std::string e2 = error_of([&] { layer_norm_forward({x, {8}, w, {}}); });
  EXPECT_NE(e2.find("weight: expected float32 or bfloat16"), std::string::npos) << e2;
  Tensor q({4, 8}, DType::int8);
  const std::string e3 = error_of([&] { layer_norm_forward({q, {8}, {}, {}}); });
  EXPECT_NE(e3.find("input: expected float32, bfloat16 or float16, got int8"), std::string::npos) << e3;
}

}  // namespace
}  // namespace normkit::test
