#include "cases.hpp"

#include <random>
#include <string>

#include "normkit/normkit.hpp"

namespace normkit::bench {
namespace {

Tensor random_tensor(const Shape& shape, MemoryFormat format, std::uint64_t seed) {
  Tensor t(shape, DType::float32, format);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.5f, 2.0f);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

std::string shape_label(const Shape& shape, bool channels_last, bool spatial) {
  std::string s;
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? "x" : "") + std::to_string(shape[i]);
  if (spatial) s += channels_last ? " NHWC" : " NCHW";
  return s;
}

// Adds every loaded peer's implementation of the case.
void add_peers(Case& c, const std::vector<Peer*>& peers, const PeerCase& pc) {
  for (Peer* peer : peers)
    if (std::function<void()> run = peer->prepare(pc)) c.impls.push_back({peer->name(), std::move(run)});
}

struct Buffers {
  Tensor x, dy, y, dx, mean, invstd, w, b, dw, db, rm, rv;
};

}  // namespace

CaseSet make_cases(const std::vector<Peer*>& peers, bool quick) {
  CaseSet set;
  auto keep = [&](Buffers buffers) {
    auto p = std::make_shared<Buffers>(std::move(buffers));
    set.keep_alive.push_back(p);
    return p.get();
  };
  const std::int64_t f = sizeof(float);

  // BatchNorm: (32,64,56,56) and (64,256,14,14), NCHW and NHWC; (256,1024).
  std::vector<std::pair<Shape, bool>> bn_shapes = {{{32, 64, 56, 56}, false}, {{32, 64, 56, 56}, true},
                                                   {{64, 256, 14, 14}, false}, {{64, 256, 14, 14}, true},
                                                   {{256, 1024}, false}};
  if (quick) bn_shapes = {{{8, 16, 28, 28}, false}, {{8, 16, 28, 28}, true}, {{64, 128}, false}};
  for (const auto& [shape, cl] : bn_shapes) {
    const MemoryFormat format = cl ? MemoryFormat::channels_last : MemoryFormat::contiguous;
    const std::int64_t C = shape[1], bytes = shape_numel(shape) * f;
    Buffers* b = keep({random_tensor(shape, format, 1), random_tensor(shape, format, 2),
                       Tensor(shape, DType::float32, format), Tensor(shape, DType::float32, format),
                       Tensor({C}), Tensor({C}), Tensor::full({C}, 1.0f), Tensor::full({C}, 0.0f),
                       Tensor({C}), Tensor({C}), Tensor::full({C}, 0.0f), Tensor::full({C}, 1.0f)});
    const std::string label = shape_label(shape, cl, shape.size() > 2);
    const PeerCase pc{"", shape.data(), static_cast<int>(shape.size()), cl, 1, b->x.data<float>(),
                      b->dy.data<float>()};
    auto peer_case = [&](const char* op) {
      PeerCase c = pc;
      c.op = op;
      return c;
    };
    Case train{"BatchNorm train fwd", label, 2 * bytes,
               {{"normkit", [b] {
                   batch_norm_forward({b->x, b->w, b->b, b->rm, b->rv}, {.momentum = 0.0},
                                      {b->y, b->mean, b->invstd});
                 }}}};
    add_peers(train, peers, peer_case("bn_train_fwd"));
    Case eval{"BatchNorm eval fwd", label, 2 * bytes,
              {{"normkit", [b] {
                  batch_norm_forward({b->x, b->w, b->b, b->rm, b->rv}, {.training = false}, {b->y});
                }}}};
    add_peers(eval, peers, peer_case("bn_eval_fwd"));
    Case both{"BatchNorm train fwd+bwd", label, 5 * bytes,
              {{"normkit", [b] {
                  batch_norm_forward({b->x, b->w, b->b, b->rm, b->rv}, {.momentum = 0.0},
                                     {b->y, b->mean, b->invstd});
                  batch_norm_backward({b->dy, b->x, b->w, {}, {}, b->mean, b->invstd}, {},
                                      {b->dx, b->dw, b->db});
                }}}};
    add_peers(both, peers, peer_case("bn_train_fwd_bwd"));
    set.cases.push_back(std::move(train));
    set.cases.push_back(std::move(eval));
    set.cases.push_back(std::move(both));
  }

  // LayerNorm and RMSNorm: (8192, 768) and (4096, 4096).
  std::vector<Shape> row_shapes = {{8192, 768}, {4096, 4096}};
  if (quick) row_shapes = {{256, 768}};
  for (const Shape& shape : row_shapes) {
    const std::int64_t rows = shape[0], cols = shape[1], bytes = rows * cols * f;
    Buffers* b = keep({random_tensor(shape, MemoryFormat::contiguous, 3), random_tensor(shape, MemoryFormat::contiguous, 4),
                       Tensor(shape), Tensor(shape), Tensor({rows, 1}), Tensor({rows, 1}), Tensor::full({cols}, 1.0f),
                       Tensor::full({cols}, 0.0f), Tensor({cols}), Tensor({cols}), {}, {}});
    const std::string label = shape_label(shape, false, false);
    const PeerCase pc{"", shape.data(), 2, false, 1, b->x.data<float>(), b->dy.data<float>()};
    auto peer_case = [&](const char* op) {
      PeerCase c = pc;
      c.op = op;
      return c;
    };
    Case ln{"LayerNorm fwd", label, 2 * bytes,
            {{"normkit", [b, cols] { layer_norm_forward({b->x, {cols}, b->w, b->b}, {}, {b->y, b->mean, b->invstd}); }}}};
    add_peers(ln, peers, peer_case("ln_fwd"));
    Case ln2{"LayerNorm fwd+bwd", label, 5 * bytes,
             {{"normkit", [b, cols] {
                 layer_norm_forward({b->x, {cols}, b->w, b->b}, {}, {b->y, b->mean, b->invstd});
                 layer_norm_backward({b->dy, b->x, {cols}, b->mean, b->invstd, b->w}, {}, {b->dx, b->dw, b->db});
               }}}};
    add_peers(ln2, peers, peer_case("ln_fwd_bwd"));
    Case rms{"RMSNorm fwd", label, 2 * bytes,
             {{"normkit", [b, cols] { rms_norm_forward({b->x, {cols}, b->w}, {}, {b->y, b->invstd}); }}}};
    add_peers(rms, peers, peer_case("rms_fwd"));
    Case rms2{"RMSNorm fwd+bwd", label, 5 * bytes,
              {{"normkit", [b, cols] {
                  rms_norm_forward({b->x, {cols}, b->w}, {}, {b->y, b->invstd});
                  rms_norm_backward({b->dy, b->x, {cols}, b->invstd, b->w}, {}, {b->dx, b->dw});
                }}}};
    add_peers(rms2, peers, peer_case("rms_fwd_bwd"));
    for (Case* c : {&ln, &ln2, &rms, &rms2}) set.cases.push_back(std::move(*c));
  }

  // GroupNorm (G = 32) and InstanceNorm: (8, 256, 56, 56).
  const Shape gshape = quick ? Shape{2, 64, 14, 14} : Shape{8, 256, 56, 56};
  {
    const std::int64_t N = gshape[0], C = gshape[1], bytes = shape_numel(gshape) * f;
    Buffers* b = keep({random_tensor(gshape, MemoryFormat::contiguous, 5), {}, Tensor(gshape), {},
                       Tensor({N, C}), Tensor({N, C}), Tensor::full({C}, 1.0f), Tensor::full({C}, 0.0f),
                       {}, {}, {}, {}});
    const std::string label = shape_label(gshape, false, true);
    Case gn{"GroupNorm G=32 fwd", label, 2 * bytes,
            {{"normkit", [b, N] {
                group_norm_forward({b->x, b->w, b->b}, {.num_groups = 32},
                                   {b->y, TensorView(b->mean.data<float>(), {N, 32}), TensorView(b->invstd.data<float>(), {N, 32})});
              }}}};
    add_peers(gn, peers, {"gn_fwd", gshape.data(), 4, false, 32, b->x.data<float>(), nullptr});
    Case in{"InstanceNorm fwd", label, 2 * bytes,
            {{"normkit", [b] { instance_norm_forward({b->x, b->w, b->b}, {}, {b->y, b->mean, b->invstd}); }}}};
    add_peers(in, peers, {"in_fwd", gshape.data(), 4, false, 1, b->x.data<float>(), nullptr});
    set.cases.push_back(std::move(gn));
    set.cases.push_back(std::move(in));
  }
  return set;
}

}  // namespace normkit::bench
