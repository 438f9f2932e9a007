// libFuzzer harness for the functional API's argument checking: the input
// bytes choose an operation (BN, LN, RMSNorm, GN, InstanceNorm; forward or
// backward), shapes of rank 0 to 4, memory layouts (contiguous, channels-last,
// permuted, strided, reversed), optional arguments present, absent, of the
// wrong shape or dtype, and parameters (eps, momentum, groups, training) in and
// out of range. Then:
// - a call refused with normkit::Error must have written nothing: every output
//   and every running statistic keeps its sentinel or its value;
// - a call that succeeds must agree with the plain reference implementation on
//   the same arguments (and then the reference must succeed too).
// Anything else (a crash, AddressSanitizer or UBSan finding, another exception)
// is a finding; std::abort marks a disagreement.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <vector>

#include "normkit/normkit.hpp"
#include "normkit/nn/layer_norm.hpp"

namespace normkit {
namespace {

constexpr float kSentinel = 12345.0f;

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "functional_fuzzer: %s\n", what);
  std::abort();
}

// Every tensor the views of one run point into.
struct Arena {
  std::vector<Tensor> storage;

  // A float32 view of `shape` in the chosen layout, every element set by
  // `fill(k)` in logical order.
  template <typename Fill>
  TensorView view(const Shape& shape, int layout, const Fill& fill) {
    const std::size_t rank = shape.size();
    Shape stored = shape;
    Strides strides;
    std::int64_t offset = 0;
    switch (rank >= 2 ? layout : 0) {
      case 1:  // channels-last
        if (rank >= 3) {
          storage.emplace_back(shape, DType::float32, MemoryFormat::channels_last);
          strides = storage.back().view().strides();
          break;
        }
        [[fallthrough]];
      case 2: {  // permuted: memory order (C, N, ...)
        std::swap(stored[0], stored[1]);
        storage.emplace_back(stored);
        strides = contiguous_strides(stored);
        std::swap(strides[0], strides[1]);
        break;
      }
      case 3: {  // every other element of the last dimension
        stored.back() *= 2;
        storage.emplace_back(stored);
        strides = contiguous_strides(stored);
        strides.back() = 2;
        break;
      }
      case 4: {  // the last dimension reversed (a negative stride)
        storage.emplace_back(stored);
        strides = contiguous_strides(stored);
        strides.back() = -1;
        offset = shape.back() > 0 ? shape.back() - 1 : 0;
        break;
      }
      default:
        storage.emplace_back(stored);
        strides = contiguous_strides(stored);
    }
    Tensor& t = storage.back();
    std::fill(t.data<float>(), t.data<float>() + t.numel(), kSentinel);
    TensorView v(t.data<float>() + offset, shape, strides, DType::float32);
    const std::int64_t n = shape_numel(shape);
    std::vector<std::int64_t> index(rank, 0);
    for (std::int64_t k = 0; k < n; ++k) {
      t.data<float>()[offset + v.offset(index.data())] = fill(k);
      for (std::size_t d = rank; d-- > 0;) {
        if (++index[d] < shape[d]) break;
        index[d] = 0;
      }
    }
    return v;
  }

  TensorView int64_view(const Shape& shape) {
    storage.emplace_back(shape, DType::int64);
    std::fill(storage.back().data<std::int64_t>(), storage.back().data<std::int64_t>() + storage.back().numel(), 7);
    return storage.back().view();
  }
};

// Every argument of one call, drawn from the input bytes.
struct Draw {
  FuzzedDataProvider& in;
  Arena& arena;

