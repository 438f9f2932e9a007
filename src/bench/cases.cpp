#include "cases.hpp"

#include <string>

#include "cases/case_list.hpp"
#include "kernels/op_table.hpp"
#include "normkit/layer_norm.hpp"

namespace normkit::bench {
namespace {

// "32x64x56x56 NCHW": the shape, and the layout of a batch with feature maps;
// " bf16" or " fp16" after it for 16-bit data.
std::string shape_label(const Shape& shape, bool channels_last, DType dtype) {
  std::string s;
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? "x" : "") + std::to_string(shape[i]);
  if (shape.size() > 2) s += channels_last ? " NHWC" : " NCHW";
  if (dtype == DType::bfloat16) s += " bf16";
  if (dtype == DType::float16) s += " fp16";
  return s;
}

// The peers' name of an op (bench/peer.hpp's PeerCase::op) before its pass.
const char* peer_op_prefix(const std::string& op) {
  if (op == "batch_norm") return "bn";
  if (op == "layer_norm") return "ln";
  if (op == "rms_norm") return "rms";
  if (op == "group_norm") return "gn";
  if (op == "instance_norm") return "in";
  if (op == "add_rms_norm") return "add_rms";
  if (op == "add_layer_norm") return "add_ln";
  return "";
}

// Whether the op has a training and an eval mode that the rows name
// (BatchNorm's "train fwd", "eval fwd").
bool names_mode(const ops::Op& op) {
  for (const ops::Arg& a : op.forward.args)
    if (std::string(a.name) == "training") return true;
  return false;
}

std::vector<TensorView> views_of(const std::vector<Tensor>& tensors) {
  std::vector<TensorView> views;
  for (const Tensor& t : tensors) views.push_back(t.defined() ? t.view() : TensorView{});
  return views;
}

// One case of the list, set up once: its arguments, and the results its
// passes write into (allocated by a first call, so that no timed call
// allocates).
struct Prepared {
  ops::CaseArguments args;
  std::vector<Tensor> forward_results, gradients;
  std::vector<TensorView> forward_views, gradient_views;  // of the above, made once: not timed
  std::vector<ops::Value> backward_values;
};

// normkit's add, then its norm (and in backward the norm's backward, then
// the add of dresidual_out): what the fused add + norm ops are measured
// against. Its buffers are allocated here, not in the timed call.
std::function<void()> unfused_add_norm(const std::string& op, const ops::CaseArguments& args, bool backward) {
  const bool rms = op == "add_rms_norm";
  const TensorView x = std::get<TensorView>(args.forward.at(0)), residual = std::get<TensorView>(args.forward.at(1));
  const Shape ns = std::get<Shape>(args.forward.at(2));
  const TensorView weight = std::get<TensorView>(args.forward.at(3));
  const TensorView bias = rms ? TensorView{} : std::get<TensorView>(args.forward.at(4));
  const double eps = std::get<double>(args.forward.at(rms ? 4 : 5));
  const double offset = rms ? std::get<double>(args.forward.at(5)) : 0.0;
  struct Buffers {
    Tensor sum, y, mean, rstd, dy, dres, dx, dweight, dbias;
  };
  auto b = std::make_shared<Buffers>();
  const Shape stats(x.shape().begin(), x.shape().end() - 1);
  Shape stats_shape = stats;
  stats_shape.push_back(1);
  b->sum = Tensor(x.shape()), b->y = Tensor(x.shape()), b->mean = Tensor(stats_shape), b->rstd = Tensor(stats_shape);
  b->dy = Tensor::copy_of(x), b->dres = Tensor::copy_of(residual), b->dx = Tensor(x.shape());
  b->dweight = Tensor(ns), b->dbias = Tensor(ns);  // as the fused op's backward computes them
  const auto add = [](const float* a, const float* c, float* out, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) out[i] = a[i] + c[i];
  };
  const auto forward = [=] {
    add(x.data<float>(), residual.data<float>(), b->sum.data<float>(), b->sum.numel());
    if (rms)
      rms_norm_forward({b->sum, ns, weight}, {.eps = eps, .weight_offset = offset}, {b->y, b->rstd});
    else
      layer_norm_forward({b->sum, ns, weight, bias}, {.eps = eps}, {b->y, b->mean, b->rstd});
  };
  if (!backward) return forward;
  return [=] {
    forward();
    if (rms)
      rms_norm_backward({b->dy, b->sum, ns, b->rstd, weight}, {.weight_offset = offset}, {b->dx, b->dweight});
    else
      layer_norm_backward({b->dy, b->sum, ns, b->mean, b->rstd, weight}, {}, {b->dx, b->dweight, b->dbias});
    add(b->dx.data<float>(), b->dres.data<float>(), b->dx.data<float>(), b->dx.numel());
  };
}

}  // namespace

