#include "cases.hpp"

#include <string>

#include "cases/case_list.hpp"
#include "kernels/op_table.hpp"

namespace normkit::bench {
namespace {

// "32x64x56x56 NCHW": the shape, and the layout of a batch with feature maps.
std::string shape_label(const Shape& shape, bool channels_last) {
  std::string s;
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? "x" : "") + std::to_string(shape[i]);
  if (shape.size() > 2) s += channels_last ? " NHWC" : " NCHW";
  return s;
}

// The peers' name of an op (bench/peer.hpp's PeerCase::op) before its pass.
const char* peer_op_prefix(const std::string& op) {
  if (op == "batch_norm") return "bn";
  if (op == "layer_norm") return "ln";
  if (op == "rms_norm") return "rms";
  if (op == "group_norm") return "gn";
  if (op == "instance_norm") return "in";
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

}  // namespace

CaseSet make_cases(const std::vector<Peer*>& peers, bool quick, const std::string& filter) {
  CaseSet set;
  for (const cases::ListedCase& c : cases::listed_cases(quick ? "quick" : "bench")) {
    const ops::Op& op = ops::op(c.op);
    const bool train = c.mode == "train";
    const bool channels_last = c.layout == "channels_last";
    const std::string title = std::string(op.title) + (c.groups > 0 ? " G=" + std::to_string(c.groups) : "") +
                              (names_mode(op) ? " " + c.mode : "");
    const std::string label = shape_label(c.shape, channels_last);
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
    const std::int64_t bytes = shape_numel(c.shape) * static_cast<std::int64_t>(sizeof(float));
    const TensorView x = std::get<TensorView>(p->args.forward.at(0));
    const TensorView dy = train ? std::get<TensorView>(p->backward_values.at(0)) : TensorView{};
    // The peers read x (and dy) where normkit does: the case's own memory.
    const auto peer_case = [&](const std::string& op_name) {
      auto shape = std::make_shared<Shape>(c.shape);
      auto name = std::make_shared<std::string>(op_name);
      set.keep_alive.push_back(shape);
      set.keep_alive.push_back(name);
      return PeerCase{name->c_str(),
                      shape->data(),
                      static_cast<int>(shape->size()),
                      channels_last,
                      c.groups > 0 ? c.groups : 1,
                      static_cast<const float*>(x.raw()),
                      dy.defined() ? static_cast<const float*>(dy.raw()) : nullptr,
                      static_cast<float*>(p->forward_views.at(0).raw()),
                      train ? static_cast<float*>(p->gradient_views.at(0).raw()) : nullptr};
    };
    const ops::Op* o = &op;
    const Case described{.channels_last = channels_last, .groups = c.groups > 0 ? c.groups : 1};
    Case forward = described;
    forward.op = title + " fwd";
    forward.shape = label;
    forward.min_bytes = forward.working_set = 2 * bytes;  // x, y
    forward.peer_op = prefix + "_fwd";
    forward.dims = c.shape;
    forward.impls = {{"normkit", [o, p] { o->forward.run(p->args.forward, p->forward_views, normkit::Impl::fast); }}};
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
    both.min_bytes = 5 * bytes;    // x, y; then dy, x, dx
    both.working_set = 4 * bytes;  // x, y, dy, dx
    both.peer_op = prefix + "_fwd_bwd";
    both.dims = c.shape;
    both.impls = {{"normkit", [o, p] {
                    o->forward.run(p->args.forward, p->forward_views, normkit::Impl::fast);
                    o->backward.run(p->backward_values, p->gradient_views, normkit::Impl::fast);
                  }}};
    for (Peer* peer : peers)
      if (std::function<void()> run = peer->prepare(peer_case(prefix + "_fwd_bwd")))
        both.impls.push_back({peer->name(), std::move(run)});
    set.cases.push_back(std::move(both));
  }
  return set;
}

}  // namespace normkit::bench