  Shape shape(int min_rank) {
    const int rank = in.ConsumeIntegralInRange(min_rank, 4);
    Shape s;
    for (int d = 0; d < rank; ++d) s.push_back(in.ConsumeIntegralInRange<std::int64_t>(0, 5));
    return s;
  }
  // Values on a grid of 1/16 in [-4, 4]: sums of a few hundred of them are
  // exact in float32, so fast and reference differ only by rounding.
  TensorView data(const Shape& shape) {
    const std::uint32_t seed = in.ConsumeIntegral<std::uint32_t>();
    return arena.view(shape, in.ConsumeIntegralInRange(0, 4), [seed](std::int64_t k) {
      const std::uint64_t h = (static_cast<std::uint64_t>(k) + seed) * 0x9E3779B97F4A7C15ull;
      return static_cast<float>(static_cast<int>((h >> 40) % 129) - 64) / 16.0f;
    });
  }
  // An output: right shape, or now and then a wrong one; all sentinels.
  TensorView output(const Shape& shape) {
    Shape s = shape;
    if (!s.empty() && in.ConsumeIntegralInRange(0, 15) == 0) s.back() += 1;
    return arena.view(s, in.ConsumeIntegralInRange(0, 4), [](std::int64_t) { return kSentinel; });
  }
  // An optional per-channel (or normalized_shape) argument: absent, right,
  // wrong shape, or wrong dtype.
  TensorView optional(const Shape& shape, bool positive = false) {
    switch (in.ConsumeIntegralInRange(0, 9)) {
      case 0: return {};
      case 1: {
        Shape s = shape;
        s.push_back(2);
        return data(s);
      }
      case 2: return arena.int64_view(shape);
      default:
        if (!positive) return data(shape);
        return arena.view(shape, 0, [this](std::int64_t k) { return 0.25f + static_cast<float>(k % 7); });
    }
  }
  double eps() {
    constexpr double kChoices[] = {1e-5, 1e-3, 0.5, 0.0, -1.0, std::numeric_limits<double>::quiet_NaN()};
    return kChoices[in.ConsumeIntegralInRange(0, 5)];
  }
  double momentum() {
    constexpr double kChoices[] = {0.1, 0.0, 1.0, 1.5, -0.1, std::numeric_limits<double>::quiet_NaN()};
    return kChoices[in.ConsumeIntegralInRange(0, 5)];
  }
};

std::vector<float> values_of(const TensorView& v) {
  if (!v.defined() || v.dtype() != DType::float32) return {};
  const Tensor t = Tensor::copy_of(v);
  return std::vector<float>(t.data<float>(), t.data<float>() + t.numel());
}

// After a refused call: each output still holds only sentinels, each input
// that may be updated in place its old values.
void expect_untouched(const std::vector<TensorView>& outputs, const std::vector<TensorView>& updated,
                      const std::vector<std::vector<float>>& before) {
  for (const TensorView& o : outputs)
    for (float v : values_of(o))
      if (v != kSentinel) finding("a refused call wrote an output");
  for (std::size_t i = 0; i < updated.size(); ++i)
    if (values_of(updated[i]) != before[i]) finding("a refused call changed a running statistic");
}

bool close(const std::vector<float>& fast, const std::vector<float>& reference) {
  if (fast.size() != reference.size()) return false;
  double scale = 1;
  for (float r : reference) scale = std::max(scale, static_cast<double>(std::abs(r)));
  for (std::size_t i = 0; i < fast.size(); ++i) {
    if (std::isnan(fast[i]) != std::isnan(reference[i])) return false;
    if (!std::isnan(fast[i]) && std::abs(static_cast<double>(fast[i]) - reference[i]) > 2e-3 * scale) return false;
  }
  return true;
}

// Runs `call(impl, outputs)` with the fast kernels and, when they accept the
// arguments, with the reference on fresh outputs; `updated` are inputs that
// the call may change in place (running statistics), restored between the two.
template <typename Call>
void check(Draw& draw, const std::vector<TensorView>& outputs, const std::vector<TensorView>& updated,
           const Call& call) {
  std::vector<std::vector<float>> before;
  for (const TensorView& u : updated) before.push_back(values_of(u));
  try {
    call(Impl::fast, outputs);
  } catch (const Error&) {
    expect_untouched(outputs, updated, before);
    return;
  }
  std::vector<std::vector<float>> fast;
  for (const TensorView& o : outputs) fast.push_back(values_of(o));
  for (const TensorView& u : updated) fast.push_back(values_of(u));
  // The reference, on fresh outputs of the same shapes and the old statistics.
  std::vector<TensorView> fresh;
  for (const TensorView& o : outputs)
    fresh.push_back(o.defined() ? draw.arena.view(o.shape(), 0, [](std::int64_t) { return kSentinel; }) : TensorView{});
  for (std::size_t i = 0; i < updated.size(); ++i) {
    if (!updated[i].defined() || updated[i].dtype() != DType::float32) continue;
    Tensor t = Tensor::copy_of(updated[i]);
    std::copy(before[i].begin(), before[i].end(), t.data<float>());
    copy_into(t.view(), updated[i]);
  }
  try {
    call(Impl::reference, fresh);
  } catch (const Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    finding("the reference refused what the fast kernels accepted");
  }
  std::size_t k = 0;
  for (const TensorView& o : fresh)
    if (!close(fast[k++], values_of(o))) finding("fast and reference outputs differ");
  for (const TensorView& u : updated)
    if (!close(fast[k++], values_of(u))) finding("fast and reference running statistics differ");
}

