// Synchronized BN: the BatchReduction of the kernels (src/kernels/
// batch_reduction.hpp) over a Communicator. One exchange per reduction:
// every rank sends the partials of its whole nodes and its rows of the cut
// leaves (slice_reduce.hpp), and every rank merges the same partials in the
// whole batch's tree, so every rank gets the same bits as one process.
#include "normkit/dist/sync_batch_norm.hpp"

#include <algorithm>
#include <cstring>
#include <map>
#include <type_traits>
#include <vector>

#include "kernels/batch_reduction.hpp"
#include "kernels/slice_reduce.hpp"

namespace normkit::dist {
namespace {

using kernels::GradSums;
using kernels::LeafList;
using kernels::Moments;
using kernels::NormPlan;
using kernels::SampleTree;

class RankReduction final : public kernels::BatchReduction {
 public:
  RankReduction(Communicator& comm, std::int64_t layer, const char* phase)
      : comm_(comm), layer_(layer), phase_(phase) {}

  kernels::BatchSlice agree(const std::string& error, std::int64_t N, std::int64_t C, std::int64_t S,
                            kernels::Layout layout) override {
    // C and S must match; N and the layout are each rank's own.
    const Intent intent{phase_, layer_, {{"channels", C}, {"spatial size", S}},
                        {N, layout == kernels::Layout::channels_last ? 1 : 0}};
    const std::vector<std::vector<std::int64_t>> own = comm_.agree(intent, error);
    kernels::BatchSlice slice;
    bool layout_set = false;
    counts_.clear();
    for (int q = 0; q < comm_.size(); ++q) {
      const std::int64_t n = own[q][0];
      if (q == comm_.rank()) slice.first = slice.batch;
      counts_.push_back(n);
      slice.batch += n;
      // The first rank with samples sets the layout every rank reduces in
      // (the whole batch has one layout; others copy into it).
      if (n > 0 && !layout_set) {
        slice.layout = own[q][1] == 1 ? kernels::Layout::channels_last : kernels::Layout::contiguous;
        layout_set = true;
      }
    }
    slice_ = slice;
    return slice;
  }

  void moments(const float* x, const NormPlan& local, Moments* out) override {
    reduce<Moments>(
        local, {x},
        [&](const SampleTree& tree, const LeafList& nodes, Moments* partials) {
          kernels::moments_of_whole_nodes(x, local, tree, slice_.first, nodes, partials);
        },
        [&](const std::vector<const float*>& rows, const NormPlan& leaf, Moments* partial) {
          kernels::moments({.x = rows[0], .plan = leaf, .out = partial});
        },
        out);
  }

  void grad_sums(const kernels::GradSumsArgs& local, GradSums* out) override {
    reduce<GradSums>(
        local.plan, {local.dy, local.x},
        [&](const SampleTree& tree, const LeafList& nodes, GradSums* partials) {
          kernels::grad_sums_of_whole_nodes(local, tree, slice_.first, nodes, partials);
        },
        [&](const std::vector<const float*>& rows, const NormPlan& leaf, GradSums* partial) {
          kernels::GradSumsArgs args = local;
          args.dy = rows[0];
          args.x = rows[1];
          args.plan = leaf;
          args.out = partial;
          kernels::grad_sums(args);
        },
        out);
  }

 private:
  // The slices of every rank.
  std::int64_t first_of(int q) const {
    std::int64_t first = 0;
    for (int r = 0; r < q; ++r) first += counts_[r];
    return first;
  }

