// The ggml peer of `normkit bench`: llama.cpp's tensor library on its CPU
// backend (ggml-python's build from PyPI: scripts/setup-bench-venv.sh), as a
// model runs it. ggml's norms have no affine part: LayerNorm is ggml_norm
// then ggml_mul by the weight and ggml_add of the bias, RMSNorm ggml_rms_norm
// then ggml_mul, GroupNorm ggml_group_norm then both, as llama.cpp and
// stable-diffusion.cpp build them (in place here, so that no pass allocates).
// Forward only: ggml's training graphs are not what its users run.
#include <ggml-cpu.h>
#include <ggml.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bench/peer.hpp"

namespace {

using normkit::bench::PeerCase;

// A graph of one case in a context of its own, and the plan that runs it with
// a thread count (made again when the count changes; its work buffer is
// allocated then, never in a timed call).
struct Graph {
  ggml_context* ctx = nullptr;
  ggml_cgraph* graph = nullptr;
  int planned_threads = 0;
  ggml_cplan plan{};
  std::vector<unsigned char> work;

  ~Graph() {
    if (ctx != nullptr) ggml_free(ctx);
  }
  void run(int threads) {
    if (threads != planned_threads) {
      plan = ggml_graph_plan(graph, threads, nullptr);
      work.resize(plan.work_size);
      plan.work_data = work.empty() ? nullptr : work.data();
      planned_threads = threads;
    }
    ggml_graph_compute(graph, &plan);
  }
};

// A tensor of ne (ggml order: innermost first) holding `values` or `fill`.
ggml_tensor* tensor(ggml_context* ctx, const std::vector<std::int64_t>& ne, const float* values, float fill) {
  ggml_tensor* t = ne.size() == 1   ? ggml_new_tensor_1d(ctx, GGML_TYPE_F32, ne[0])
                   : ne.size() == 2 ? ggml_new_tensor_2d(ctx, GGML_TYPE_F32, ne[0], ne[1])
                                    : ggml_new_tensor_4d(ctx, GGML_TYPE_F32, ne[0], ne[1], ne[2], ne[3]);
  float* p = static_cast<float*>(ggml_get_data(t));
  const std::int64_t n = ggml_nelements(t);
  for (std::int64_t i = 0; i < n; ++i) p[i] = values != nullptr ? values[i] : fill;
  return t;
}

class GgmlPeer : public normkit::bench::Peer {
 public:
  GgmlPeer() { ggml_cpu_init(); }

  const char* name() const override {
    static const std::string label = std::string("ggml-") + ggml_version();
    return label.c_str();
  }
  void set_num_threads(int n) override { threads_ = n; }

  std::function<void()> prepare(const PeerCase& c) override {
    const std::string op = c.op;
    if (std::string(c.dtype) != "float32") return {};  // ggml's CPU norms take F32 only
    const bool rows = c.rank == 2 && (op == "ln_fwd" || op == "rms_fwd");
    const bool groups = c.rank == 4 && !c.channels_last && op == "gn_fwd";
    if (!rows && !groups) return {};
    std::int64_t numel = 1;
    for (int i = 0; i < c.rank; ++i) numel *= c.shape[i];
    auto g = std::make_shared<Graph>();
    // x, the norm's result (in place), the affine parameters, graph overhead.
    const std::size_t bytes = static_cast<std::size_t>(numel) * sizeof(float) + 2 * 1024 * 1024 +
                              ggml_graph_overhead() + 16 * ggml_tensor_overhead();
    g->ctx = ggml_init({bytes, nullptr, false});
    if (g->ctx == nullptr) return {};
    const float eps = 1e-5f;
    ggml_tensor* y = nullptr;
    if (rows) {
      const std::int64_t cols = c.shape[1];
      ggml_tensor* x = tensor(g->ctx, {cols, c.shape[0]}, static_cast<const float*>(c.x), 0);
      ggml_tensor* weight = tensor(g->ctx, {cols}, nullptr, 1);
      y = ggml_mul_inplace(g->ctx, op == "ln_fwd" ? ggml_norm_inplace(g->ctx, x, eps) : ggml_rms_norm_inplace(g->ctx, x, eps),
                           weight);
      if (op == "ln_fwd") y = ggml_add_inplace(g->ctx, y, tensor(g->ctx, {cols}, nullptr, 0));
    } else {
      // (N, C, H, W) contiguous is ggml's (W, H, C, N).
      const std::int64_t channels = c.shape[1];
      ggml_tensor* x = tensor(g->ctx, {c.shape[3], c.shape[2], channels, c.shape[0]}, static_cast<const float*>(c.x), 0);
      ggml_tensor* weight = tensor(g->ctx, {1, 1, channels, 1}, nullptr, 1);
      ggml_tensor* bias = tensor(g->ctx, {1, 1, channels, 1}, nullptr, 0);
      y = ggml_add_inplace(g->ctx,
                           ggml_mul_inplace(g->ctx, ggml_group_norm_inplace(g->ctx, x, static_cast<int>(c.groups), eps),
                                            weight),
                           bias);
    }
    g->graph = ggml_new_graph(g->ctx);
    ggml_build_forward_expand(g->graph, y);
    // In place: each run normalizes the last run's result, whose values stay
    // normalized (the same work on data of the same size).
    return [this, g] { g->run(threads_); };
  }

 private:
  int threads_ = 1;
};

}  // namespace

extern "C" normkit::bench::Peer* normkit_bench_peer() {
  static GgmlPeer peer;
  return &peer;
}
