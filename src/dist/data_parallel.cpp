// Data-parallel training: the block sums of Conv2d and Linear across ranks
// (the whole batch's tree of blocks, as SyncBN's slice reduction does for
// samples), the rank-order sum of the other gradients, and the sharing of
// parameters, buffers and results.
#include "normkit/dist/data_parallel.hpp"

#include <algorithm>
#include <cstring>
#include <set>
#include <string>

#include "kernels/slice_reduce.hpp"
#include "nn/fixed_blocks.hpp"
#include "normkit/dist/sync_batch_norm.hpp"
#include "normkit/error.hpp"

namespace normkit::dist {
namespace {

using kernels::LeafList;
using kernels::SampleTree;

// Every rank's values (counts[q] of them from rank q), rank after rank.
template <typename T>
std::vector<T> allgather_values(Communicator& comm, const T* mine, const std::vector<std::int64_t>& counts) {
  std::vector<std::int64_t> bytes;
  for (const std::int64_t c : counts) bytes.push_back(c * static_cast<std::int64_t>(sizeof(T)));
  const std::vector<std::byte> all = comm.allgather(mine, bytes);
  std::vector<T> out(all.size() / sizeof(T));
  if (!all.empty()) std::memcpy(out.data(), all.data(), all.size());  // empty vectors' data() may be null
  return out;
}

// out[i] = the sum over ranks, in rank order, of every rank's `count` values.
void sum_in_rank_order(Communicator& comm, const float* mine, std::int64_t count, float* out) {
  const std::vector<float> all =
      allgather_values(comm, mine, std::vector<std::int64_t>(static_cast<std::size_t>(comm.size()), count));
  std::copy_n(all.data(), count, out);
  for (int q = 1; q < comm.size(); ++q)
    for (std::int64_t i = 0; i < count; ++i) out[i] += all[static_cast<std::size_t>(q * count + i)];
}

// Rank 0's values of the model's state tensors (only its buffers, when
// buffers_only) on every rank.
void broadcast_state(nn::Sequential& model, Communicator& comm, bool buffers_only, const char* operation) {
  std::set<std::string> parameters;
  if (buffers_only)
    for (const auto& [key, p] : model.named_parameters()) parameters.insert(key);
  std::vector<Tensor*> tensors;
  for (const auto& [key, copy] : model.state_dict())
    if (parameters.count(key) == 0) tensors.push_back(model.find_tensor(key));
  comm.agree({operation, 0, {{"tensors", static_cast<std::int64_t>(tensors.size())}}, {}});
  for (Tensor* t : tensors)
    comm.broadcast(t->view().raw(), t->numel() * static_cast<std::int64_t>(dtype_size(t->dtype())));
}

// Calls visit(layer) for every layer below `model`, depth first in order.
template <typename Visit>
void for_each_layer(nn::Layer& model, Visit visit) {
  model.convert_children([&](nn::Layer& layer) -> std::unique_ptr<nn::Layer> {
    visit(layer);
    return nullptr;  // keep it, and look inside
  });
}

}  // namespace

// The block sum of one Conv2d or Linear layer across ranks. When every
// rank's samples are whole blocks (the last rank with samples aside), the
// ranks' blocks are the whole batch's blocks: each rank sums the largest
// nodes of the whole batch's tree of blocks inside its slice, and every rank
// merges all ranks' nodes in that tree: the bits of one process. Otherwise
// (a block cut between ranks) each rank sums its blocks, and the ranks'
// sums are added in rank order.
class DataParallel::RankBlockSum final : public nn::BlockGradientSum {
 public:
  RankBlockSum(Communicator& comm, std::int64_t layer) : comm_(comm), layer_(layer) {}

  void sum(const char* layer, std::int64_t samples, std::int64_t count, const float* partials, float* out) override {
    const std::vector<std::vector<std::int64_t>> own =
        comm_.agree({std::string(layer) + " gradient sum", layer_, {{"values", count}}, {samples}});
    const int ranks = comm_.size(), me = comm_.rank();
    std::vector<std::int64_t> blocks, first;  // per rank: its blocks, and the whole batch's index of its first
    std::int64_t total = 0;
    int last_with_samples = -1;
    for (int q = 0; q < ranks; ++q) {
      blocks.push_back(nn::block_count(own[q][0], nn::kSamplesPerBlock));
      first.push_back(total);
      total += blocks.back();
      if (own[q][0] > 0) last_with_samples = q;
    }
    bool whole_blocks = true;
    for (int q = 0; q < last_with_samples; ++q) whole_blocks = whole_blocks && own[q][0] % nn::kSamplesPerBlock == 0;
    if (!whole_blocks) {
      std::vector<float> mine(static_cast<std::size_t>(count));
      nn::sum_block_tree(blocks[me], count, partials, mine.data());
      sum_in_rank_order(comm_, mine.data(), count, out);
      return;
    }
    const SampleTree tree = SampleTree::one_leaf_per_sample(total);
    std::vector<LeafList> nodes;  // per rank: the largest nodes inside its blocks
    std::vector<std::int64_t> values;
    for (int q = 0; q < ranks; ++q) {
      nodes.push_back(kernels::slice_nodes(tree, first[q], blocks[q]).whole);
      values.push_back(static_cast<std::int64_t>(nodes.back().size()) * count);
    }
    std::vector<float> mine(static_cast<std::size_t>(values[me]));
    for (std::size_t i = 0; i < nodes[me].size(); ++i) {
      const auto [lo, hi] = nodes[me][i];
      kernels::merge_given(tree, tree.leaf_test(), lo, hi, 1, hi - lo, count, partials + (lo - first[me]) * count,
                           mine.data() + static_cast<std::int64_t>(i) * count);
    }
    const std::vector<float> all = allgather_values(comm_, mine.data(), values);
    LeafList every;
    for (const LeafList& n : nodes) every.insert(every.end(), n.begin(), n.end());
    kernels::merge_nodes(tree, every, 1, count, all.data(), out);
  }

