// The row norms (LayerNorm, RMSNorm, the fused add) and BatchNorm read and
// write bfloat16 and float16 in registers (kernels/vectors.hpp's Bf16 and
// F16): every result is the float32 kernels' result on the data widened,
// rounded once where it is stored in 16 bits, on every SIMD path and at 1
// and 2 threads, forward and backward. The rows have a tail (77), are
// longer than one run chunk (4100), or are so many that the output is
// streamed past the caches (2049x2050: 8 MiB of output); some hold NaN,
// infinities, subnormals or a large mean, and some columns' weights make
// subnormal outputs.
#include <cmath>
#include <limits>

#include "normkit/adain.hpp"
#include "normkit/add_norm.hpp"
#include "normkit/batch_norm.hpp"
#include "normkit/group_norm.hpp"
#include "normkit/half.hpp"
#include "normkit/layer_norm.hpp"
#include "test_util.hpp"

namespace normkit::test {
namespace {

class HalfInPlace : public EverySimdPath {};
INSTANTIATE_TEST_SUITE_P(Simd, HalfInPlace, every_simd_path(), simd_path_param_name);

constexpr DType kSixteenBitTypes[] = {DType::bfloat16, DType::float16};

// A (rows, cols) tensor of random values in `dtype`; row 1 holds a NaN, row
// 2 an infinity, row 3 subnormals and row 4 values around 1e4.
Tensor half_rows(std::int64_t rows, std::int64_t cols, std::uint64_t seed, DType dtype) {
  Tensor t32({rows, cols});
  std::vector<float> v = normal_values<float>(static_cast<std::size_t>(rows * cols), seed, 0.25f, 1.5f);
  const auto at = [&](std::int64_t r, std::int64_t c) -> float& { return v[static_cast<std::size_t>(r * cols + c)]; };
  if (rows > 4 && cols > 3) {
    at(1, cols / 2) = std::numeric_limits<float>::quiet_NaN();
    at(2, cols - 1) = -std::numeric_limits<float>::infinity();
    for (std::int64_t c = 0; c < cols; ++c) at(3, c) *= 1e-39f;  // below float's smallest normal
    for (std::int64_t c = 0; c < cols; ++c) at(4, c) += 1e4f;
  }
  std::copy(v.begin(), v.end(), t32.data<float>());
  Tensor t(t32.shape(), dtype);
  copy_into(t32, t);
  return t;
}

Tensor widened(const TensorView& t) {
  Tensor w(t.shape(), DType::float32, t.memory_format());  // the same layout: the same plan
  copy_into(t, w);
  return w;
}

// v rounded once to `dtype` (half.hpp), widened back.
float rounded(float v, DType dtype) {
  return dtype == DType::bfloat16 ? bfloat16_to_float(float_to_bfloat16(v)) : float16_to_float(float_to_float16(v));
}

// Each element of `half` (16-bit) is the float32 value rounded once. A NaN
// need only be a NaN: which operand's NaN an x86 add or multiply passes on
// (and so the sign float16 keeps) follows the operand order the compiler
// picks, which may differ between the float32 and the 16-bit instantiation
// of a kernel (GCC -O1 makes them differ).
void expect_rounded(const TensorView& half, const TensorView& float32) {
  ASSERT_NE(half.dtype(), DType::float32);
  const std::vector<float> h = values(half), f = values(float32);
  ASSERT_EQ(h.size(), f.size());
  for (std::size_t k = 0; k < h.size(); ++k)
    if (std::isnan(f[k])) ASSERT_TRUE(std::isnan(h[k])) << "element " << k << ": " << h[k] << " is not a NaN";
    else ASSERT_EQ(std::bit_cast<std::uint32_t>(h[k]), std::bit_cast<std::uint32_t>(rounded(f[k], half.dtype())))
        << "element " << k << ": " << h[k] << " is not " << f[k] << " rounded once";
}

TEST_P(HalfInPlace, RowNormsAreTheFloat32RowsRoundedOnce) {
  for (const auto& [rows, cols] : std::vector<std::pair<std::int64_t, std::int64_t>>{{6, 77}, {9, 4100}, {2049, 2050}})
    for (int threads : {1, 2})
    for (DType dtype : kSixteenBitTypes) {
      SCOPED_TRACE(std::to_string(rows) + "x" + std::to_string(cols) + ", " + std::to_string(threads) + " threads, " +
                   dtype_name(dtype));
      set_num_threads(threads);
      const Shape ns{cols};
      const Tensor x = half_rows(rows, cols, 11, dtype), residual = half_rows(rows, cols, 12, dtype);
      const Tensor x32 = widened(x);
      Tensor weight({cols}), bias({cols});
      const std::vector<float> w = normal_values<float>(static_cast<std::size_t>(cols), 13, 1.0f, 0.2f);
      const std::vector<float> b = normal_values<float>(static_cast<std::size_t>(cols), 14, 0.0f, 0.2f);
      std::copy(w.begin(), w.end(), weight.data<float>());
      // Columns whose outputs are subnormal (which the AVX512_BF16
      // rounding instruction would flush).
      for (std::int64_t c = 0; c < cols; c += 7) weight.data<float>()[c] *= 1e-38f;
      std::copy(b.begin(), b.end(), bias.data<float>());

      const LayerNormForwardResult ln = layer_norm_forward({x, ns, weight, bias});
      const LayerNormForwardResult ln32 = layer_norm_forward({x32, ns, weight, bias});
      expect_rounded(ln.y, ln32.y);
      EXPECT_TRUE(same_bits(values(ln.mean), values(ln32.mean)));
      EXPECT_TRUE(same_bits(values(ln.rstd), values(ln32.rstd)));

      const RMSNormForwardResult rms = rms_norm_forward({x, ns, weight}, {.eps = 1e-6});
      const RMSNormForwardResult rms32 = rms_norm_forward({x32, ns, weight}, {.eps = 1e-6});
      expect_rounded(rms.y, rms32.y);
      EXPECT_TRUE(same_bits(values(rms.rstd), values(rms32.rstd)));

      // The fused add: residual_out is x + residual rounded once, y the
      // float32 norm of the stored sums, rounded once.
      Tensor sum32({rows, cols});
      const std::vector<float> xv = values(x), rv = values(residual);
      for (std::size_t k = 0; k < xv.size(); ++k) sum32.data<float>()[k] = xv[k] + rv[k];
      const AddLayerNormForwardResult aln = add_layer_norm_forward({x, residual, ns, weight, bias});
      expect_rounded(aln.residual_out, sum32);
      const Tensor stored = widened(aln.residual_out);
      const LayerNormForwardResult aln32 = layer_norm_forward({stored, ns, weight, bias});
      expect_rounded(aln.y, aln32.y);
      EXPECT_TRUE(same_bits(values(aln.rstd), values(aln32.rstd)));
      const AddRMSNormForwardResult arms = add_rms_norm_forward({x, residual, ns, weight}, {.eps = 1e-6});
      expect_rounded(arms.residual_out, sum32);
      const RMSNormForwardResult arms32 = rms_norm_forward({stored, ns, weight}, {.eps = 1e-6});
      expect_rounded(arms.y, arms32.y);

      // Backward: dx rounded once, the parameter gradients the float32 bits.
      const Tensor dy = half_rows(rows, cols, 15, dtype), dy32 = widened(dy);
      const LayerNormBackwardResult lg = layer_norm_backward({dy, x, ns, ln.mean, ln.rstd, weight}, {}, true, true);
      const LayerNormBackwardResult lg32 =
          layer_norm_backward({dy32, x32, ns, ln.mean, ln.rstd, weight}, {}, true, true);
      expect_rounded(lg.dx, lg32.dx);
      EXPECT_TRUE(same_bits(values(lg.dweight), values(lg32.dweight)));
      EXPECT_TRUE(same_bits(values(lg.dbias), values(lg32.dbias)));
      const RMSNormBackwardResult rg = rms_norm_backward({dy, x, ns, rms.rstd, weight}, {.eps = 1e-6});
      const RMSNormBackwardResult rg32 = rms_norm_backward({dy32, x32, ns, rms.rstd, weight}, {.eps = 1e-6});
      expect_rounded(rg.dx, rg32.dx);
      EXPECT_TRUE(same_bits(values(rg.dweight), values(rg32.dweight)));
      // The fused add's backward: dsum = the norm's dx at the stored sums
      // plus dresidual_out, rounded once.
      const Tensor dres = half_rows(rows, cols, 16, dtype);
      const AddNormBackwardResult ag =
          add_rms_norm_backward({dy, dres, arms.residual_out, ns, {}, arms.rstd, weight}, {.eps = 1e-6});
      const RMSNormBackwardResult ag32 = rms_norm_backward({dy32, stored, ns, arms.rstd, weight}, {.eps = 1e-6});
      Tensor dsum32({rows, cols});
      const std::vector<float> dx32 = values(ag32.dx), dv = values(dres);
      for (std::size_t k = 0; k < dx32.size(); ++k) dsum32.data<float>()[k] = dx32[k] + dv[k];
      expect_rounded(ag.dsum, dsum32);
      EXPECT_TRUE(same_bits(values(ag.dweight), values(ag32.dweight)));
    }
  set_num_threads(2);
}

// A tensor of `shape` in `dtype` and `format`, random values; sample 1 holds
// a NaN in channel 0, and channel 1 values around 1e4.
Tensor half_tensor(const Shape& shape, MemoryFormat format, std::uint64_t seed, DType dtype) {
  Tensor t32(shape);
  std::vector<float> v = normal_values<float>(static_cast<std::size_t>(t32.numel()), seed, 0.25f, 1.5f);
  const std::int64_t C = shape[1], inner = t32.numel() / (shape[0] * C);
  for (std::int64_t n = 0; n < shape[0]; ++n)
    for (std::int64_t i = 0; i < inner; ++i) v[static_cast<std::size_t>((n * C + 1 % C) * inner + i)] += 1e4f;
  if (shape[0] > 1 && C > 1) v[static_cast<std::size_t>(1 * C * inner)] = std::numeric_limits<float>::quiet_NaN();
  std::copy(v.begin(), v.end(), t32.data<float>());
  Tensor t(shape, dtype, format);
  copy_into(t32, t);
  return t;
}

// BatchNorm reads and writes 16 bits in place too (contiguous and
// channels-last, train and eval, Ghost BN, forward and backward): y and dx
// the float32 results on the widened data rounded once, the statistics and
// parameter gradients the float32 bits. Channel counts
// that take the 256-, 64- and 16-channel kernels and the one-by-one rest;
// the last shape's output is streamed.
TEST_P(HalfInPlace, BatchNormIsTheFloat32PathRoundedOnce) {
  const std::vector<Shape> shapes{{4, 256, 5, 5}, {3, 83, 6, 7}, {5, 3, 97}, {16, 64, 64, 64}};
  for (const Shape& shape : shapes)
    for (MemoryFormat format : {MemoryFormat::contiguous, MemoryFormat::channels_last})
      for (int threads : {1, 2})
      for (DType dtype : kSixteenBitTypes) {
        if (format == MemoryFormat::channels_last && shape.size() != 4) continue;
        SCOPED_TRACE(shape_string(shape) + (format == MemoryFormat::channels_last ? " channels-last, " : ", ") +
                     std::to_string(threads) + " threads, " + dtype_name(dtype));
        set_num_threads(threads);
        const std::int64_t C = shape[1];
        const Tensor x = half_tensor(shape, format, 21, dtype), x32 = widened(x);
        Tensor weight({C}), bias({C});
        for (std::int64_t c = 0; c < C; ++c) {
          weight.data<float>()[c] = c % 7 == 0 ? 1e-38f : 1.0f + 0.01f * static_cast<float>(c);  // subnormal outputs
          bias.data<float>()[c] = 0.1f * static_cast<float>(c % 5);
        }
        for (bool training : {true, false})
          for (std::int64_t ghost : {std::int64_t{0}, std::int64_t{2}}) {
            // Ghost batches of 2 samples, in training, where N is even.
            if (ghost != 0 && (!training || shape[0] % 2 != 0)) continue;
            SCOPED_TRACE(std::string(training ? "train" : "eval") + (ghost != 0 ? ", ghost" : ""));
            Tensor rm = Tensor::full({C}, 0.5f), rv = Tensor::full({C}, 2.0f);
            Tensor rm32 = Tensor::full({C}, 0.5f), rv32 = Tensor::full({C}, 2.0f);
            BatchNormOptions o{.training = training};
            if (ghost != 0) o.virtual_batch_size = ghost;
            const BatchNormForwardResult f = batch_norm_forward({x, weight, bias, rm, rv}, o);
            const BatchNormForwardResult f32 = batch_norm_forward({x32, weight, bias, rm32, rv32}, o);
            ASSERT_EQ(f.y.view().memory_format(), format);
            expect_rounded(f.y, f32.y);
            EXPECT_TRUE(same_bits(values(f.save_mean), values(f32.save_mean)));
            EXPECT_TRUE(same_bits(values(f.save_invstd), values(f32.save_invstd)));
            EXPECT_TRUE(same_bits(values(rm), values(rm32)));
            EXPECT_TRUE(same_bits(values(rv), values(rv32)));
            // Backward: dx rounded once, dweight and dbias the float32 bits.
            const Tensor dy = half_tensor(shape, format, 22, dtype), dy32 = widened(dy);
            const BatchNormBackwardResult b =
                batch_norm_backward({dy, x, weight, rm, rv, f.save_mean, f.save_invstd}, o);
            const BatchNormBackwardResult b32 =
                batch_norm_backward({dy32, x32, weight, rm, rv, f.save_mean, f.save_invstd}, o);
            expect_rounded(b.dx, b32.dx);
            EXPECT_TRUE(same_bits(values(b.dweight), values(b32.dweight)));
            EXPECT_TRUE(same_bits(values(b.dbias), values(b32.dbias)));
          }
      }
  set_num_threads(2);
}

// Per-channel weights with subnormal outputs in every seventh channel.
std::pair<Tensor, Tensor> channel_parameters(std::int64_t C) {
  Tensor weight({C}), bias({C});
  for (std::int64_t c = 0; c < C; ++c) {
    weight.data<float>()[c] = c % 7 == 0 ? 1e-38f : 1.0f + 0.01f * static_cast<float>(c);
    bias.data<float>()[c] = 0.1f * static_cast<float>(c % 5);
  }
  return {weight, bias};
}

// GroupNorm, InstanceNorm and AdaIN read and write 16 bits in place as
// BatchNorm does: y and dx the float32 results rounded once, the statistics, running
// statistics and parameter gradients the float32 bits. Contiguous groups
// that fit in cache take the fused pass (group_stats.hpp), channels-last and
// the (2, 4, 128, 160) groups of 320 KiB the two passes (streamed outputs:
// kernels_with_every_output_streamed).
TEST_P(HalfInPlace, GroupNormFamilyIsTheFloat32PathRoundedOnce) {
  const std::vector<std::pair<Shape, std::int64_t>> cases{
      {{4, 32, 13, 11}, 8}, {{3, 12, 7, 5}, 1}, {{2, 6, 9}, 6}, {{2, 4, 128, 160}, 1}};
  for (const auto& [shape, groups] : cases)
    for (MemoryFormat format : {MemoryFormat::contiguous, MemoryFormat::channels_last})
      for (int threads : {1, 2})
      for (DType dtype : kSixteenBitTypes) {
        if (format == MemoryFormat::channels_last && shape.size() != 4) continue;
        SCOPED_TRACE(shape_string(shape) + " G=" + std::to_string(groups) +
                     (format == MemoryFormat::channels_last ? " channels-last, " : ", ") + std::to_string(threads) +
                     " threads, " + dtype_name(dtype));
        set_num_threads(threads);
        const std::int64_t C = shape[1];
        const Tensor x = half_tensor(shape, format, 31, dtype), x32 = widened(x);
        const Tensor dy = half_tensor(shape, format, 32, dtype), dy32 = widened(dy);
        const auto [weight, bias] = channel_parameters(C);

        const GroupNormOptions go{.num_groups = groups};
        const GroupNormForwardResult f = group_norm_forward({x, weight, bias}, go);
        const GroupNormForwardResult f32 = group_norm_forward({x32, weight, bias}, go);
        ASSERT_EQ(f.y.view().memory_format(), format);
        expect_rounded(f.y, f32.y);
        EXPECT_TRUE(same_bits(values(f.mean), values(f32.mean)));
        EXPECT_TRUE(same_bits(values(f.rstd), values(f32.rstd)));
        const GroupNormBackwardResult b = group_norm_backward({dy, x, f.mean, f.rstd, weight}, go);
        const GroupNormBackwardResult b32 = group_norm_backward({dy32, x32, f.mean, f.rstd, weight}, go);
        expect_rounded(b.dx, b32.dx);
        EXPECT_TRUE(same_bits(values(b.dweight), values(b32.dweight)));
        EXPECT_TRUE(same_bits(values(b.dbias), values(b32.dbias)));

        for (bool use_input_stats : {true, false}) {
          SCOPED_TRACE(use_input_stats ? "instance statistics" : "running statistics");
          Tensor rm = Tensor::full({C}, 0.5f), rv = Tensor::full({C}, 2.0f);
          Tensor rm32 = Tensor::full({C}, 0.5f), rv32 = Tensor::full({C}, 2.0f);
          const InstanceNormOptions io{.use_input_stats = use_input_stats};
          const InstanceNormForwardResult i = instance_norm_forward({x, weight, bias, rm, rv}, io);
          const InstanceNormForwardResult i32 = instance_norm_forward({x32, weight, bias, rm32, rv32}, io);
          expect_rounded(i.y, i32.y);
          EXPECT_TRUE(same_bits(values(i.rstd), values(i32.rstd)));
          EXPECT_TRUE(same_bits(values(rm), values(rm32)));
          EXPECT_TRUE(same_bits(values(rv), values(rv32)));
          if (!use_input_stats) continue;
          const GroupNormBackwardResult ib = instance_norm_backward({dy, x, weight, i.mean, i.rstd}, io);
          const GroupNormBackwardResult ib32 = instance_norm_backward({dy32, x32, weight, i.mean, i.rstd}, io);
          expect_rounded(ib.dx, ib32.dx);
          EXPECT_TRUE(same_bits(values(ib.dweight), values(ib32.dweight)));
        }

        // AdaIN of x in the style of dy (its statistics its own).
        const AdaINForwardResult a = adain_forward(x, dy);
        const AdaINForwardResult a32 = adain_forward(x32, dy32);
        expect_rounded(a.y, a32.y);
        EXPECT_TRUE(same_bits(values(a.stats.content_rstd), values(a32.stats.content_rstd)));
        EXPECT_TRUE(same_bits(values(a.stats.style_mean), values(a32.stats.style_mean)));
        EXPECT_TRUE(same_bits(values(a.stats.style_rstd), values(a32.stats.style_rstd)));
        const AdaINBackwardResult ab = adain_backward(x, x, dy, a.stats);
        const AdaINBackwardResult ab32 = adain_backward(x32, x32, dy32, a.stats);
        expect_rounded(ab.dcontent, ab32.dcontent);
        expect_rounded(ab.dstyle, ab32.dstyle);
      }
  set_num_threads(2);
}

}  // namespace
}  // namespace normkit::test
