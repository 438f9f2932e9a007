// normkit selftest sync: on the user's own MPI setup, Synchronized BN over
// the ranks of mpirun against one process holding the whole batch, bit for
// bit, for a fixed seeded batch split unevenly (one rank empty from three
// ranks on). Ends with one line "digest=<sha256>" of the whole batch's
// outputs, running statistics and gradients: the same for every rank count.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "commands.hpp"
#include "options.hpp"
#include "distributed.hpp"

#ifdef NORMKIT_HAS_MPI
#include <openssl/evp.h>

#include "normkit/dist/sync_batch_norm.hpp"
#include "normkit/nn/activation.hpp"
#include "normkit/nn/init.hpp"
#include "normkit/nn/sequential.hpp"
#endif

namespace normkit::cli {

namespace {

#ifndef NORMKIT_HAS_MPI

int selftest_sync(const std::string&) {
  std::fprintf(stderr, "normkit selftest: %s\n", without_mpi_message("Synchronized BN").c_str());
  return 2;
}

#else

struct Case {
  const char* name;
  Shape shape;  // the whole batch's
  MemoryFormat format;
  double mean;  // of the data
};

// Rank r holds samples [b_r, b_{r+1}) with b_r = N r^2 / R^2: uneven; from
// three ranks on, rank 1 holds none.
std::vector<std::int64_t> boundaries(std::int64_t N, int R) {
  std::vector<std::int64_t> b(R + 1);
  for (int r = 0; r <= R; ++r) b[r] = N * r * r / (std::int64_t{R} * R);
  if (R >= 3) b[2] = b[1];
  return b;
}

Tensor random_tensor(const Shape& shape, MemoryFormat format, double mean, std::uint64_t seed) {
  Tensor t(shape, DType::float32, format);
  nn::Generator gen(seed);
  float* p = t.data<float>();
  for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<float>(mean + gen.normal());
  return t;
}

// Samples [lo, hi) of t (both layouts keep a sample's values together).
Tensor samples(const Tensor& t, std::int64_t lo, std::int64_t hi) {
  Shape shape = t.view().shape();
  const std::int64_t per_sample = t.numel() / shape[0];
  shape[0] = hi - lo;
  Tensor out(shape, DType::float32, t.view().memory_format());
  std::memcpy(out.data<float>(), t.data<float>() + lo * per_sample, static_cast<std::size_t>((hi - lo) * per_sample) * 4);
  return out;
}

bool same_bits(const float* a, const float* b, std::int64_t n) { return std::memcmp(a, b, static_cast<std::size_t>(n) * 4) == 0; }

class Digest {
 public:
  Digest() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~Digest() { EVP_MD_CTX_free(ctx_); }
  void add(const float* p, std::int64_t n) { EVP_DigestUpdate(ctx_, p, static_cast<std::size_t>(n) * 4); }
  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, md, &len);
    std::string out;
    char buf[3];
    for (unsigned int i = 0; i < len; ++i) std::snprintf(buf, sizeof buf, "%02x", md[i]), out += buf;
    return out;
  }

 private:
  EVP_MD_CTX* ctx_;
};

// Every rank's slice of t (samples [b[q], b[q + 1]) on rank q), gathered in
// rank order: the whole batch.
std::vector<std::byte> gather_slices(dist::Communicator& comm, const Tensor& slice, std::int64_t per_sample,
                                     const std::vector<std::int64_t>& b) {
  std::vector<std::int64_t> bytes(comm.size());
  for (int q = 0; q < comm.size(); ++q) bytes[q] = (b[q + 1] - b[q]) * per_sample * 4;
  return comm.allgather(slice.data<float>(), bytes);
}