void batch_norm(Draw& d, bool backward) {
  const Shape shape = d.shape(0);
  const std::int64_t C = shape.size() >= 2 ? shape[1] : 1;
  const TensorView x = d.data(shape), weight = d.optional({C}), bias = d.optional({C});
  const TensorView running_mean = d.optional({C}), running_var = d.optional({C}, true);
  BatchNormOptions o{.training = d.in.ConsumeBool(), .momentum = d.momentum(), .eps = d.eps()};
  if (d.in.ConsumeIntegralInRange(0, 7) == 0) o.virtual_batch_size = d.in.ConsumeIntegralInRange(0, 3);
  if (!backward) {
    const std::vector<TensorView> outputs{d.output(shape), d.output({C}), d.output({C})};
    check(d, outputs, {running_mean, running_var}, [&](Impl impl, const std::vector<TensorView>& out) {
      BatchNormOptions with = o;
      with.impl = impl;
      batch_norm_forward({x, weight, bias, running_mean, running_var}, with, {out[0], out[1], out[2]});
    });
    return;
  }
  const TensorView dy = d.data(shape), save_mean = d.optional({C}), save_invstd = d.optional({C}, true);
  const std::vector<TensorView> outputs{d.output(shape), d.in.ConsumeBool() ? d.output({C}) : TensorView{},
                                        d.in.ConsumeBool() ? d.output({C}) : TensorView{}};
  check(d, outputs, {}, [&](Impl impl, const std::vector<TensorView>& out) {
    BatchNormOptions with = o;
    with.impl = impl;
    batch_norm_backward({.dy = dy, .x = x, .weight = weight, .running_mean = running_mean,
                         .running_var = running_var, .save_mean = save_mean, .save_invstd = save_invstd},
                        with, {out[0], out[1], out[2]});
  });
}

// normalized_shape: x's trailing dims, or now and then something else.
Shape normalized_shape_of(Draw& d, const Shape& shape) {
  const std::size_t k = d.in.ConsumeIntegralInRange<std::size_t>(0, shape.size());
  Shape normalized(shape.end() - static_cast<std::ptrdiff_t>(k), shape.end());
  if (!normalized.empty() && d.in.ConsumeIntegralInRange(0, 7) == 0) normalized.front() += 1;
  return normalized;
}

Shape stats_shape_of(const Shape& shape, const Shape& normalized) {
  Shape s = shape;
  for (std::size_t i = 0; i < normalized.size() && i < s.size(); ++i) s[s.size() - 1 - i] = 1;
  return s;
}

void layer_norm(Draw& d, bool backward) {
  const Shape shape = d.shape(1);
  const Shape normalized = normalized_shape_of(d, shape);
  const TensorView x = d.data(shape), weight = d.optional(normalized), bias = d.optional(normalized);
  const double eps = d.eps();
  const Shape stats = stats_shape_of(shape, normalized);
  if (!backward) {
    check(d, {d.output(shape), d.output(stats), d.output(stats)}, {},
          [&](Impl impl, const std::vector<TensorView>& out) {
            layer_norm_forward({x, normalized, weight, bias}, {eps, impl}, {out[0], out[1], out[2]});
          });
    return;
  }
  const TensorView dy = d.data(shape), mean = d.optional(stats), rstd = d.optional(stats, true);
  check(d, {d.output(shape), d.output(normalized), d.output(normalized)}, {},
        [&](Impl impl, const std::vector<TensorView>& out) {
          layer_norm_backward({dy, x, normalized, mean, rstd, weight}, {eps, impl}, {out[0], out[1], out[2]});
        });
}

