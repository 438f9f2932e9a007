// The fused residual add + norm (normkit/add_norm.hpp) against the add and
// the norm called one after the other: the same bits, on every SIMD path and
// thread count; dresidual_out left out; the errors. (Its fast path against
// the reference, forward and backward, and in 16 bits: the listed cases.)
#include "normkit/add_norm.hpp"
#include "test_util.hpp"

namespace normkit::test {
namespace {

class AddNorm : public EverySimdPath {};
INSTANTIATE_TEST_SUITE_P(Simd, AddNorm, every_simd_path(), simd_path_param_name);

Tensor filled(const Shape& shape, std::uint64_t seed, float mean) {
  Tensor t(shape);
  const std::vector<float> v = normal_values<float>(static_cast<std::size_t>(t.numel()), seed, mean, 1.5f);
  std::copy(v.begin(), v.end(), t.data<float>());
  return t;
}

TEST_P(AddNorm, FusedIsTheAddThenTheNorm) {
  for (const Shape& shape : {Shape{3, 1}, Shape{5, 33}, Shape{64, 768}, Shape{3, 4097}, Shape{2, 3, 130}}) {
    SCOPED_TRACE(shape_string(shape));
    const Shape ns{shape.back()};
    const Tensor x = filled(shape, 1, 0.5f), r = filled(shape, 2, -0.2f), w = filled(ns, 3, 1.0f), b = filled(ns, 4, 0.0f);
    Tensor sum(shape);
    for (std::int64_t i = 0; i < sum.numel(); ++i) sum.data<float>()[i] = x.data<float>()[i] + r.data<float>()[i];
    for (int threads : {1, 2}) {
      set_num_threads(threads);
      for (double offset : {0.0, 1.0}) {
        const AddRMSNormForwardResult fused = add_rms_norm_forward({x, r, ns, w}, {.eps = 1e-6, .weight_offset = offset});
        const RMSNormForwardResult apart = rms_norm_forward({sum, ns, w}, {.eps = 1e-6, .weight_offset = offset});
        EXPECT_TRUE(same_bits(values(fused.residual_out), values(sum)));
        EXPECT_TRUE(same_bits(values(fused.y), values(apart.y)));
        EXPECT_TRUE(same_bits(values(fused.rstd), values(apart.rstd)));
      }
      const AddLayerNormForwardResult fused = add_layer_norm_forward({x, r, ns, w, b});
      const LayerNormForwardResult apart = layer_norm_forward({sum, ns, w, b});
      EXPECT_TRUE(same_bits(values(fused.residual_out), values(sum)));
      EXPECT_TRUE(same_bits(values(fused.y), values(apart.y)));
      EXPECT_TRUE(same_bits(values(fused.mean), values(apart.mean)));
      // Backward without dresidual_out is the norm's backward at residual_out.
      const Tensor dy = filled(shape, 5, 0.0f);
      const AddNormBackwardResult g =
          add_layer_norm_backward({dy, {}, fused.residual_out, ns, fused.mean, fused.rstd, w}, {}, true);
      const LayerNormBackwardResult h = layer_norm_backward({dy, sum, ns, fused.mean, fused.rstd, w}, {}, true, true);
      EXPECT_TRUE(same_bits(values(g.dsum), values(h.dx)));
      EXPECT_TRUE(same_bits(values(g.dweight), values(h.dweight)));
      EXPECT_TRUE(same_bits(values(g.dbias), values(h.dbias)));
    }
    set_num_threads(2);
  }
}

// A refused call writes nothing: residual_out keeps its values on either
// path (float32 fused, or a 16-bit residual through buffers).
TEST(AddNormErrors, ARefusedCallWritesNothing) {
  for (DType dtype : {DType::float32, DType::bfloat16}) {
    const Tensor x({2, 8}, dtype), r({2, 8}, dtype), y({2, 8}, dtype), rstd({2, 1}), mean({2, 1});
    std::memset(x.view().raw(), 0, 16 * dtype_size(dtype));
    std::memset(r.view().raw(), 0, 16 * dtype_size(dtype));
    Tensor out({2, 8}, dtype);
    std::memset(out.view().raw(), 0x5A, 16 * dtype_size(dtype));
    const Tensor before = Tensor::copy_of(out);
    EXPECT_NE(error_of([&] { add_rms_norm_forward({x, r, {8}}, {.eps = -1.0}, {y, out, rstd}); }).find("eps:"),
              std::string::npos);
    EXPECT_NE(error_of([&] { add_layer_norm_forward({x, r, {8}}, {.eps = 1e-5}, {y, out, Tensor({3, 1}), rstd}); })
                  .find("mean: expected shape (2, 1)"),
              std::string::npos);
    EXPECT_EQ(std::memcmp(out.view().raw(), before.view().raw(), 16 * dtype_size(dtype)), 0) << dtype_name(dtype);
  }
}

TEST(AddNormErrors, NameTheArgument) {
  const Tensor x({2, 8}), r({2, 7}), w({8});
  EXPECT_NE(error_of([&] { add_rms_norm_forward({x, r, {8}, w}); }).find("residual: expected shape (2, 8)"),
            std::string::npos);
  const Tensor r16({2, 8}, DType::bfloat16);
  EXPECT_NE(error_of([&] { add_rms_norm_forward({x, r16, {8}, w}); }).find("residual: expected float32, got bfloat16"),
            std::string::npos);
  const Tensor r32({2, 8}), y({2, 8}), out16({2, 8}, DType::bfloat16), rstd({2, 1});
  EXPECT_NE(error_of([&] { add_rms_norm_forward({x, r32, {8}, w}, {}, {y, out16, rstd}); })
                .find("residual_out: expected float32"),
            std::string::npos);
  EXPECT_NE(error_of([&] { add_rms_norm_forward({x, r32, {8}, w, w}); }).find("bias: RMSNorm has none"),
            std::string::npos);
  EXPECT_NE(error_of([&] { add_rms_norm_forward({x, r32, {8}, w}, {.weight_offset = std::nan("")}); })
                .find("weight_offset: expected a finite number"),
            std::string::npos);
}

}  // namespace
}  // namespace normkit::test