// The module: a model whose BatchNorms convert_sync_batchnorm turned into
// SyncBatchNorms, two training steps and one eval step on the ranks' slices,
// against the same model unconverted on the whole batch: outputs, input
// gradients, parameter gradients and the whole state. Returns the mismatches.
std::int64_t module_case(dist::Communicator& comm, Digest& digest) {
  const int R = comm.size(), me = comm.rank();
  const Shape shape{10, 4, 3, 3};
  const std::vector<std::int64_t> b = boundaries(shape[0], R);
  const std::int64_t per_sample = 4 * 3 * 3, numel = shape_numel(shape);
  auto model = [] {
    auto m = std::make_unique<nn::Sequential>();
    m->add(std::make_unique<nn::BatchNorm2d>(4));
    m->add(std::make_unique<nn::ReLU>());
    m->add(std::make_unique<nn::BatchNorm2d>(4, nn::BatchNormModuleOptions{.momentum = std::nullopt}));
    return m;
  };
  auto one = model(), ranks = model();
  const std::int64_t converted = dist::convert_sync_batchnorm(*ranks, comm, 1000);
  std::int64_t mismatches = converted == 2 ? 0 : 1;
  for (int step = 0; step < 3; ++step) {
    const bool training = step < 2;
    one->train(training);
    ranks->train(training);
    const Tensor x = random_tensor(shape, MemoryFormat::contiguous, 3, 100 + step);
    const Tensor dy = random_tensor(shape, MemoryFormat::contiguous, 0, 200 + step);
    const Tensor y_one = one->forward(x), dx_one = one->backward(dy);
    const Tensor y = ranks->forward(samples(x, b[me], b[me + 1]));
    const Tensor dx = ranks->backward(samples(dy, b[me], b[me + 1]));
    const std::vector<std::byte> y_all = gather_slices(comm, y, per_sample, b);
    const std::vector<std::byte> dx_all = gather_slices(comm, dx, per_sample, b);
    bool equal = same_bits(reinterpret_cast<const float*>(y_all.data()), y_one.data<float>(), numel) &&
                 same_bits(reinterpret_cast<const float*>(dx_all.data()), dx_one.data<float>(), numel);
    digest.add(reinterpret_cast<const float*>(y_all.data()), numel);
    digest.add(reinterpret_cast<const float*>(dx_all.data()), numel);
    const nn::StateDict a = one->state_dict(), c = ranks->state_dict();
    for (std::size_t i = 0; i < a.size(); ++i) {
      const std::size_t bytes = static_cast<std::size_t>(a[i].second.numel()) * dtype_size(a[i].second.view().dtype());
      equal = equal && a[i].first == c[i].first &&
              std::memcmp(a[i].second.view().data<std::byte>(), c[i].second.view().data<std::byte>(), bytes) == 0;
    }
    // (In eval mode nothing is synchronized: each rank's parameter gradients
    // are its own slice's, as in PyTorch, for data-parallel training to sum.)
    const auto pa = one->parameters(), pc = ranks->parameters();
    for (std::size_t i = 0; training && i < pa.size(); ++i) {
      equal = equal && same_bits(pa[i]->grad.data<float>(), pc[i]->grad.data<float>(), pa[i]->grad.numel());
      digest.add(pc[i]->grad.data<float>(), pc[i]->grad.numel());
    }
    if (me == 0)
      std::printf("%-30s step %d  %s\n", training ? "SyncBatchNorm2d modules" : "SyncBatchNorm2d modules, eval", step,
                  equal ? "bit-identical to one process" : "DIFFERS from one process");
    mismatches += equal ? 0 : 1;
  }
  return mismatches;
}

