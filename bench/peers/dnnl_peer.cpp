// The oneDNN peer of `normkit bench`: batch, layer and (3.3 and newer) group
// normalization primitives with scale and shift, and RMSNorm as layer
// normalization with the rms_norm flag (3.5 and newer), on the case's memory
// format, over the case's own x, y, dy and dx. Loaded at run time by
// `normkit bench`. Built twice: against Debian's libdnnl-dev
// (oneDNN 2.x API, OpenMP threads) and against PyPI's onednn-devel (3.x API;
// its CPU engine runs on SYCL, its kernels' threads on TBB: see
// peer_onednn_pypi.env and set_num_threads below).
#include <omp.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#if DNNL_CPU_THREADING_RUNTIME == DNNL_RUNTIME_TBB
#include <oneapi/tbb/global_control.h>
#endif
#include <string>
#include <unordered_map>
#include <vector>

#include "bench/peer.hpp"

namespace {

using normkit::bench::PeerCase;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;
using flags = dnnl::normalization_flags;

// Whether the oneDNN built against is major.minor or newer.
#define PEER_DNNL_AT_LEAST(major, minor) \
  (DNNL_VERSION_MAJOR > (major) || (DNNL_VERSION_MAJOR == (major) && DNNL_VERSION_MINOR >= (minor)))

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// One primitive with its arguments, kept alive by the closure.
struct Bound {
  dnnl::primitive prim;
  std::unordered_map<int, dnnl::memory> args;
};

// A PeerCase with its strings and shape held here, so that the case can be
// prepared again after the caller's PeerCase is gone (the buffers it points
// to live as long as the case).
class OwnedCase {
 public:
  explicit OwnedCase(const PeerCase& c)
      : c_(c), op_(c.op), dtype_(c.dtype), shape_(c.shape, c.shape + c.rank) {}
  PeerCase view() const {
    PeerCase c = c_;
    c.op = op_.c_str();
    c.dtype = dtype_.c_str();
    c.shape = shape_.data();
    return c;
  }

 private:
  PeerCase c_;
  std::string op_, dtype_;
  std::vector<std::int64_t> shape_;
};

// A prepared case and its current closure, built for the current thread count.
struct Prepared {
  OwnedCase c;
  std::function<void()> run;
};

// The memories of a normalization with scale and shift (batch or layer):
// data, per-channel parameters, statistics, and their gradients.
struct NormMemories {
  dnnl::memory x, y, scale, shift, mean, var, dy, dx, dscale, dshift;

  std::unordered_map<int, dnnl::memory> forward_args() const {
    return {{DNNL_ARG_SRC, x},     {DNNL_ARG_DST, y},     {DNNL_ARG_SCALE, scale},
            {DNNL_ARG_SHIFT, shift}, {DNNL_ARG_MEAN, mean}, {DNNL_ARG_VARIANCE, var}};
  }
  std::unordered_map<int, dnnl::memory> backward_args() const {
    return {{DNNL_ARG_SRC, x},       {DNNL_ARG_DIFF_DST, dy},     {DNNL_ARG_DIFF_SRC, dx},
            {DNNL_ARG_SCALE, scale}, {DNNL_ARG_SHIFT, shift},     {DNNL_ARG_MEAN, mean},
            {DNNL_ARG_VARIANCE, var}, {DNNL_ARG_DIFF_SCALE, dscale}, {DNNL_ARG_DIFF_SHIFT, dshift}};
  }
};

class DnnlPeer : public normkit::bench::Peer {
 public:
  DnnlPeer() : engine_(dnnl::engine::kind::cpu, 0), stream_(engine_) {}

  const char* name() const override {
    static const std::string label = [] {
      const dnnl_version_t* v = dnnl_version();
      return "onednn-" + std::to_string(v->major) + "." + std::to_string(v->minor);
    }();
    return label.c_str();
  }
  // A TBB-threaded oneDNN (PyPI's) ignores OpenMP's count and runs on every
  // core: at "1 thread" it took both of a 2-core machine (151% CPU for
  // LayerNorm 8192x768 in a loop, with DPCPP_CPU_NUM_CUS=1 in the
  // environment). TBB's global limit holds it to n (99% CPU at 1).
  //
  // A primitive keeps the thread count it was created with: oneDNN 2.6's
  // batch normalization, created at 2 and run after omp_set_num_threads(1),
  // still ran on 2 threads (64x256x14x14 NHWC training forward, Zen 5:
  // 0.49 ms, against 0.72 ms when created at 1). Every case is prepared
  // before the first count is set, so each is built again for each count.
  void set_num_threads(int n) override {
#if DNNL_CPU_THREADING_RUNTIME == DNNL_RUNTIME_TBB
    limit_.reset();  // one limit at a time
    limit_ = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism, n);
#endif
    omp_set_num_threads(n);
    for (const std::shared_ptr<Prepared>& p : prepared_)
      if (std::function<void()> run = try_prepare(p->c.view())) p->run = std::move(run);
  }

