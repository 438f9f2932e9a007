// LayerNorm and RMSNorm with int8 output (normkit/norm_quant.hpp): the fast
// path against the reference's y quantized (equal except where y / scale
// lies within float32 rounding of a .5 boundary), static and per-row scales,
// the same bits on every SIMD path and thread count, clamping, rows of zeros,
// NaN, and the errors.
#include "normkit/norm_quant.hpp"
#include "test_util.hpp"

namespace normkit::test {
namespace {

class NormQuant : public EverySimdPath {};
INSTANTIATE_TEST_SUITE_P(Simd, NormQuant, every_simd_path(), simd_path_param_name);

Tensor filled(const Shape& shape, std::uint64_t seed, float mean, float stddev) {
  Tensor t(shape);
  const std::vector<float> v = normal_values<float>(static_cast<std::size_t>(t.numel()), seed, mean, stddev);
  std::copy(v.begin(), v.end(), t.data<float>());
  return t;
}

std::vector<int> ints(const Tensor& q) {
  return std::vector<int>(q.data<std::int8_t>(), q.data<std::int8_t>() + q.numel());
}

// q against the reference's: equal, or one apart where the reference's y /
// scale is within float32 rounding of a .5 boundary.
void expect_quantized_like(const Tensor& q, const Tensor& ref_q, const std::vector<double>& ratio) {
  ASSERT_EQ(q.numel(), ref_q.numel());
  for (std::int64_t i = 0; i < q.numel(); ++i) {
    const int a = q.data<std::int8_t>()[i], b = ref_q.data<std::int8_t>()[i];
    if (a == b) continue;
    const double t = ratio[static_cast<std::size_t>(i)];
    EXPECT_TRUE(std::abs(a - b) == 1 && std::fabs(std::fabs(t - std::floor(t)) - 0.5) < 1e-5 * (1 + std::fabs(t)))
        << "element " << i << ": " << a << " against " << b << " (y / scale " << t << ")";
  }
}

TEST_P(NormQuant, FastMatchesTheQuantizedReference) {
  for (const Shape& shape : {Shape{1, 4096}, Shape{7, 33}, Shape{64, 768}, Shape{2, 3, 130}}) {
    SCOPED_TRACE(shape_string(shape));
    const Shape ns{shape.back()};
    const Tensor x = filled(shape, 1, 0.4f, 1.3f), w = filled(ns, 2, 1.0f, 0.3f), b = filled(ns, 3, 0.0f, 0.2f);
    for (std::optional<double> scale : {std::optional<double>{}, std::optional<double>{0.021}}) {
      for (bool rms : {false, true}) {
        SCOPED_TRACE(std::string(rms ? "rms" : "layer") + (scale ? " static" : " per row"));
        Tensor q, ref_q, scales, ref_scales, y_ref;
        if (rms) {
          const RMSNormQuantResult f = rms_norm_quant_forward({x, ns, w}, {.eps = 1e-6, .weight_offset = 0.5}, scale);
          const RMSNormQuantResult r =
              rms_norm_quant_forward({x, ns, w}, {.eps = 1e-6, .impl = Impl::reference, .weight_offset = 0.5}, scale);
          q = f.q, ref_q = r.q, scales = f.scales, ref_scales = r.scales;
          y_ref = rms_norm_forward({x, ns, w}, {.eps = 1e-6, .impl = Impl::reference, .weight_offset = 0.5}).y;
          EXPECT_TRUE(same_bits(values(f.rstd), values(rms_norm_forward({x, ns, w}, {.eps = 1e-6}).rstd)));
        } else {
          const LayerNormQuantResult f = layer_norm_quant_forward({x, ns, w, b}, {}, scale);
          const LayerNormQuantResult r = layer_norm_quant_forward({x, ns, w, b}, {.impl = Impl::reference}, scale);
          q = f.q, ref_q = r.q, scales = f.scales, ref_scales = r.scales;
          y_ref = layer_norm_forward({x, ns, w, b}, {.impl = Impl::reference}).y;
          EXPECT_TRUE(same_bits(values(f.mean), values(layer_norm_forward({x, ns, w, b}).mean)));
        }
        EXPECT_EQ(q.dtype(), DType::int8);
        EXPECT_TRUE(all_close(values(scales), values(ref_scales), 1e-6));
        if (scale) EXPECT_EQ(scales.shape(), (Shape{1}));
        else EXPECT_EQ(scales.numel(), shape_numel(shape) / shape.back());
        const std::vector<float> y = values(y_ref), s = values(ref_scales);
        std::vector<double> ratio(y.size());
        for (std::size_t i = 0; i < y.size(); ++i) ratio[i] = y[i] / s[scale ? 0 : i / static_cast<std::size_t>(shape.back())];
        expect_quantized_like(q, ref_q, ratio);
        // The per-row scale maps the row's largest magnitude to +-127.
        if (!scale) {
          const auto n = static_cast<std::size_t>(shape.back());
          for (std::size_t r = 0; r < q.numel() / n; ++r) {
            int largest = 0;
            for (std::size_t k = 0; k < n; ++k) largest = std::max(largest, std::abs(int{q.data<std::int8_t>()[r * n + k]}));
            EXPECT_EQ(largest, 127) << "row " << r;
          }
        }
      }
    }
  }
}

TEST(NormQuantBits, SameOnEveryThreadCountAndPath) {
  const Tensor x = filled({256, 768}, 4, 0.0f, 2.0f);
  std::vector<int> first;
  for (SimdPath path : simd_paths())
    for (int threads : {1, 2}) {
      set_simd_path(path);
      set_num_threads(threads);
      const std::vector<int> q = ints(layer_norm_quant_forward({x, {768}}, {}, std::nullopt).q);
      if (first.empty()) first = q;
      EXPECT_EQ(q, first) << simd_path_name(path) << ", " << threads << " threads";
    }
  set_simd_path(best_simd_path());
  set_num_threads(2);
}

TEST(NormQuantEdges, ClampsZeroRowsAndNaN) {
  Tensor x({3, 4});
  const float rows[3][4] = {{0, 0, 0, 0}, {1, -1, 3, -3}, {std::nanf(""), 1, 2, 3}};
  std::copy(&rows[0][0], &rows[0][0] + 12, x.data<float>());
  const RMSNormQuantResult tiny = rms_norm_quant_forward({x, {4}}, {.eps = 1e-6}, 1e-3);  // y / scale far past int8
  EXPECT_EQ(ints(tiny.q)[4], 127);
  EXPECT_EQ(ints(tiny.q)[5], -128);
  const RMSNormQuantResult per_row = rms_norm_quant_forward({x, {4}}, {.eps = 1e-6}, std::nullopt);
  EXPECT_EQ(per_row.scales.data<float>()[0], 1.0f);  // a row of zeros
  for (int k = 0; k < 4; ++k) EXPECT_EQ(ints(per_row.q)[static_cast<std::size_t>(k)], 0);
  for (int k = 8; k < 12; ++k) EXPECT_EQ(ints(per_row.q)[static_cast<std::size_t>(k)], 0) << "NaN row";
}

TEST(NormQuantErrors, NameTheArgument) {
  const Tensor x({2, 8});
  EXPECT_NE(error_of([&] { rms_norm_quant_forward({x, {8}}, {}, 0.0); }).find("scale: expected a positive finite number"),
            std::string::npos);
  EXPECT_NE(error_of([&] { layer_norm_quant_forward({x, {8}}, {}, -1.0); }).find("scale: expected"), std::string::npos);
  const Tensor q({2, 8}, DType::int8);
  EXPECT_NE(error_of([&] { layer_norm_quant_forward({q, {8}}, {}, 1.0); }).find("input: expected float32, bfloat16 or float16"),
            std::string::npos);
}

}  // namespace
}  // namespace normkit::test
