// libFuzzer harness for the module API: a module of the family built with
// options from the input (BatchNorm1d/2d, Ghost BN, Batch Renorm, LayerNorm,
// RMSNorm, GroupNorm, InstanceNorm2d; eps, momentum, renorm limits, sizes in
// and out of range), then a sequence of calls: forward and backward on inputs
// of chosen shapes, train()/eval(), load_state_dict of an edited state dict
// (an entry dropped, added, of another shape or dtype, a value changed: a
// negative num_batches_tracked), and running-statistics recalibration whose
// data pass may throw. Then:
// - a refused call (normkit::Error) leaves the module as it was: its state
//   dict bit for bit, and its mode;
// - a recalibration whose pass throws leaves every layer as before the call.
// Anything else (a crash, an AddressSanitizer or UBSan report, another
// exception) is a finding; std::abort marks a changed state.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "normkit/nn/batch_norm.hpp"
#include "normkit/nn/group_norm.hpp"
#include "normkit/nn/layer_norm.hpp"
#include "normkit/threading.hpp"

namespace normkit {
namespace {

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "module_fuzzer: %s\n", what);
  std::abort();
}

bool same_state(const nn::StateDict& a, const nn::StateDict& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const Tensor& x = a[i].second;
    const Tensor& y = b[i].second;
    if (a[i].first != b[i].first || x.shape() != y.shape() || x.dtype() != y.dtype() ||
        std::memcmp(x.view().raw(), y.view().raw(), static_cast<std::size_t>(x.numel()) * dtype_size(x.dtype())) != 0)
      return false;
  }
  return true;
}

double any_number(FuzzedDataProvider& in, double usual) {
  switch (in.ConsumeIntegralInRange(0, 5)) {
    case 0: return in.ConsumeFloatingPoint<double>();
    case 1: return -usual;
    case 2: return 0.0;
    default: return usual;
  }
}

// A module with options from the input; null when its constructor refuses
// them (with normkit::Error, as it must).
std::unique_ptr<nn::Layer> any_module(FuzzedDataProvider& in, std::int64_t C) {
  const double eps = any_number(in, 1e-5);
  try {
    switch (in.ConsumeIntegralInRange(0, 6)) {
      case 0:
      case 1: {
        nn::BatchNormModuleOptions o{.eps = eps, .affine = in.ConsumeBool(), .track_running_stats = in.ConsumeBool()};
        if (in.ConsumeBool()) o.momentum = any_number(in, 0.1);
        else if (in.ConsumeBool()) o.momentum = std::nullopt;
        const int variant = in.ConsumeIntegralInRange(0, 2);
        if (variant == 1) o.virtual_batch_size = in.ConsumeIntegralInRange<std::int64_t>(-1, 4);
        if (variant == 2)
          o.renorm = nn::BatchRenormSchedule{any_number(in, 3.0), any_number(in, 5.0),
                                             in.ConsumeIntegralInRange<std::int64_t>(-1, 3),
                                             in.ConsumeIntegralInRange<std::int64_t>(-1, 6),
                                             in.ConsumeIntegralInRange<std::int64_t>(-1, 6)};
        if (in.ConsumeBool()) return std::make_unique<nn::BatchNorm1d>(C, o);
        return std::make_unique<nn::BatchNorm2d>(C, o);
      }
      case 2: return std::make_unique<nn::LayerNorm>(Shape{C}, nn::LayerNormModuleOptions{eps, in.ConsumeBool(),
                                                                                            in.ConsumeBool()});
      case 3: return std::make_unique<nn::RMSNorm>(Shape{C}, nn::RMSNormModuleOptions{eps, in.ConsumeBool()});
      case 4:
      case 5: {
        const std::int64_t groups = in.ConsumeIntegralInRange<std::int64_t>(-1, C + 1);
        return std::make_unique<nn::GroupNorm>(groups, C, nn::GroupNormModuleOptions{eps, in.ConsumeBool()});
      }
      default:
        return std::make_unique<nn::InstanceNorm2d>(
            C, nn::InstanceNormModuleOptions{eps, any_number(in, 0.1), in.ConsumeBool(), in.ConsumeBool()});
    }
  } catch (const Error&) {
    return nullptr;
  }
}