  // arrays: this rank's inputs in the local plan (x; or dy and x). whole:
  // partials of whole nodes; cut: the partial of one cut leaf from its rows
  // gathered from every rank (one pointer per array).
  template <typename Partial, typename Whole, typename Cut>
  void reduce(const NormPlan& local, const std::vector<const float*>& arrays, const Whole& whole, const Cut& cut,
              Partial* out) {
    static_assert(std::is_trivially_copyable_v<Partial>);
    const std::int64_t C = local.C, rps = local.rows_per_sample, row = C * local.D;  // floats per row
    NormPlan whole_plan = local;
    whole_plan.B = slice_.batch * rps;
    const SampleTree tree = SampleTree::of(whole_plan);
    const int R = comm_.size(), me = comm_.rank();

    // What every rank sends: its whole nodes' partials, then, for each array,
    // its rows of every cut leaf it overlaps (in leaf order).
    std::vector<kernels::SliceNodes> nodes(R);
    std::vector<std::int64_t> bytes(R);
    for (int q = 0; q < R; ++q) {
      nodes[q] = kernels::slice_nodes(tree, first_of(q), counts_[q]);
      std::int64_t rows = 0;
      for (const auto& [lo, hi] : nodes[q].cut) rows += overlap(lo, hi, q) * rps;
      bytes[q] = static_cast<std::int64_t>(nodes[q].whole.size() * C * sizeof(Partial)) +
                 static_cast<std::int64_t>(arrays.size()) * rows * row * static_cast<std::int64_t>(sizeof(float));
    }
    std::vector<std::byte> mine(static_cast<std::size_t>(bytes[me]));
    {
      std::byte* p = mine.data();
      const std::size_t partial_bytes = nodes[me].whole.size() * C * sizeof(Partial);
      std::vector<Partial> partials(nodes[me].whole.size() * C);
      whole(tree, nodes[me].whole, partials.data());
      // (memcpy with a null pointer is undefined even for 0 bytes, and an
      // empty vector's data() may be null: a rank may have no whole node.)
      if (partial_bytes > 0) std::memcpy(p, partials.data(), partial_bytes);
      p += partial_bytes;
      for (const float* array : arrays) {
        for (const auto& [lo, hi] : nodes[me].cut) {
          const std::int64_t from = (std::max(lo, slice_.first) - slice_.first) * rps * row;
          const std::int64_t n = overlap(lo, hi, me) * rps * row;
          if (n > 0) std::memcpy(p, array + from, static_cast<std::size_t>(n) * sizeof(float));
          p += n * static_cast<std::int64_t>(sizeof(float));
        }
      }
    }
    const std::vector<std::byte> all = comm_.allgather(mine.data(), bytes);

    // Every node that tiles the batch, with its partial, in order.
    std::map<std::pair<std::int64_t, std::int64_t>, std::vector<Partial>> given;
    std::map<std::pair<std::int64_t, std::int64_t>, std::vector<std::vector<float>>> cut_rows;
    std::int64_t offset = 0;
    for (int q = 0; q < R; ++q) {
      const std::byte* p = all.data() + offset;
      for (const auto& node : nodes[q].whole) {
        std::vector<Partial>& partial = given[node];
        partial.resize(static_cast<std::size_t>(C));
        std::memcpy(partial.data(), p, C * sizeof(Partial));
        p += C * sizeof(Partial);
      }
      for (std::size_t k = 0; k < arrays.size(); ++k) {
        for (const auto& [lo, hi] : nodes[q].cut) {
          auto& leaf = cut_rows[{lo, hi}];
          leaf.resize(arrays.size());
          const std::int64_t n = overlap(lo, hi, q) * rps * row;
          const auto* values = reinterpret_cast<const float*>(p);  // rank q's rows follow rank q - 1's
          leaf[k].insert(leaf[k].end(), values, values + n);
          p += n * static_cast<std::int64_t>(sizeof(float));
        }
      }
      offset += bytes[q];
    }
    for (const auto& [range, rows] : cut_rows) {
      // One leaf of at most kRowChunk rows: one block, as one process reduces it.
      std::vector<const float*> pointers;
      for (const auto& values : rows) pointers.push_back(values.data());
      NormPlan leaf = local;
      leaf.B = (range.second - range.first) * rps;
      std::vector<Partial>& partial = given[range];
      partial.resize(static_cast<std::size_t>(C));
      cut(pointers, leaf, partial.data());
    }
    LeafList order;
    std::vector<Partial> per_node;
    for (const auto& [range, partial] : given) {
      order.push_back(range);
      per_node.insert(per_node.end(), partial.begin(), partial.end());
    }
    kernels::merge_nodes(tree, order, 1, C, per_node.data(), out);
  }

  // Samples of [lo, hi) that rank q holds.
  std::int64_t overlap(std::int64_t lo, std::int64_t hi, int q) const {
    const std::int64_t first = first_of(q);
    return std::max<std::int64_t>(0, std::min(hi, first + counts_[q]) - std::max(lo, first));
  }

