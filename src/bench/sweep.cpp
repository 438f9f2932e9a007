#include "sweep.hpp"

#include <fstream>
#include <random>
#include <sstream>

#include "harness.hpp"
#include "normkit/normkit.hpp"
#include "report/gnuplot.hpp"

namespace normkit::bench {
namespace {

Tensor filled(const Shape& shape) {
  Tensor t(shape);
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.5f, 2.0f);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

}  // namespace

std::string run_sweep(const std::vector<Peer*>& peers, int threads, const std::string& dir, bool quick) {
  std::ofstream csv(dir + "/sweep.csv");
  csv << "op,bytes,impl,median_ms,gbps\n";
  const std::vector<std::int64_t> batch = quick ? std::vector<std::int64_t>{1, 4}
                                                : std::vector<std::int64_t>{1, 2, 4, 8, 16, 32, 64, 128};
  for (Peer* peer : peers) peer->set_num_threads(threads);
  for (std::int64_t n : batch) {
    // BatchNorm: (n, 64, 28, 28), 200 KiB per sample; LayerNorm: (n * 64, 768).
    for (int op = 0; op < 2; ++op) {
      const Shape shape = op == 0 ? Shape{n, 64, 28, 28} : Shape{n * 64, 768};
      const std::string name = op == 0 ? "BatchNorm train fwd NCHW" : "LayerNorm fwd";
      auto x = std::make_shared<Tensor>(filled(shape));
      auto y = std::make_shared<Tensor>(shape);
      auto s1 = std::make_shared<Tensor>(Shape{op == 0 ? 64 : n * 64, 1});
      auto s2 = std::make_shared<Tensor>(Shape{op == 0 ? 64 : n * 64, 1});
      Case c{.op = name, .min_bytes = 2 * x->numel() * 4, .working_set = 2 * x->numel() * 4};
      if (op == 0) {
        c.impls.push_back({"normkit", [=] {
                             batch_norm_forward({*x}, {}, {*y, TensorView(s1->data<float>(), {64}),
                                                          TensorView(s2->data<float>(), {64})});
                           }});
      } else {
        c.impls.push_back({"normkit", [=] { layer_norm_forward({*x, {768}}, {}, {*y, *s1, *s2}); }});
      }
      const PeerCase pc{.op = op == 0 ? "bn_train_fwd" : "ln_fwd",
                        .shape = shape.data(),
                        .rank = static_cast<int>(shape.size()),
                        .x = x->data<float>(),
                        .y = y->data<float>()};
      for (Peer* peer : peers)
        if (auto run = peer->prepare(pc)) c.impls.push_back({peer->name(), std::move(run)});
      const Row row = time_case(c, threads, 5, quick ? 0.02 : 0.15);
      for (const Timing& t : row.timings)
        csv << name << ',' << c.min_bytes << ',' << t.impl << ',' << t.median_ms << ',' << t.gbps << '\n';
      // The limit at this size: the copy bandwidth of the same working set.
      const double copy = copy_bandwidth_gbps(c.working_set);
      csv << name << ',' << c.min_bytes << ",copy," << static_cast<double>(c.min_bytes) / copy / 1e6 << ',' << copy
          << '\n';
    }
  }
  csv.close();
  // One panel per op: GB/s against bytes, one line per implementation, and the limit.
  std::ostringstream gp;
  gp << report::png_preamble(dir + "/sweep.png", 1100, 450) << "set logscale x 2\nset format x '%.0s%cB'\n"
     << "set key bottom right\nset yrange [0:*]\n"
     << "set xlabel 'bytes read + written (minimum)'\nset ylabel 'effective GB/s'\n"
     << "set multiplot layout 1,2\n";
  for (const char* op : {"BatchNorm train fwd NCHW", "LayerNorm fwd"}) {
    gp << "set title '" << op << ", " << threads << " threads'\n"
       << "plot '" << dir << "/sweep.csv' using ((strcol(1) eq '" << op
       << "' && strcol(3) eq 'copy') ? $2 : 1/0):5 smooth unique title 'copy bandwidth at that size' with lines "
          "dashtype 2 lc rgb 'black'";
    std::vector<std::string> impls{"normkit"};
    for (Peer* p : peers) impls.push_back(p->name());
    for (const std::string& impl : impls)
      gp << ", '" << dir << "/sweep.csv' using ((strcol(1) eq '" << op << "' && strcol(3) eq '" << impl
         << "') ? $2 : 1/0):5 smooth unique title '" << impl << "' with linespoints";
    gp << "\n";
  }
  gp << "unset multiplot\n";
  const std::string failure = report::run_gnuplot(dir + "/sweep.gp", gp.str());
  if (!failure.empty()) return "size sweep: " + dir + "/sweep.csv (no plot: " + failure + ")";
  return "size sweep: " + dir + "/sweep.csv and " + dir + "/sweep.png";
}

}  // namespace normkit::bench