CaseSet make_cases(const std::vector<Peer*>& peers, bool quick, const std::string& filter) {
  CaseSet set;
  for (const cases::ListedCase& c : cases::listed_cases(quick ? "quick" : "bench")) {
    const ops::Op& op = ops::op(c.op);
    const bool train = c.mode == "train";
    const bool channels_last = c.layout == "channels_last";
    const std::string title = std::string(op.title) + (c.groups > 0 ? " G=" + std::to_string(c.groups) : "") +
                              (names_mode(op) ? " " + c.mode : "");
    const std::string label = shape_label(c.shape, channels_last, c.dtype);
    const auto wanted = [&](const std::string& pass) {
      return (title + " " + pass + " " + label).find(filter) != std::string::npos;
    };
    const bool forward_wanted = wanted("fwd"), both_wanted = train && wanted("fwd+bwd");
    if (!forward_wanted && !both_wanted) continue;
    auto p = std::make_shared<Prepared>();
    set.keep_alive.push_back(p);
    p->args = op.arguments(c);
    p->forward_results = op.forward.call(p->args.forward, normkit::Impl::fast);
    p->forward_views = views_of(p->forward_results);
    if (train) {
      p->backward_values = p->args.backward(p->forward_results);
      p->gradients = op.backward.call(p->backward_values, normkit::Impl::fast);
      p->gradient_views = views_of(p->gradients);
    }
    const std::string prefix = std::string(peer_op_prefix(c.op)) + (names_mode(op) ? "_" + c.mode : "");
    const std::int64_t bytes = shape_numel(c.shape) * static_cast<std::int64_t>(dtype_size(c.dtype));
    const TensorView x = std::get<TensorView>(p->args.forward.at(0));
    const TensorView dy = train ? std::get<TensorView>(p->backward_values.at(0)) : TensorView{};
    // The fused add + norm ops read a residual beside x and write
    // residual_out beside y (and in backward read dresidual_out too).
    const bool fused_add = c.op.rfind("add_", 0) == 0;
    const std::int64_t data = fused_add ? 2 : 1;
    // The peers read x (and dy) where normkit does: the case's own memory.
    const auto peer_case = [&](const std::string& op_name) {
      auto shape = std::make_shared<Shape>(c.shape);
      auto name = std::make_shared<std::string>(op_name);
      set.keep_alive.push_back(shape);
      set.keep_alive.push_back(name);
      PeerCase peer{.op = name->c_str(),
                    .shape = shape->data(),
                    .rank = static_cast<int>(shape->size()),
                    .channels_last = channels_last,
                    .groups = c.groups > 0 ? c.groups : 1,
                    .dtype = dtype_name(c.dtype),
                    .x = x.raw(),
                    .dy = dy.defined() ? dy.raw() : nullptr,
                    .y = p->forward_views.at(0).raw(),
                    .dx = train ? p->gradient_views.at(0).raw() : nullptr};
      if (fused_add) {
        peer.residual = std::get<TensorView>(p->args.forward.at(1)).raw();
        if (train) peer.dresidual_out = std::get<TensorView>(p->backward_values.at(1)).raw();
      }
      return peer;
    };
    const ops::Op* o = &op;
    const Case described{
        .channels_last = channels_last, .groups = c.groups > 0 ? c.groups : 1, .dtype = dtype_name(c.dtype)};
    Case forward = described;
    forward.op = title + " fwd";
    forward.shape = label;
    forward.min_bytes = forward.working_set = 2 * data * bytes;  // x, y (and residual, residual_out)
    forward.peer_op = prefix + "_fwd";
    forward.dims = c.shape;
    forward.impls = {{"normkit", [o, p] { o->forward.run(p->args.forward, p->forward_views, normkit::Impl::fast); }}};
    // (The unfused comparison in float32 only: its add is a plain loop.)
    const bool unfused = fused_add && c.dtype == DType::float32;
    if (unfused) forward.impls.push_back({"normkit-unfused", unfused_add_norm(c.op, p->args, false)});
    if (forward_wanted) {
      for (Peer* peer : peers)
        if (std::function<void()> run = peer->prepare(peer_case(prefix + "_fwd")))
          forward.impls.push_back({peer->name(), std::move(run)});
      set.cases.push_back(std::move(forward));
    }
    if (!both_wanted) continue;
    Case both = described;
    both.op = title + " fwd+bwd";
    both.shape = label;
    // x, y; then dy, x, dx (fused add: x, residual, residual_out, y; then
    // dy, dresidual_out, residual_out, dsum)
    both.min_bytes = (fused_add ? 8 : 5) * bytes;
    both.working_set = (fused_add ? 7 : 4) * bytes;
    both.peer_op = prefix + "_fwd_bwd";
    both.dims = c.shape;
    both.impls = {{"normkit", [o, p] {
                    o->forward.run(p->args.forward, p->forward_views, normkit::Impl::fast);
                    o->backward.run(p->backward_values, p->gradient_views, normkit::Impl::fast);
                  }}};
    if (unfused) both.impls.push_back({"normkit-unfused", unfused_add_norm(c.op, p->args, true)});
    for (Peer* peer : peers)
      if (std::function<void()> run = peer->prepare(peer_case(prefix + "_fwd_bwd")))
        both.impls.push_back({peer->name(), std::move(run)});
    set.cases.push_back(std::move(both));
  }
  return set;
}

}  // namespace normkit::bench
