// The PyTorch peer of `normkit bench`: ATen's native CPU kernels, called as
// torch.nn.functional calls them. Built against Debian's libtorch (1.13) or a
// PyTorch 2.x wheel's libtorch; loaded at run time by `normkit bench`.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/version.h>

#include <string>

#include "bench/peer.hpp"

namespace {

using normkit::bench::PeerCase;

class TorchPeer : public normkit::bench::Peer {
 public:
  const char* name() const override { return "torch-" TORCH_VERSION; }
  void set_num_threads(int n) override { at::set_num_threads(n); }

  std::function<void()> prepare(const PeerCase& c) override {
    // The data in the case's dtype, and (as a bfloat16 or float16 model
    // keeps them) the parameters in it too.
    const std::string dtype = c.dtype;
    const at::ScalarType type = dtype == "bfloat16" ? at::kBFloat16 : dtype == "float16" ? at::kHalf : at::kFloat;
    const auto opts = at::TensorOptions().dtype(type);
    const std::vector<int64_t> shape(c.shape, c.shape + c.rank);
    const bool spatial = shape.size() >= 3;
    // The case's buffer is in its memory layout: build a tensor with that
    // layout and copy it, so that torch runs on memory it owns.
    auto make = [&](const void* data) {
      if (data == nullptr) return at::Tensor();
      at::Tensor t;
      if (c.channels_last && spatial) {
        std::vector<int64_t> stored{shape[0]};
        for (size_t i = 2; i < shape.size(); ++i) stored.push_back(shape[i]);
        stored.push_back(shape[1]);
        std::vector<int64_t> perm{0, static_cast<int64_t>(shape.size()) - 1};
        for (size_t i = 1; i + 1 < shape.size(); ++i) perm.push_back(static_cast<int64_t>(i));
        t = at::from_blob(const_cast<void*>(data), stored, opts).permute(perm).clone(
            shape.size() == 4 ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::ChannelsLast3d);
      } else {
        t = at::from_blob(const_cast<void*>(data), shape, opts).clone();
      }
      return t;
    };
    const at::Tensor x = make(c.x), dy = make(c.dy);
    const int64_t C = shape.size() >= 2 ? shape[1] : 1;
    const double eps = 1e-5;
    const std::string op = c.op;
    if (op.rfind("bn_", 0) == 0) {
      // (BatchNorm's running statistics and parameters: float32, as torch
      // keeps them in a bfloat16 model's BatchNorm.)
      const auto opts = at::TensorOptions().dtype(at::kFloat);
      const at::Tensor w = at::ones({C}, opts), b = at::zeros({C}, opts), rm = at::zeros({C}, opts),
                       rv = at::ones({C}, opts);
      if (op == "bn_train_fwd") return [=] { at::native_batch_norm(x, w, b, rm, rv, true, 0.0, eps); };
      if (op == "bn_eval_fwd") return [=] { at::native_batch_norm(x, w, b, rm, rv, false, 0.0, eps); };
      if (op == "bn_train_fwd_bwd")
        return [=] {
          auto [y, mean, invstd] = at::native_batch_norm(x, w, b, rm, rv, true, 0.0, eps);
          at::native_batch_norm_backward(dy, x, w, rm, rv, mean, invstd, true, eps, {true, true, true});
        };
    }
    const int64_t cols = shape.back();
    if (op == "ln_fwd" || op == "ln_fwd_bwd" || op == "rms_fwd") {
      const at::Tensor w = at::ones({cols}, opts), b = at::zeros({cols}, opts);
      if (op == "ln_fwd") return [=] { at::native_layer_norm(x, {cols}, w, b, eps); };
      if (op == "ln_fwd_bwd")
        return [=] {
          auto [y, mean, rstd] = at::native_layer_norm(x, {cols}, w, b, eps);
          at::native_layer_norm_backward(dy, x, {cols}, mean, rstd, w, b, {true, true, true});
        };
      // torch.nn.functional.rms_norm's composite (no fused CPU kernel to call).
      return [=] { x * at::rsqrt(x.pow(2).mean({-1}, true) + eps) * w; };
    }
    if (op.rfind("add_", 0) == 0 && c.residual != nullptr) {
      // The residual add, then the norm, as a PyTorch model writes them.
      const at::Tensor r = make(c.residual), dres = make(c.dresidual_out);
      const at::Tensor w = at::ones({cols}, opts), b = at::zeros({cols}, opts);
      if (op == "add_ln_fwd") return [=] { at::native_layer_norm(x + r, {cols}, w, b, eps); };
      if (op == "add_ln_fwd_bwd")
        return [=] {
          const at::Tensor s = x + r;
          auto [y, mean, rstd] = at::native_layer_norm(s, {cols}, w, b, eps);
          auto grads = at::native_layer_norm_backward(dy, s, {cols}, mean, rstd, w, b, {true, true, true});
          std::get<0>(grads) + dres;
        };
      if (op == "add_rms_fwd")
        return [=] {
          const at::Tensor s = x + r;
          s* at::rsqrt(s.pow(2).mean({-1}, true) + eps) * w;
        };
      return {};  // RMSNorm's backward: a composite of autograd's, not an ATen kernel to call
    }
    if (op == "gn_fwd") {
      const int64_t N = shape[0], HW = x.numel() / (N * C);
      const at::Tensor w = at::ones({C}, opts), b = at::zeros({C}, opts);
      return [=] { at::native_group_norm(x, w, b, N, C, HW, c.groups, eps); };
    }
    if (op == "in_fwd") return [=] { at::instance_norm(x, {}, {}, {}, {}, true, 0.1, eps, false); };
    return {};
  }
};

}  // namespace

extern "C" normkit::bench::Peer* normkit_bench_peer() {
  static TorchPeer peer;
  return &peer;
}