void rms_norm(Draw& d, bool backward) {
  const Shape shape = d.shape(1);
  const Shape normalized = normalized_shape_of(d, shape);
  const TensorView x = d.data(shape), weight = d.optional(normalized);
  const std::optional<double> eps = d.in.ConsumeBool() ? std::optional<double>() : d.eps();
  const Shape stats = stats_shape_of(shape, normalized);
  if (!backward) {
    check(d, {d.output(shape), d.output(stats)}, {}, [&](Impl impl, const std::vector<TensorView>& out) {
      rms_norm_forward({x, normalized, weight}, {eps, impl}, {out[0], out[1]});
    });
    return;
  }
  const TensorView dy = d.data(shape), rstd = d.optional(stats, true);
  check(d, {d.output(shape), d.output(normalized)}, {}, [&](Impl impl, const std::vector<TensorView>& out) {
    rms_norm_backward({dy, x, normalized, rstd, weight}, {eps, impl}, {out[0], out[1]});
  });
}

void group_norm(Draw& d, bool backward) {
  const Shape shape = d.shape(0);
  const std::int64_t N = shape.empty() ? 1 : shape[0], C = shape.size() >= 2 ? shape[1] : 1;
  const std::int64_t G = d.in.ConsumeIntegralInRange<std::int64_t>(-1, std::max<std::int64_t>(C, 1) + 1);
  const std::int64_t stats_G = std::max<std::int64_t>(G, 0);  // the outputs' shape, valid for any G
  const TensorView x = d.data(shape), weight = d.optional({C}), bias = d.optional({C});
  const GroupNormOptions o{.num_groups = G, .eps = d.eps()};
  if (!backward) {
    check(d, {d.output(shape), d.output({N, stats_G}), d.output({N, stats_G})}, {},
          [&](Impl impl, const std::vector<TensorView>& out) {
            GroupNormOptions with = o;
            with.impl = impl;
            group_norm_forward({x, weight, bias}, with, {out[0], out[1], out[2]});
          });
    return;
  }
  const TensorView dy = d.data(shape), mean = d.optional({N, stats_G}), rstd = d.optional({N, stats_G}, true);
  check(d, {d.output(shape), d.output({C}), d.output({C})}, {}, [&](Impl impl, const std::vector<TensorView>& out) {
    GroupNormOptions with = o;
    with.impl = impl;
    group_norm_backward({dy, x, mean, rstd, weight}, with, {out[0], out[1], out[2]});
  });
}

void instance_norm(Draw& d) {
  const Shape shape = d.shape(0);
  const std::int64_t N = shape.empty() ? 1 : shape[0], C = shape.size() >= 2 ? shape[1] : 1;
  const TensorView x = d.data(shape), weight = d.optional({C}), bias = d.optional({C});
  const TensorView running_mean = d.optional({C}), running_var = d.optional({C}, true);
  const InstanceNormOptions o{.use_input_stats = d.in.ConsumeBool(), .momentum = d.momentum(), .eps = d.eps()};
  check(d, {d.output(shape), d.output({N, C}), d.output({N, C})}, {running_mean, running_var},
        [&](Impl impl, const std::vector<TensorView>& out) {
          InstanceNormOptions with = o;
          with.impl = impl;
          instance_norm_forward({x, weight, bias, running_mean, running_var}, with, {out[0], out[1], out[2]});
        });
}

}  // namespace
}  // namespace normkit

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace normkit;
  static const bool one_thread = (set_num_threads(1), true);  // reproducible runs
  (void)one_thread;
  FuzzedDataProvider in(data, size);
  Arena arena;
  Draw d{in, arena};
  switch (in.ConsumeIntegralInRange(0, 8)) {
    case 0: batch_norm(d, false); break;
    case 1: batch_norm(d, true); break;
    case 2: layer_norm(d, false); break;
    case 3: layer_norm(d, true); break;
    case 4: rms_norm(d, false); break;
    case 5: rms_norm(d, true); break;
    case 6: group_norm(d, false); break;
    case 7: group_norm(d, true); break;
    default: instance_norm(d);
  }
  return 0;
}