  std::function<void()> prepare(const PeerCase& c) override {
    std::function<void()> run = try_prepare(c);
    if (!run) return {};
    auto prepared = std::make_shared<Prepared>(Prepared{OwnedCase(c), std::move(run)});
    prepared_.push_back(prepared);
    return [prepared] { prepared->run(); };
  }

 private:
  // A case this oneDNN has no implementation for (a dtype on this CPU, an
  // op in this version) is declined: an empty function.
  std::function<void()> try_prepare(const PeerCase& c) {
    try {
      return prepare_case(c);
    } catch (const dnnl::error&) {
      return {};
    }
  }

  std::function<void()> prepare_case(const PeerCase& c) {
    const dnnl::memory::dims dims(c.shape, c.shape + c.rank);
    // The data tensors in the case's dtype; scale, shift and statistics in
    // float32 (oneDNN's only type for them).
    const std::string dtype = c.dtype;
    const dt data_type = dtype == "bfloat16" ? dt::bf16 : dtype == "float16" ? dt::f16 : dt::f32;
    const std::string op = c.op;
    const bool spatial = dims.size() >= 3;
    tag format = tag::nc;
    if (dims.size() == 4) format = c.channels_last ? tag::nhwc : tag::nchw;
    if (dims.size() == 5) format = c.channels_last ? tag::ndhwc : tag::ncdhw;
    if (!spatial && dims.size() != 2) return {};
    const dnnl::memory::desc data(dims, data_type, format);
    const float eps = 1e-5f;
    if (op.rfind("bn_", 0) == 0) {
      const dnnl::memory::desc chan({dims[1]}, dt::f32, tag::a);
      const NormMemories m = memories(c, data, chan, chan);
      const bool training = op != "bn_eval_fwd";
      const auto f = flags::use_scale | flags::use_shift | (training ? flags::none : flags::use_global_stats);
      const auto prop = training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
#if DNNL_VERSION_MAJOR >= 3
      const dnnl::batch_normalization_forward::primitive_desc fwd_pd(engine_, prop, data, data, eps, f);
#else
      const dnnl::batch_normalization_forward::primitive_desc fwd_pd({prop, data, eps, f}, engine_);
#endif
      auto fwd = std::make_shared<Bound>(Bound{dnnl::batch_normalization_forward(fwd_pd), m.forward_args()});
      if (op != "bn_train_fwd_bwd") return timed(fwd, nullptr);
      const auto bwd_flags = flags::use_scale | flags::use_shift;
#if DNNL_VERSION_MAJOR >= 3
      const dnnl::batch_normalization_backward::primitive_desc bwd_pd(engine_, dnnl::prop_kind::backward, data, data,
                                                                      data, eps, bwd_flags, fwd_pd);
#else
      const dnnl::batch_normalization_backward::primitive_desc bwd_pd(
          {dnnl::prop_kind::backward, data, data, eps, bwd_flags}, engine_, fwd_pd);
#endif
      return timed(fwd, std::make_shared<Bound>(Bound{dnnl::batch_normalization_backward(bwd_pd), m.backward_args()}));
    }
    const bool rms = op.rfind("rms_", 0) == 0;
    if (op.rfind("ln_", 0) == 0 || rms) {
#if !PEER_DNNL_AT_LEAST(3, 5)
      if (rms) return {};  // the rms_norm flag came with oneDNN 3.5
#endif
      const dnnl::memory::desc rows({dims[0], dims[1]}, data_type, tag::ab);
      const dnnl::memory::desc stat({dims[0]}, dt::f32, tag::a), chan({dims[1]}, dt::f32, tag::a);
      const NormMemories m = memories(c, rows, stat, chan);
      // RMSNorm: layer normalization with the rms_norm flag (no centring;
      // a scale, no shift, as RMSNorm has).
      auto f = flags::use_scale | flags::use_shift;
#if PEER_DNNL_AT_LEAST(3, 5)
      if (rms) f = flags::use_scale | flags::rms_norm;
#endif
#if DNNL_VERSION_MAJOR >= 3
      const dnnl::layer_normalization_forward::primitive_desc fwd_pd(engine_, dnnl::prop_kind::forward_training,
                                                                     rows, rows, stat, eps, f);
#else
      const dnnl::layer_normalization_forward::primitive_desc fwd_pd(
          {dnnl::prop_kind::forward_training, rows, stat, eps, f}, engine_);
#endif
      auto fwd = std::make_shared<Bound>(Bound{dnnl::layer_normalization_forward(fwd_pd), m.forward_args()});
      if (!ends_with(op, "_fwd_bwd")) return timed(fwd, nullptr);
#if DNNL_VERSION_MAJOR >= 3
      const dnnl::layer_normalization_backward::primitive_desc bwd_pd(engine_, dnnl::prop_kind::backward, rows,
                                                                      rows, rows, stat, eps, f, fwd_pd);
#else
      const dnnl::layer_normalization_backward::primitive_desc bwd_pd(
          {dnnl::prop_kind::backward, rows, rows, stat, eps, f}, engine_, fwd_pd);
#endif
      return timed(fwd, std::make_shared<Bound>(Bound{dnnl::layer_normalization_backward(bwd_pd), m.backward_args()}));
    }
#if PEER_DNNL_AT_LEAST(3, 3)
    // The group normalization primitive (oneDNN 3.3 and newer).
    if (op.rfind("gn_", 0) == 0 && spatial) {
      const dnnl::memory::desc stat({dims[0], c.groups}, dt::f32, tag::ab), chan({dims[1]}, dt::f32, tag::a);
      const NormMemories m = memories(c, data, stat, chan);
      const auto f = flags::use_scale | flags::use_shift;
      const dnnl::group_normalization_forward::primitive_desc fwd_pd(engine_, dnnl::prop_kind::forward_training,
                                                                     data, data, c.groups, eps, f);
      auto fwd = std::make_shared<Bound>(Bound{dnnl::group_normalization_forward(fwd_pd), m.forward_args()});
      if (!ends_with(op, "_fwd_bwd")) return timed(fwd, nullptr);
      const dnnl::group_normalization_backward::primitive_desc bwd_pd(engine_, dnnl::prop_kind::backward, data,
                                                                      data, data, c.groups, eps, f, fwd_pd);
      return timed(fwd, std::make_shared<Bound>(Bound{dnnl::group_normalization_backward(bwd_pd), m.backward_args()}));
    }
#endif
    return {};  // InstanceNorm: oneDNN has no primitive of its own for it
  }