  Communicator& comm_;
  std::int64_t layer_;
  const char* phase_;
  std::vector<std::int64_t> counts_;
  kernels::BatchSlice slice_;
};

}  // namespace

void sync_batch_norm_forward(const BatchNormInputs& in, const BatchNormOptions& options,
                             const BatchNormForwardOutputs& out, Communicator& comm, std::int64_t layer) {
  if (!options.training) return batch_norm_forward(in, options, out);
  RankReduction reduction(comm, layer, "forward of SyncBatchNorm layer");
  kernels::batch_norm_forward_across(in, options, out, reduction);
}

BatchNormForwardResult sync_batch_norm_forward(const BatchNormInputs& in, const BatchNormOptions& options,
                                               Communicator& comm, std::int64_t layer) {
  if (!options.training) return batch_norm_forward(in, options);
  // Shapes from x when it is usable; a bad x is reported by the checked call
  // on every rank.
  const bool usable = in.x.defined() && in.x.dim() >= 2;
  const std::int64_t C = usable ? in.x.size(1) : 0;
  BatchNormForwardResult r{usable ? Tensor(in.x.shape(), DType::float32, in.x.memory_format()) : Tensor(),
                           Tensor({C}), Tensor({C}), {}, {}};
  sync_batch_norm_forward(in, options, {r.y, r.save_mean, r.save_invstd, {}, {}}, comm, layer);
  return r;
}

void sync_batch_norm_backward(const BatchNormBackwardInputs& in, const BatchNormOptions& options,
                              const BatchNormGrads& grads, Communicator& comm, std::int64_t layer) {
  if (!options.training) return batch_norm_backward(in, options, grads);
  RankReduction reduction(comm, layer, "backward of SyncBatchNorm layer");
  kernels::batch_norm_backward_across(in, options, grads, reduction);
}

BatchNormBackwardResult sync_batch_norm_backward(const BatchNormBackwardInputs& in,
                                                 const BatchNormOptions& options, Communicator& comm,
                                                 std::int64_t layer, BatchNormGradMask mask) {
  if (!options.training) return batch_norm_backward(in, options, mask);
  const bool usable = in.x.defined() && in.x.dim() >= 2;
  const std::int64_t C = usable ? in.x.size(1) : 0;
  BatchNormBackwardResult r;
  if (mask.input && usable) r.dx = Tensor(in.x.shape(), DType::float32, in.x.memory_format());
  if (mask.weight) r.dweight = Tensor({C});
  if (mask.bias) r.dbias = Tensor({C});
  sync_batch_norm_backward(in, options, {r.dx, r.dweight, r.dbias}, comm, layer);
  return r;
}

SyncBatchNorm::SyncBatchNorm(std::int64_t num_features, Communicator& comm, std::int64_t layer,
                             nn::BatchNormModuleOptions options)
    : nn::BatchNorm("SyncBatchNorm", num_features, options, 2, 8), comm_(comm), layer_(layer) {
  NORMKIT_CHECK(options.virtual_batch_size == 0, "SyncBatchNorm: virtual_batch_size: expected 0 (no Ghost BN), got ",
                options.virtual_batch_size);
  NORMKIT_CHECK(!options.renorm, "SyncBatchNorm: renorm: expected none (no Batch Renorm)");
}

// As torch.nn.SyncBatchNorm, only a module in training mode synchronizes: in
// eval mode without running statistics, each rank uses its own batch.
BatchNormForwardResult SyncBatchNorm::run_forward(const BatchNormInputs& in, const BatchNormOptions& options) {
  synchronized_ = is_training();
  if (!synchronized_) return nn::BatchNorm::run_forward(in, options);
  const double before = comm_.seconds_in_collectives();
  BatchNormForwardResult result = sync_batch_norm_forward(in, options, comm_, layer_);
  seconds_ += comm_.seconds_in_collectives() - before;
  return result;
}

BatchNormBackwardResult SyncBatchNorm::run_backward(const BatchNormBackwardInputs& in,
                                                    const BatchNormOptions& options, BatchNormGradMask mask) {
  if (!synchronized_) return nn::BatchNorm::run_backward(in, options, mask);
  const double before = comm_.seconds_in_collectives();
  BatchNormBackwardResult result = sync_batch_norm_backward(in, options, comm_, layer_, mask);
  seconds_ += comm_.seconds_in_collectives() - before;
  return result;
}

std::int64_t convert_sync_batchnorm(nn::Layer& model, Communicator& comm, std::int64_t first_layer) {
  std::int64_t next = first_layer;
  model.convert_children([&](nn::Layer& layer) -> std::unique_ptr<nn::Layer> {
    auto* bn = dynamic_cast<nn::BatchNorm*>(layer.name() == "SyncBatchNorm" ? nullptr : &layer);
    if (bn == nullptr) return nullptr;
    std::unique_ptr<SyncBatchNorm> sync;
    if (dynamic_cast<nn::TokenBatchNorm*>(bn) != nullptr)
      sync = std::make_unique<SyncTokenBatchNorm>(bn->num_features(), comm, next++, bn->options());
    else
      sync = std::make_unique<SyncBatchNorm>(bn->num_features(), comm, next++, bn->options());
    sync->load_state_dict(bn->state_dict());
    sync->train(bn->is_training());
    return sync;
  });
  return next - first_layer;
}

}  // namespace normkit::dist
