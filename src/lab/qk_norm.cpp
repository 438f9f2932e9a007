// qk-norm: Dehghani et al. 2023 (ViT-22B) saw attention logits grow without
// bound and training diverge, and normalized each head's queries and keys
// with LayerNorm before their dot product; Wortsman et al. 2023 reproduced
// the logit growth in small models at high learning rates and showed that
// QK-norm removes it. Measured: the lab's ViT with and without QK-norm over
// a learning-rate grid without warm-up: the largest attention logit during
// training, the final accuracy, and which runs stay stable.
#include <cstdio>

#include "report/gnuplot.hpp"
#include "report/table.hpp"
#include "vit_runs.hpp"

namespace normkit::lab {

Section run_qk_norm(const Context& ctx) {
  Section s;
  const bool quick = ctx.options.quick;
  const std::vector<double> grid = quick ? std::vector<double>{3e-3, 3e-2}
                                         : std::vector<double>{1e-3, 3e-3, 1e-2, 3e-2, 1e-1};
  const std::int64_t depth = quick ? 2 : 4, steps = quick ? 60 : 500, batch = 64, eval_every = quick ? 20 : 50;
  const std::int64_t test_images = ctx.test_images(quick ? 1000 : 2000);

  report::Table curves_csv({"qk_norm", "lr", "step", "train_loss", "test_accuracy", "max_logit"});
  report::Table runs({"QK-norm", "lr", "final test acc", "diverged at step", "largest attention logit", "stable"});
  struct Summary {
    double largest_stable_lr = 0;
    std::vector<double> top_logit;  // the largest logit over the run, per lr
  };
  Summary summary[2];
  for (int qk = 0; qk < 2; ++qk)
    for (const double lr : grid) {
      std::vector<double> logits;  // at each evaluation
      const Curve c = train_curve(
          ctx, {.label = std::string("qk-norm, ") + (qk ? "with" : "without") + " QK-norm lr=" + report::cell("%g", lr),
                .model = "vit",
                .norm = "ln",
                .model_options = lab_vit(depth, nn::NormPlacement::pre, qk == 1),
                .train = adamw_training(ctx, lr, batch, 0),
                .steps = steps,
                .eval_every = eval_every,
                .test_images = test_images,
                .observe = [&](nn::Sequential& net, std::int64_t) { logits.push_back(max_attention_logit(net)); }});
      double top = 0;
      for (std::size_t i = 0; i < c.points.size(); ++i) {
        const CurvePoint& p = c.points[i];
        top = std::max(top, logits[i]);
        curves_csv.add({qk ? "on" : "off", report::cell("%g", lr), std::to_string(p.step),
                        report::cell("%.5f", p.train_loss), report::cell("%.4f", p.test_accuracy),
                        report::cell("%.4g", logits[i])});
      }
      const bool stable = c.stable();
      runs.add({qk ? "on" : "off", report::cell("%g", lr), c.diverged() ? "-" : report::cell("%.4f", c.final_accuracy()),
                c.diverged() ? std::to_string(c.diverged_at) : "-", report::cell("%.4g", top), stable ? "yes" : "no"});
      if (stable) summary[qk].largest_stable_lr = std::max(summary[qk].largest_stable_lr, lr);
      summary[qk].top_logit.push_back(top);
    }
  curves_csv.write_csv(ctx.path("qk_norm.csv"));
  runs.write_csv(ctx.path("qk_norm_runs.csv"));

  const std::string file = ctx.report_file("qk_norm.csv");
  std::string gp = report::png_preamble(ctx.report_file("qk_norm.png"), 1200, 440);
  gp += "set multiplot layout 1,2\nset xlabel 'training steps'\nset key top left\nset logscale y 10\n"
        "set title 'largest attention logit (test batch)'\nplot ";
  for (int panel = 0; panel < 2; ++panel) {
    if (panel == 1) gp += "unset logscale y\nset yrange [0:1]\nset key bottom right\nset title 'test accuracy'\nplot ";
    bool first = true;
    for (const char* qk : {"off", "on"})
      for (const double lr : grid) {
        const std::string l = report::cell("%g", lr);
        gp += std::string(first ? "" : ", ") + "'" + file + "' using (strcol(1) eq '" + qk + "' && strcol(2) eq '" +
              l + "' ? $3 : 1/0):" + (panel ? "5" : "6") + " with linespoints lw 2 dt " + (qk[1] == 'n' ? "1" : "2") +
              " title 'QK-norm " + qk + ", lr " + l + "'";
        first = false;
      }
    gp += "\n";
  }
  gp += "unset multiplot\n";
  const std::string plot = s.plot("qk-norm", "qk_norm.png", ctx.report_file("qk_norm.gp"), gp);

  // The verdicts: at the largest learning rate, how far the logits grew
  // with and without; and which learning rates stayed stable.
  const auto lr_text = [](double lr) { return lr > 0 ? report::cell("%g", lr) : std::string("none"); };
  const double off_top = summary[0].top_logit.back(), on_top = summary[1].top_logit.back();
  std::string verdicts;
  verdicts += s.claim("without QK-norm attention logits grow (Dehghani et al.)", std::log(off_top / (2 * on_top))) + (
                      "at lr " + report::cell("%g", grid.back()) + " the largest attention logit reached " +
                          report::cell("%.4g", off_top) + " without QK-norm and " + report::cell("%.4g", on_top) +
                          " with it (the claim: without QK-norm the logits grow, with it they stay bounded; here: more than twice as large without).") + "\n\n";
  const double stable_ratio = lr_log_ratio(summary[1].largest_stable_lr, summary[0].largest_stable_lr, grid);
  verdicts += s.claim("QK-norm allows higher learning rates", stable_ratio) + (
                      "the largest stable learning rate without warm-up is " +
                          lr_text(summary[0].largest_stable_lr) + " without QK-norm and " +
                          lr_text(summary[1].largest_stable_lr) + " with it, log10 of their ratio " +
                          report::cell("%+.2f", stable_ratio) + " (the claim: QK-norm keeps training stable at higher learning rates).") + "\n\n";
  s.printed = "qk-norm: the ViT (" + std::to_string(depth) + " blocks, pre-norm LayerNorm), AdamW without warm-up, " +
              std::to_string(steps) + " steps at batch " + std::to_string(batch) + "\n" + runs.text() + verdicts;
  s.markdown =
      "## qk-norm: attention logit growth with and without QK-norm (Dehghani et al. 2023)\n\n"
      "The lab's pre-norm Vision Transformer (" + std::to_string(depth) + " blocks; 7x7 patches, 64 features, 4 "
      "heads of 16, MLP 128, LayerNorm) without and with QK-norm (LayerNorm over each head's 16 query and key "
      "features, one weight and bias shared by the heads, before q k^T / sqrt(16)). AdamW at a constant learning "
      "rate with no warm-up (weight decay 0.05 on weight matrices), batch " + std::to_string(batch) + ", " +
      std::to_string(steps) + " steps, the same seed; every " + std::to_string(eval_every) + " steps the test "
      "accuracy on " + std::to_string(test_images) + " test images and the largest |logit| over every block, "
      "head and token pair of the last test batch. Stable: finite loss below " + report::cell("%g", kDivergedLoss) +
      " and a final accuracy above " + report::cell("%.1f", kStableAccuracy) + ".\n\n" + runs.markdown() + "\n" +
      plot +
      "Published: ViT-22B's attention logits grew to tens of thousands and the loss diverged after a few "
      "thousand steps without QK-norm (Dehghani et al. 2023); Wortsman et al. 2023 (\"Small-scale proxies for "
      "large-scale Transformer training instabilities\") saw the same growth in small models once the learning "
      "rate is high, and QK-norm let them train at learning rates 10x higher with an unchanged final loss.\n\n" +
      verdicts + "Data: qk_norm.csv, qk_norm_runs.csv.\n\n";
  return s;
}

}  // namespace normkit::lab