  // A memory of md holding `value` everywhere.
  dnnl::memory filled(const dnnl::memory::desc& md, float value) {
    dnnl::memory m(md, engine_);
    float* p = static_cast<float*>(m.get_data_handle());
    const std::size_t n = md.get_size() / sizeof(float);
    for (std::size_t i = 0; i < n; ++i) p[i] = value;
    return m;
  }

  // A memory of md over the case's own buffer (no copy: the same pages as
  // normkit's), or of its own holding zeros where the case has none. oneDNN
  // only reads a source, so x and dy need not be writable.
  dnnl::memory over(const dnnl::memory::desc& md, const void* buffer) {
    if (buffer != nullptr) return dnnl::memory(md, engine_, const_cast<void*>(buffer));
    dnnl::memory zeros(md, engine_);  // all-zero bits: 0 in every dtype
    std::memset(zeros.get_data_handle(), 0, md.get_size());
    return zeros;
  }

  // The case's x, y, dy and dx; scale 1, shift 0, mean 0, variance 1.
  NormMemories memories(const PeerCase& c, const dnnl::memory::desc& data, const dnnl::memory::desc& stat,
                        const dnnl::memory::desc& chan) {
    return {over(data, c.x),  over(data, c.y),  filled(chan, 1),  filled(chan, 0),  filled(stat, 0),
            filled(stat, 1),  over(data, c.dy), over(data, c.dx), filled(chan, 0),  filled(chan, 0)};
  }

  // What one timing runs: the forward, then the backward when there is one.
  std::function<void()> timed(std::shared_ptr<Bound> fwd, std::shared_ptr<Bound> bwd) {
    return [this, fwd, bwd] {
      run(*fwd);
      if (bwd) run(*bwd);
    };
  }

  void run(Bound& b) {
    b.prim.execute(stream_, b.args);
    stream_.wait();
  }
  dnnl::engine engine_;
  dnnl::stream stream_;
  std::vector<std::shared_ptr<Prepared>> prepared_;
#if DNNL_CPU_THREADING_RUNTIME == DNNL_RUNTIME_TBB
  std::unique_ptr<tbb::global_control> limit_;
#endif
};

}  // namespace

extern "C" normkit::bench::Peer* normkit_bench_peer() {
  static DnnlPeer peer;
  return &peer;
}