Tensor any_input(FuzzedDataProvider& in, std::int64_t C) {
  const int rank = in.ConsumeIntegralInRange(1, 5);
  Shape shape;
  for (int d = 0; d < rank; ++d) shape.push_back(in.ConsumeIntegralInRange<std::int64_t>(0, 4));
  if (rank >= 2 && in.ConsumeIntegralInRange(0, 7) != 0) shape[1] = C;      // usually the right channels
  if (rank >= 1 && in.ConsumeIntegralInRange(0, 3) == 0) shape.back() = C;  // or the right last dim
  Tensor x(shape);
  const std::uint32_t seed = in.ConsumeIntegral<std::uint32_t>();
  for (std::int64_t i = 0; i < x.numel(); ++i)
    x.data<float>()[i] = static_cast<float>(static_cast<int>((i * 2654435761u + seed) % 97) - 48) / 8.0f;
  return x;
}

nn::StateDict edited_state(FuzzedDataProvider& in, nn::StateDict state) {
  if (state.empty() || in.ConsumeBool()) return state;
  const auto at = in.ConsumeIntegralInRange<std::size_t>(0, state.size() - 1);
  Tensor& t = state[at].second;
  switch (in.ConsumeIntegralInRange(0, 4)) {
    case 0: state.erase(state.begin() + static_cast<std::ptrdiff_t>(at)); break;
    case 1: state.emplace_back("extra", Tensor({2})); break;
    case 2: t = Tensor({t.numel() + 1}, t.dtype()); break;
    case 3: t = Tensor(t.shape(), t.dtype() == DType::int64 ? DType::float32 : DType::int64); break;
    default:
      if (t.numel() == 0) break;
      if (t.dtype() == DType::int64) t.data<std::int64_t>()[0] = in.ConsumeIntegralInRange<std::int64_t>(-3, 3);
      else t.data<float>()[0] = static_cast<float>(in.ConsumeFloatingPoint<double>());
  }
  return state;
}

// Runs call(); a refused call must leave the module as it was.
template <typename Call>
void refused_leaves_no_trace(nn::Layer& m, Call call) {
  const nn::StateDict before = m.state_dict();
  const bool training = m.is_training();
  try {
    call();
  } catch (const Error&) {
    if (!same_state(before, m.state_dict()) || m.is_training() != training)
      finding("a refused call changed the module's state");
  }
}

}  // namespace
}  // namespace normkit

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace normkit;
  static const bool one_thread = (set_num_threads(1), true);
  (void)one_thread;
  FuzzedDataProvider in(data, size);
  const std::int64_t C = in.ConsumeIntegralInRange<std::int64_t>(1, 4);
  const std::unique_ptr<nn::Layer> m = any_module(in, C);
  if (m == nullptr) return 0;
  for (int call = 0; call < 8 && in.remaining_bytes() > 0; ++call) {
    switch (in.ConsumeIntegralInRange(0, 5)) {
      case 0:
      case 1: {
        const Tensor x = any_input(in, C);
        refused_leaves_no_trace(*m, [&] { m->forward(x); });
        break;
      }
      case 2: {
        const Tensor dy = any_input(in, C);
        refused_leaves_no_trace(*m, [&] { m->backward(dy); });
        break;
      }
      case 3: m->train(in.ConsumeBool()); break;
      case 4: {
        const nn::StateDict state = edited_state(in, m->state_dict());
        refused_leaves_no_trace(*m, [&] { m->load_state_dict(state); });
        break;
      }
      default: {
        auto* bn = dynamic_cast<nn::BatchNorm*>(m.get());
        if (bn == nullptr) break;
        const Tensor x = any_input(in, C);
        const bool pass_throws = in.ConsumeBool();
        const nn::StateDict before = bn->state_dict();
        const bool training = bn->is_training();
        try {
          nn::recalibrate_running_stats({bn, bn}, [&] {
            try {
              bn->forward(x);
            } catch (const Error&) {
            }
            if (pass_throws) throw std::runtime_error("the data pass failed");
          });
        } catch (const std::runtime_error&) {
          if (!same_state(before, bn->state_dict()) || bn->is_training() != training)
            finding("a recalibration whose data pass threw changed the layer");
        }
        if (bn->is_training() != training) finding("a recalibration did not restore the mode");
      }
    }
  }
  return 0;
}
