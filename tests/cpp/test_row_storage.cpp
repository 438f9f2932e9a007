// The row norms read and write rows where they lie (kernels/row_operand.hpp):
// per-head QK-norm over a strided (B, T, H, D) view of q inside a packed
// (B, T, 3, H, D) qkv tensor, in float32 and 16 bits, forward and backward,
// gives the bits of the same call on contiguous copies, on every SIMD path
// and thread count, and writes nothing outside its output view; so do
// statistics in strided views.
#include "normkit/add_norm.hpp"
#include "normkit/layer_norm.hpp"
#include "kernels/row_operand.hpp"
#include "test_util.hpp"

namespace normkit::test {
namespace {

constexpr std::int64_t B = 2, T = 5, H = 3, D = 64;

class RowStorage : public EverySimdPath {};
INSTANTIATE_TEST_SUITE_P(Simd, RowStorage, every_simd_path(), simd_path_param_name);

// A packed (B, T, 3, H, D) tensor of random values in `dtype`.
Tensor packed(DType dtype, std::uint64_t seed) {
  Tensor values32({B, T, 3, H, D});
  const std::vector<float> v = normal_values<float>(static_cast<std::size_t>(values32.numel()), seed, 0.3f, 1.2f);
  std::copy(v.begin(), v.end(), values32.data<float>());
  Tensor t(values32.shape(), dtype);
  copy_into(values32, t);
  return t;
}

// Slot s (0: q, 1: k, 2: v) of a packed tensor, as a (B, T, H, D) view.
TensorView slot(const Tensor& qkv, int s) {
  const auto* base = static_cast<std::byte*>(qkv.view().raw()) + s * H * D * static_cast<std::int64_t>(dtype_size(qkv.dtype()));
  return TensorView(const_cast<std::byte*>(base), {B, T, H, D}, {T * 3 * H * D, 3 * H * D, D, 1}, qkv.dtype());
}

Tensor contiguous_copy(const TensorView& v) {
  Tensor c(v.shape(), v.dtype());
  copy_into(v, c);
  return c;
}

TEST_P(RowStorage, QkNormOnAStridedViewIsTheContiguousCall) {
  const Shape ns{D};
  Tensor weight({D});
  for (std::int64_t d = 0; d < D; ++d) weight.data<float>()[d] = 0.5f + static_cast<float>(d) / 64;
  for (DType dtype : {DType::float32, DType::bfloat16, DType::float16})
    for (int threads : {1, 2}) {
      SCOPED_TRACE(std::string(dtype_name(dtype)) + ", " + std::to_string(threads) + " threads");
      set_num_threads(threads);
      const Tensor qkv = packed(dtype, 1), grads = packed(dtype, 2);
      const TensorView q = slot(qkv, 0), dy = slot(grads, 1);
      const Tensor q_copy = contiguous_copy(q), dy_copy = contiguous_copy(dy);

      // Forward: y written into the k slot of another packed tensor.
      Tensor out = packed(dtype, 3);
      const std::vector<float> before = values(out);
      const TensorView y = slot(out, 1);
      Tensor mean({B, T, H, 1}), rstd({B, T, H, 1});
      layer_norm_forward({q, ns, weight, {}}, {}, {y, mean, rstd});
      const LayerNormForwardResult want = layer_norm_forward({q_copy, ns, weight, {}});
      EXPECT_TRUE(same_bits(values(y), values(want.y)));
      EXPECT_TRUE(same_bits(values(rstd), values(want.rstd)));
      // The q and v slots of the output are untouched.
      const std::vector<float> after = values(out);
      for (std::size_t i = 0; i < after.size(); ++i)
        if ((i / (H * D)) % 3 != 1) ASSERT_EQ(std::bit_cast<std::uint32_t>(after[i]), std::bit_cast<std::uint32_t>(before[i])) << i;

      // Backward: dy and x strided, dx into a strided view.
      Tensor dx_out = packed(dtype, 4);
      const TensorView dx = slot(dx_out, 2);
      Tensor dweight({D});
      layer_norm_backward({dy, q, ns, mean, rstd, weight}, {}, {dx, dweight, {}});
      const LayerNormBackwardResult g = layer_norm_backward({dy_copy, q_copy, ns, mean, rstd, weight}, {}, true, false);
      EXPECT_TRUE(same_bits(values(dx), values(g.dx)));
      EXPECT_TRUE(same_bits(values(dweight), values(g.dweight)));

      // RMSNorm, forward and backward, into new (contiguous) outputs.
      const RMSNormForwardResult rf = rms_norm_forward({q, ns, weight}, {.eps = 1e-6});
      const RMSNormForwardResult rf_want = rms_norm_forward({q_copy, ns, weight}, {.eps = 1e-6});
      EXPECT_TRUE(same_bits(values(rf.y), values(rf_want.y)));
      const RMSNormBackwardResult rb = rms_norm_backward({dy, q, ns, rf.rstd, weight}, {.eps = 1e-6});
      const RMSNormBackwardResult rb_want = rms_norm_backward({dy_copy, q_copy, ns, rf.rstd, weight}, {.eps = 1e-6});
      EXPECT_TRUE(same_bits(values(rb.dx), values(rb_want.dx)));
      EXPECT_TRUE(same_bits(values(rb.dweight), values(rb_want.dweight)));

      // The fused add + RMSNorm with a strided x (a residual stream of its
      // own, contiguous).
      const Tensor residual = contiguous_copy(slot(grads, 0));
      const AddRMSNormForwardResult af = add_rms_norm_forward({q, residual, ns, weight}, {.eps = 1e-6});
      const AddRMSNormForwardResult af_want = add_rms_norm_forward({q_copy, residual, ns, weight}, {.eps = 1e-6});
      EXPECT_TRUE(same_bits(values(af.y), values(af_want.y)));
      EXPECT_TRUE(same_bits(values(af.residual_out), values(af_want.residual_out)));
    }
  set_num_threads(2);
}

// The statistics written into strided views (every other float of a
// buffer) and read back from them give the bits of contiguous ones, and
// nothing between the view's elements is written: the kernels write and read
// contiguous statistics in place, and go through a buffer otherwise.
TensorView every_other(Tensor& buffer, std::int64_t rows) {
  return TensorView(buffer.data<float>(), {rows, 1}, {2, 1}, DType::float32);
}

TEST_P(RowStorage, StatisticsInStridedViewsAreTheContiguousCall) {
  const std::int64_t rows = 130, cols = 96;  // more than two blocks of 64 rows
  const Shape shape{rows, cols}, ns{cols};
  Tensor x(shape), dy(shape), residual(shape);
  for (auto [t, seed] : {std::pair{&x, 11}, {&dy, 12}, {&residual, 13}}) {
    const std::vector<float> v = normal_values<float>(static_cast<std::size_t>(rows * cols), seed, 0.5f, 1.5f);
    std::copy(v.begin(), v.end(), t->data<float>());
  }
  const Tensor weight = Tensor::full(ns, 0.75f), bias = Tensor::full(ns, 0.25f);
  const auto untouched_between = [](const Tensor& buffer) {
    for (std::int64_t i = 1; i < buffer.numel(); i += 2) ASSERT_EQ(buffer.data<float>()[i], -7.0f) << i;
  };
  for (int threads : {1, 2}) {
    SCOPED_TRACE(std::to_string(threads) + " threads");
    set_num_threads(threads);
    Tensor mean_buffer = Tensor::full({2 * rows}, -7.0f), rstd_buffer = Tensor::full({2 * rows}, -7.0f);
    const TensorView mean = every_other(mean_buffer, rows), rstd = every_other(rstd_buffer, rows);

    // LayerNorm.
    Tensor y(shape);
    layer_norm_forward({x, ns, weight, bias}, {}, {y, mean, rstd});
    const LayerNormForwardResult want = layer_norm_forward({x, ns, weight, bias});
    EXPECT_TRUE(same_bits(values(y), values(want.y)));
    EXPECT_TRUE(same_bits(values(mean), values(want.mean)));
    EXPECT_TRUE(same_bits(values(rstd), values(want.rstd)));
    untouched_between(mean_buffer);
    untouched_between(rstd_buffer);
    const LayerNormBackwardResult g = layer_norm_backward({dy, x, ns, mean, rstd, weight}, {}, true, true);
    const LayerNormBackwardResult g_want = layer_norm_backward({dy, x, ns, want.mean, want.rstd, weight}, {}, true, true);
    EXPECT_TRUE(same_bits(values(g.dx), values(g_want.dx)));
    EXPECT_TRUE(same_bits(values(g.dweight), values(g_want.dweight)));
    EXPECT_TRUE(same_bits(values(g.dbias), values(g_want.dbias)));

    // RMSNorm.
    rms_norm_forward({x, ns, weight}, {.eps = 1e-6}, {y, rstd});
    const RMSNormForwardResult rf = rms_norm_forward({x, ns, weight}, {.eps = 1e-6});
    EXPECT_TRUE(same_bits(values(y), values(rf.y)));
    EXPECT_TRUE(same_bits(values(rstd), values(rf.rstd)));
    untouched_between(rstd_buffer);
    const RMSNormBackwardResult rb = rms_norm_backward({dy, x, ns, rstd, weight}, {.eps = 1e-6});
    const RMSNormBackwardResult rb_want = rms_norm_backward({dy, x, ns, rf.rstd, weight}, {.eps = 1e-6});
    EXPECT_TRUE(same_bits(values(rb.dx), values(rb_want.dx)));
    EXPECT_TRUE(same_bits(values(rb.dweight), values(rb_want.dweight)));

    // The fused add + LayerNorm.
    Tensor residual_out(shape);
    add_layer_norm_forward({x, residual, ns, weight, bias}, {}, {y, residual_out, mean, rstd});
    const AddLayerNormForwardResult af = add_layer_norm_forward({x, residual, ns, weight, bias});
    EXPECT_TRUE(same_bits(values(y), values(af.y)));
    EXPECT_TRUE(same_bits(values(mean), values(af.mean)));
    EXPECT_TRUE(same_bits(values(rstd), values(af.rstd)));
    untouched_between(mean_buffer);
    const AddNormBackwardResult ab =
        add_layer_norm_backward({dy, {}, af.residual_out, ns, mean, rstd, weight}, {}, true);
    const AddNormBackwardResult ab_want =
        add_layer_norm_backward({dy, {}, af.residual_out, ns, af.mean, af.rstd, weight}, {}, true);
    EXPECT_TRUE(same_bits(values(ab.dsum), values(ab_want.dsum)));
    EXPECT_TRUE(same_bits(values(ab.dweight), values(ab_want.dweight)));
  }
  set_num_threads(2);
}

// The view is read in place, at its rows' own offsets, not copied; a view
// whose rows are not contiguous (a transposed one) is copied.
TEST(RowOperandPlan, StridedRowsAreReadInPlace) {
  const Tensor qkv = packed(DType::bfloat16, 7);
  const TensorView q = slot(qkv, 2);
  const kernels::RowOperand rows(q, B * T * H, D, kernels::RowOperand::Role::input);
  EXPECT_EQ(rows.data(), q.raw());
  EXPECT_EQ(rows.at().dtype, DType::bfloat16);
  ASSERT_NE(rows.at().row_offsets, nullptr);
  EXPECT_EQ(rows.at().offset(1, D), D);                  // the next head
  EXPECT_EQ(rows.at().offset(H, D), 3 * H * D);          // the next token
  EXPECT_EQ(rows.at().offset(T * H, D), T * 3 * H * D);  // the next sequence
  Tensor m({4, 6});
  const TensorView transposed(m.data<float>(), {6, 4}, {1, 6}, DType::float32);
  const kernels::RowOperand copied(transposed, 6, 4, kernels::RowOperand::Role::input);
  EXPECT_NE(copied.data(), transposed.raw());
  EXPECT_TRUE(copied.at().plain());
}

// A decode-sized 16-bit backward (one block of rows, split over the columns
// on several threads) gives the bits of one thread.
TEST_P(RowStorage, DecodeSizedHalfBackwardIsThreadInvariant) {
  const Shape shape{8, 4096}, ns{4096};
  for (DType dtype : {DType::bfloat16, DType::float16}) {
    Tensor x32(shape), dy32(shape);
    const std::vector<float> xv = normal_values<float>(8 * 4096, 5, 2.0f, 1.0f), gv = normal_values<float>(8 * 4096, 6);
    std::copy(xv.begin(), xv.end(), x32.data<float>());
    std::copy(gv.begin(), gv.end(), dy32.data<float>());
    Tensor x(shape, dtype), dy(shape, dtype);
    copy_into(x32, x);
    copy_into(dy32, dy);
    const Tensor weight = Tensor::full(ns, 1.25f);
    std::vector<std::vector<float>> dx, dweight;
    for (int threads : {1, 2}) {
      set_num_threads(threads);
      const LayerNormForwardResult f = layer_norm_forward({x, ns, weight, {}});
      const LayerNormBackwardResult g = layer_norm_backward({dy, x, ns, f.mean, f.rstd, weight}, {}, true, false);
      dx.push_back(values(g.dx));
      dweight.push_back(values(g.dweight));
    }
    EXPECT_TRUE(same_bits(dx[0], dx[1])) << dtype_name(dtype);
    EXPECT_TRUE(same_bits(dweight[0], dweight[1])) << dtype_name(dtype);
  }
  set_num_threads(2);
}

}  // namespace
}  // namespace normkit::test