 private:
  Communicator& comm_;
  std::int64_t layer_;
};

DataParallel::DataParallel(nn::Sequential& model, Communicator& comm, DataParallelOptions options)
    : model_(model), comm_(comm), seconds_before_(comm.seconds_in_collectives()) {
  if (options.sync_batch_norm) convert_sync_batchnorm(model, comm);
  std::set<const nn::Parameter*> whole_batch;  // gradients that are already the whole batch's
  for_each_layer(model, [&](nn::Layer& layer) {
    if (auto* blocked = dynamic_cast<nn::BlockGradientLayer*>(&layer)) {
      block_sums_.push_back(std::make_unique<RankBlockSum>(comm, static_cast<std::int64_t>(block_sums_.size())));
      blocked->set_block_gradient_sum(block_sums_.back().get());
      blocked_layers_.push_back(blocked);
    } else if (const auto* sync = dynamic_cast<const SyncBatchNorm*>(&layer)) {
      sync_layers_.push_back(sync);
    } else {
      return;
    }
    for (const nn::Parameter* p : layer.parameters()) whole_batch.insert(p);
  });
  for (nn::Parameter* p : model.parameters())
    if (whole_batch.count(p) == 0) per_rank_.push_back(p);
  broadcast_state(model, comm, false, "DataParallel start");  // every rank starts from rank 0's model
}

DataParallel::~DataParallel() {
  for (nn::BlockGradientLayer* layer : blocked_layers_) layer->set_block_gradient_sum(nullptr);
}

std::pair<std::int64_t, std::int64_t> DataParallel::slice(std::int64_t batch, int part) const {
  const std::int64_t ranks = comm_.size(), blocks = nn::block_count(batch, nn::kSamplesPerBlock);
  if (blocks >= ranks) {
    const std::int64_t first = blocks * part / ranks * nn::kSamplesPerBlock;
    const std::int64_t end = std::min(batch, blocks * (part + 1) / ranks * nn::kSamplesPerBlock);
    return {first, end - first};
  }
  const std::int64_t first = batch * part / ranks, end = batch * (part + 1) / ranks;
  return {first, end - first};
}

void DataParallel::finish_gradients() {
  std::int64_t count = 0;
  for (const nn::Parameter* p : per_rank_) count += p->grad.numel();
  comm_.agree({"DataParallel gradient sum", 0, {{"values", count}}, {}});
  if (count == 0) return;
  std::vector<float> mine, sum(static_cast<std::size_t>(count));
  mine.reserve(static_cast<std::size_t>(count));
  for (const nn::Parameter* p : per_rank_) mine.insert(mine.end(), p->grad.data<float>(), p->grad.data<float>() + p->grad.numel());
  sum_in_rank_order(comm_, mine.data(), count, sum.data());
  const float* next = sum.data();
  for (nn::Parameter* p : per_rank_) {
    std::copy_n(next, p->grad.numel(), p->grad.data<float>());
    next += p->grad.numel();
  }
}

void DataParallel::share_buffers() { broadcast_state(model_, comm_, true, "DataParallel buffers"); }

std::vector<double> DataParallel::gather(const std::vector<double>& mine) {
  const std::vector<std::vector<std::int64_t>> own =
      comm_.agree({"DataParallel gather", 0, {}, {static_cast<std::int64_t>(mine.size())}});
  std::vector<std::int64_t> counts;
  for (const auto& o : own) counts.push_back(o[0]);
  return allgather_values(comm_, mine.data(), counts);
}

train::BatchShare::Communication DataParallel::communication() const {
  Communication c{comm_.seconds_in_collectives() - seconds_before_, 0};
  for (const SyncBatchNorm* layer : sync_layers_) c.sync_batch_norm += layer->seconds_in_collectives();
  return c;
}

}  // namespace normkit::dist
