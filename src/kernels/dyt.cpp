// DyT front end (normkit/dyt.hpp): every argument checked before anything is
// written, then x's rows through dyt_span's kernels, in place where a row is
// float32 (at its offset: any strided view whose last dimension is
// contiguous) and through the thread's buffers otherwise (16-bit storage,
// or a last dimension with a stride: a contiguous float32 copy).
#include "normkit/dyt.hpp"

#include <algorithm>
#include <vector>

#include "dyt_span.hpp"
#include "parallel.hpp"
#include "planned_view.hpp"
#include "ref/dyt_ref.hpp"
#include "row_operand.hpp"
#include "row_storage.hpp"

namespace normkit {
namespace {

using kernels::RowOperand;

// Rows per block of dweight's and dbias's sums: part of the numerical
// contract (each block summed in float over its rows in order, the blocks
// in double in order: the same bits for any thread count).
constexpr std::int64_t kBlockRows = 64;

struct DyTProblem {
  std::int64_t rows = 0, cols = 0;
};

DyTProblem check_input(const TensorView& x, const char* name) {
  NORMKIT_CHECK(x.defined(), name, ": expected a tensor, got none");
  check_data_dtype(x, name);
  NORMKIT_CHECK(x.dim() >= 1, name, ": expected at least one dimension (the features are the last), got a scalar");
  DyTProblem p;
  p.cols = x.shape().back();
  p.rows = 1;
  for (std::size_t d = 0; d + 1 < x.shape().size(); ++d) p.rows *= x.shape()[d];
  return p;
}

float check_alpha(const TensorView& alpha) {
  NORMKIT_CHECK(alpha.defined(), "alpha: expected a float32 tensor of one element, got none");
  NORMKIT_CHECK(alpha.dtype() == DType::float32 && alpha.numel() == 1 && alpha.dim() <= 1,
                "alpha: expected a float32 tensor of one element, shape (1,) or (), got ",
                dtype_name(alpha.dtype()), " of shape ", shape_string(alpha.shape()));
  return static_cast<float>(read_values(alpha)[0]);
}

// A row of an operand as float32: in place, or read into `buffer`.
const float* input_row(const RowOperand& t, std::int64_t r, std::int64_t cols, std::vector<float>& buffer) {
  if (t.at().dtype == DType::float32) return static_cast<const float*>(t.data()) + t.at().offset(r, cols);
  buffer.resize(static_cast<std::size_t>(cols));
  kernels::read_rows(t.data(), t.at(), cols, r, 1, 0, cols, buffer.data());
  return buffer.data();
}

// Where a row of an output goes: in place, or into `buffer` (stored by
// store_row).
float* output_row(const RowOperand& t, std::int64_t r, std::int64_t cols, std::vector<float>& buffer) {
  if (t.at().dtype == DType::float32) return static_cast<float*>(t.mutable_data()) + t.at().offset(r, cols);
  buffer.resize(static_cast<std::size_t>(cols));
  return buffer.data();
}

void store_row(const RowOperand& t, std::int64_t r, std::int64_t cols, std::vector<float>& buffer) {
  if (t.at().dtype != DType::float32)
    kernels::write_rows(buffer.data(), t.mutable_data(), t.at(), cols, r, 1, 0, cols, false);
}

void fast_forward(const DyTInputs& in, const DyTProblem& p, float alpha, const TensorView& y_view) {
  const RowOperand x(in.x, p.rows, p.cols, RowOperand::Role::input);
  RowOperand y(y_view, p.rows, p.cols, RowOperand::Role::output);
  const std::vector<float> w = in.weight.defined() ? read_channels(in.weight, p.cols, 1.0f) : std::vector<float>{};
  const std::vector<float> b = in.bias.defined() ? read_channels(in.bias, p.cols, 0.0f) : std::vector<float>{};
  kernels::parallel_region(kernels::threads_for(p.rows * p.cols), [&] {
    thread_local std::vector<float> x_buffer, y_buffer;
#pragma omp for schedule(static)
    for (std::int64_t r = 0; r < p.rows; ++r) {
      float* const y_row = output_row(y, r, p.cols, y_buffer);
      kernels::dyt_forward_span({.x = input_row(x, r, p.cols, x_buffer),
                                 .y = y_row,
                                 .n = p.cols,
                                 .alpha = alpha,
                                 .w = w.empty() ? nullptr : w.data(),
                                 .b = b.empty() ? nullptr : b.data()});
      store_row(y, r, p.cols, y_buffer);
    }
  });
  y.finish();
}

void fast_backward(const DyTBackwardInputs& in, const DyTProblem& p, float alpha, const DyTGrads& g) {
  const RowOperand x(in.x, p.rows, p.cols, RowOperand::Role::input);
  const RowOperand dy(in.dy, p.rows, p.cols, RowOperand::Role::input);
  RowOperand dx(g.dx, p.rows, p.cols, RowOperand::Role::output);
  const std::vector<float> w = in.weight.defined() ? read_channels(in.weight, p.cols, 1.0f) : std::vector<float>{};
  const bool columns = g.dweight.defined() || g.dbias.defined();
  const std::int64_t blocks = (p.rows + kBlockRows - 1) / kBlockRows;
  // (blocks, 2, cols): per block, sum(dy * t) then sum(dy); each row's dalpha
  // terms. Kept across calls: a small call allocates nothing.
  thread_local std::vector<float> block_sums;
  thread_local std::vector<double> row_terms;
  block_sums.assign(static_cast<std::size_t>(columns ? blocks * 2 * p.cols : 0), 0.0f);
  row_terms.resize(static_cast<std::size_t>(p.rows));
  float* const sums = block_sums.data();
  double* const terms = row_terms.data();
  kernels::parallel_region(kernels::threads_for(p.rows * p.cols), [&] {
    thread_local std::vector<float> x_buffer, dy_buffer, dx_buffer;
#pragma omp for schedule(static)
    for (std::int64_t block = 0; block < blocks; ++block) {
      float* const col_t = columns ? sums + block * 2 * p.cols : nullptr;
      for (std::int64_t r = block * kBlockRows; r < std::min(p.rows, (block + 1) * kBlockRows); ++r) {
        float* const dx_row = dx.data() != nullptr ? output_row(dx, r, p.cols, dx_buffer) : nullptr;
        terms[r] = kernels::dyt_backward_span({.dy = input_row(dy, r, p.cols, dy_buffer),
                                               .x = input_row(x, r, p.cols, x_buffer),
                                               .dx = dx_row,
                                               .n = p.cols,
                                               .alpha = alpha,
                                               .w = w.empty() ? nullptr : w.data(),
                                               .col_t = col_t,
                                               .col_dy = col_t != nullptr ? col_t + p.cols : nullptr});
        if (dx_row != nullptr) store_row(dx, r, p.cols, dx_buffer);
      }
    }
  });
  dx.finish();
  double dalpha = 0;
  for (std::int64_t r = 0; r < p.rows; ++r) dalpha += terms[r];
  write_values({dalpha}, g.dalpha);
  const auto column_total = [&](std::int64_t part, std::int64_t c) {
    double total = 0;
    for (std::int64_t block = 0; block < blocks; ++block) total += sums[(block * 2 + part) * p.cols + c];
    return total;
  };
  write_each(g.dweight, [&](std::int64_t c) { return column_total(0, c); });
  write_each(g.dbias, [&](std::int64_t c) { return column_total(1, c); });
}

}  // namespace

void dyt_forward(const DyTInputs& in, const DyTOptions& options, const TensorView& y) {
  const DyTProblem p = check_input(in.x, "x");
  const float alpha = check_alpha(in.alpha);
  check_optional_shape(in.weight, "weight", {p.cols}, in.x.dtype());
  check_optional_shape(in.bias, "bias", {p.cols}, in.x.dtype());
  check_required_shape(y, "y", in.x.shape(), "(the shape of x)", in.x.dtype());
  if (options.impl == Impl::reference) {
    write_values(ref::dyt_forward(p.rows, p.cols, read_values(in.x), alpha, read_values(in.weight),
                                  read_values(in.bias)),
                 y);
    return;
  }
  fast_forward(in, p, alpha, y);
}

Tensor dyt_forward(const DyTInputs& in, const DyTOptions& options) {
  check_input(in.x, "x");
  Tensor y(in.x.shape(), in.x.dtype());
  dyt_forward(in, options, y);
  return y;
}

void dyt_backward(const DyTBackwardInputs& in, const DyTOptions& options, const DyTGrads& grads) {
  const DyTProblem p = check_input(in.x, "x");
  check_required_shape(in.dy, "dy", in.x.shape(), "(the shape of x)", in.x.dtype());
  const float alpha = check_alpha(in.alpha);
  check_optional_shape(in.weight, "weight", {p.cols}, in.x.dtype());
  if (grads.dx.defined()) check_required_shape(grads.dx, "dx", in.x.shape(), "(the shape of x)", in.x.dtype());
  if (grads.dalpha.defined())
    check_required_shape(grads.dalpha, "dalpha", in.alpha.shape(), "(the shape of alpha)");
  if (grads.dweight.defined()) {
    NORMKIT_CHECK(in.weight.defined(), "dweight: expected none when there is no weight");
    check_required_shape(grads.dweight, "dweight", {p.cols}, "(the shape of weight)", in.x.dtype());
  }
  check_optional_shape(grads.dbias, "dbias", {p.cols}, in.x.dtype());
  if (options.impl == Impl::reference) {
    const ref::DyTBackwardResult r =
        ref::dyt_backward(p.rows, p.cols, read_values(in.dy), read_values(in.x), alpha, read_values(in.weight));
    write_values(r.dx, grads.dx);
    write_values({r.dalpha}, grads.dalpha);
    write_values(r.dweight, grads.dweight);
    write_values(r.dbias, grads.dbias);
    return;
  }
  fast_backward(in, p, alpha, grads);
}

DyTBackwardResult dyt_backward(const DyTBackwardInputs& in, const DyTOptions& options) {
  const DyTProblem p = check_input(in.x, "x");
  check_alpha(in.alpha);
  DyTBackwardResult r{Tensor(in.x.shape(), in.x.dtype()), Tensor(in.alpha.shape()),
                      in.weight.defined() ? Tensor({p.cols}) : Tensor(), Tensor({p.cols})};
  dyt_backward(in, options, {r.dx, r.dalpha, r.dweight, r.dbias});
  return r;
}

}  // namespace normkit
