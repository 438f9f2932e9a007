// normkit selftest sync: on the user's own MPI setup, Synchronized BN over
// the ranks of mpirun against one process holding the whole batch, bit for
// bit, for a fixed seeded batch split unevenly (one rank empty from three
// ranks on). Ends with one line "digest=<sha256>" of the whole batch's
// outputs, running statistics and gradients: the same for every rank count.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "commands.hpp"

#ifdef NORMKIT_HAS_MPI
#include <openssl/evp.h>

#include "normkit/dist/sync_batch_norm.hpp"
#include "normkit/nn/init.hpp"
#endif

namespace normkit::cli {

#ifndef NORMKIT_HAS_MPI

int run_selftest(int, char**) {
  std::fprintf(stderr,
               "normkit selftest: this normkit was built without MPI: Synchronized BN is unavailable "
               "(install libopenmpi-dev and openmpi-bin, then rebuild)\n");
  return 2;
}

#else

namespace {

void usage(std::FILE* out) {
  std::fprintf(out,
               "usage: mpirun -np R normkit selftest sync [--fault F]\n"
               "\n"
               "Checks that Synchronized BN over R ranks gives the bits of one process\n"
               "holding the whole batch (outputs, running statistics, gradients), and\n"
               "prints digest=<sha256> of them: the same for every R.\n"
               "\n"
               "  --fault F  for tests: make the last rank go wrong, F = mismatch (another channel\n"
               "             count), skip (skips a layer), error (a bad weight), kill (dies)\n");
}

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
      const BatchNormForwardResult sync = dist::sync_batch_norm_forward({fx, w, fbias, fmean, fvar}, options, comm, layer);
      const BatchNormBackwardResult sync_grad =
          dist::sync_batch_norm_backward({fdy, fx, w, {}, {}, sync.save_mean, sync.save_invstd}, options, comm, layer);
      // Every rank's slices, gathered in order: the whole batch.
      const std::int64_t per_sample = x.numel() / N;
      std::vector<std::int64_t> bytes(R);
      for (int q = 0; q < R; ++q) bytes[q] = (b[q + 1] - b[q]) * per_sample * 4;
      const std::vector<std::byte> y_all = comm.allgather(sync.y.data<float>(), bytes);
      const std::vector<std::byte> dx_all = comm.allgather(sync_grad.dx.data<float>(), bytes);
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

}  // namespace

int run_selftest(int argc, char** argv) {
  std::string what, fault;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      usage(stdout);
      return 0;
    } else if (arg == "--fault" && i + 1 < argc) {
      fault = argv[++i];
      if (fault != "mismatch" && fault != "skip" && fault != "error" && fault != "kill") {
        std::fprintf(stderr, "normkit selftest: --fault: expected mismatch, skip, error or kill, got '%s'\n", fault.c_str());
        return 2;
      }
    } else if (what.empty() && arg[0] != '-') {
      what = arg;
    } else {
      std::fprintf(stderr, "normkit selftest: unknown argument '%s'\n", arg.c_str());
      usage(stderr);
      return 2;
    }
  }
  if (what != "sync") {
    usage(stderr);
    return 2;
  }
  try {
    return selftest_sync(fault);
  } catch (const dist::RankError& e) {  // raised on every rank together: end normally
    std::fprintf(stderr, "normkit selftest: rank %d: error: %s\n", dist::Communicator::world().rank(), e.what());
    return 3;
  } catch (const std::exception& e) {  // this rank only: the others would wait
    dist::Communicator::world().abort(std::string("error: ") + e.what());
  }
}

#endif

}  // namespace normkit::cli