int selftest_sync(const std::string& fault) {
  dist::Communicator& comm = dist::Communicator::world();
  const int R = comm.size(), me = comm.rank();
  const bool faulty = R > 1 && me == R - 1;  // the last rank always holds samples
  const std::vector<Case> cases = {
      {"(11, 7, 5, 6) contiguous", {11, 7, 5, 6}, MemoryFormat::contiguous, 0.5},
      {"(11, 7, 3, 4) channels-last", {11, 7, 3, 4}, MemoryFormat::channels_last, -1.0},
      {"(300, 33)", {300, 33}, MemoryFormat::contiguous, 2.0},
      {"(9, 3) at mean 1e4", {9, 3}, MemoryFormat::contiguous, 1e4},
  };
  Digest digest;
  std::int64_t mismatches = 0;
  std::int64_t layer = 0;
  for (std::size_t k = 0; k < cases.size(); ++k) {
    const Case& c = cases[k];
    const std::int64_t N = c.shape[0], C = c.shape[1];
    const std::vector<std::int64_t> b = boundaries(N, R);
    const Tensor x = random_tensor(c.shape, c.format, c.mean, 11 + k), dy = random_tensor(c.shape, c.format, 0, 23 + k);
    const Tensor weight = random_tensor({C}, MemoryFormat::contiguous, 1, 37 + k);
    const Tensor bias = random_tensor({C}, MemoryFormat::contiguous, 0, 41 + k);
    Tensor whole_mean = Tensor::zeros({C}), whole_var = Tensor::full({C}, 1.0f);
    Tensor mean = Tensor::zeros({C}), var = Tensor::full({C}, 1.0f);
    const Tensor my_x = samples(x, b[me], b[me + 1]), my_dy = samples(dy, b[me], b[me + 1]);
    const BatchNormOptions options{.training = true, .momentum = 0.1, .eps = 1e-5};
    for (int step = 0; step < 2; ++step, ++layer) {  // twice: the running statistics move on
      // One process with the whole batch.
      const BatchNormForwardResult one = batch_norm_forward({x, weight, bias, whole_mean, whole_var}, options);
      const BatchNormBackwardResult one_grad =
          batch_norm_backward({dy, x, weight, {}, {}, one.save_mean, one.save_invstd}, options);
      // The ranks, each with its slice.
      Tensor w = weight, fbias = bias, fx = my_x, fdy = my_dy, fmean = mean, fvar = var;
      if (faulty && fault == "error") w = Tensor::zeros({C + 1});
      if (faulty && fault == "mismatch") {  // one channel more, and parameters to match
        Shape shape = my_x.view().shape();
        shape[1] += 1;
        fx = fdy = random_tensor(shape, c.format, 0, 5);
        w = fbias = fmean = fvar = Tensor::full({C + 1}, 1.0f);
      }
      if (faulty && fault == "skip" && k == 1 && step == 0) continue;  // skips this layer
      if (faulty && fault == "kill" && k == 1) std::raise(SIGKILL);
      if (faulty && fault == "stall" && k == 1) std::this_thread::sleep_for(std::chrono::hours(1));
      const BatchNormForwardResult sync = dist::sync_batch_norm_forward({fx, w, fbias, fmean, fvar}, options, comm, layer);
      const BatchNormBackwardResult sync_grad =
          dist::sync_batch_norm_backward({fdy, fx, w, {}, {}, sync.save_mean, sync.save_invstd}, options, comm, layer);
      const std::vector<std::byte> y_all = gather_slices(comm, sync.y, x.numel() / N, b);
      const std::vector<std::byte> dx_all = gather_slices(comm, sync_grad.dx, x.numel() / N, b);
      const auto* y = reinterpret_cast<const float*>(y_all.data());
      const auto* dx = reinterpret_cast<const float*>(dx_all.data());
      bool equal = same_bits(y, one.y.data<float>(), x.numel()) && same_bits(dx, one_grad.dx.data<float>(), x.numel());
      for (const auto& [p, q] : std::vector<std::pair<const Tensor*, const Tensor*>>{
               {&sync.save_mean, &one.save_mean}, {&sync.save_invstd, &one.save_invstd}, {&mean, &whole_mean},
               {&var, &whole_var}, {&sync_grad.dweight, &one_grad.dweight}, {&sync_grad.dbias, &one_grad.dbias}})
        equal = equal && same_bits(p->data<float>(), q->data<float>(), C);
      mismatches += equal ? 0 : 1;
      if (me == 0)
        std::printf("%-30s step %d  %s\n", c.name, step, equal ? "bit-identical to one process" : "DIFFERS from one process");
      digest.add(y, x.numel());
      digest.add(dx, x.numel());
      for (const Tensor* t : std::vector<const Tensor*>{&mean, &var, &sync_grad.dweight, &sync_grad.dbias})
        digest.add(t->data<float>(), C);
    }
  }
  mismatches += module_case(comm, digest);
  // Every rank's verdict (a rank's own comparison may differ only if the
  // ranks computed different bits, which is what this test looks for).
  const std::vector<std::vector<std::int64_t>> all = comm.agree({"selftest verdict", 0, {}, {mismatches}});
  std::int64_t total = 0;
  for (const auto& own : all) total += own[0];
  const std::string hex = digest.hex();
  if (me == 0) {
    std::printf("ranks=%d slices of N: ", R);
    const std::vector<std::int64_t> b = boundaries(100, R);
    for (int q = 0; q < R; ++q) std::printf("%s%lld%%", q ? " " : "", static_cast<long long>(b[q + 1] - b[q]));
    std::printf("\n%s\n", total == 0 ? "SyncBN over the ranks is bit-identical to one process"
                                     : "FAILED: SyncBN over the ranks differs from one process");
    std::printf("digest=%s\n", hex.c_str());
  }
  return total == 0 ? 0 : 1;
}

#endif

}  // namespace

Command add_selftest(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("selftest", "mpirun -np R normkit selftest sync: SyncBN against one process");
  sub->description(
      "mpirun -np R normkit selftest sync [--fault F]: checks that Synchronized BN over R ranks gives\n"
      "the bits of one process holding the whole batch (outputs, running statistics, gradients), and\n"
      "prints digest=<sha256> of them: the same for every R.");
  // What the command line sets, kept alive by the returned command.
  struct SelftestArgs {
    std::string what, fault;
  };
  auto args = std::make_shared<SelftestArgs>();
  add_choice(*sub, "WHAT", args->what, {"sync"}, "what to check: sync")->required();
  add_choice(*sub, "--fault", args->fault, {"mismatch", "skip", "error", "kill", "stall"},
             "for tests: make the last rank go wrong: mismatch (another channel count), skip (skips a\n"
             "layer), error (a bad weight), kill (dies), stall (stops calling collectives: the others end\n"
             "the job after NORMKIT_DIST_TIMEOUT seconds)");
  // (Without MPI, run_as_rank runs the body, which says that SyncBN is unavailable.)
  return {sub, [args] { return run_as_rank("selftest", [&] { return selftest_sync(args->fault); }); }};
}

}  // namespace normkit::cli
