// eval-bug: what forgetting eval() costs. A CNN with BN is trained, then
// evaluated in eval mode (running statistics) and in train mode at test batch
// sizes 1, 2, 8 and 32 (each test batch normalized by its own statistics, as
// a model left in training mode does; the running statistics are restored
// after each). Then the trained network is fine-tuned with batches of 2:
// with its BN layers left to train (batch statistics of 2 samples, running
// statistics updated from them) against with BN frozen (FrozenBatchNorm2d:
// the trained statistics and affine parameters fixed, as detection models
// fine-tune).
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "curves.hpp"
#include "normkit/nn/batch_norm.hpp"
#include "normkit/nn/frozen_batch_norm.hpp"
#include "normkit/nn/loss.hpp"
#include "report/table.hpp"

namespace normkit::lab {
namespace {

// Test accuracy with every layer in training mode, in batches of `batch`, as
// a table cell; an error (BatchNorm1d refuses one sample) is the cell.
std::string train_mode_accuracy(nn::Sequential& net, const io::LabelledImages& test, std::int64_t batch) {
  const nn::StateDict saved = net.state_dict();  // train mode updates the running statistics
  net.train();
  const std::int64_t n = test.labels.numel() / batch * batch;
  Shape shape = test.images.shape();
  shape[0] = batch;
  const std::int64_t per_image = test.images.numel() / test.labels.numel();  // the images are contiguous
  std::int64_t correct = 0;
  try {
    for (std::int64_t b0 = 0; b0 < n; b0 += batch) {
      const TensorView x(test.images.data<float>() + b0 * per_image, shape, contiguous_strides(shape), DType::float32);
      const TensorView y(test.labels.data<std::int64_t>() + b0, {batch}, {1}, DType::int64);
      correct += nn::softmax_cross_entropy(net.forward(x), y).correct;
    }
  } catch (const Error& e) {
    net.load_state_dict(saved);
    const std::string message = e.what();  // the first clause is enough for a table cell
    return "error: " + message.substr(0, message.find(", got"));
  }
  net.load_state_dict(saved);
  return report::cell("%.4f", static_cast<double>(correct) / static_cast<double>(n));
}

// Replaces every BatchNorm2d layer of the CNN by its frozen copy.
void freeze_batch_norm(nn::Sequential& net) {
  for (std::size_t i = 0; i < net.size(); ++i)
    if (const auto* bn = dynamic_cast<const nn::BatchNorm*>(&net[i])) net.replace(i, nn::FrozenBatchNorm2d::from(*bn));
}

}  // namespace

Section run_eval_bug(const Context& ctx) {
  Section s;
  const bool quick = ctx.options.quick;
  const io::LabelledImages test = first_images(ctx.data.test, ctx.test_images(quick ? 1024 : 10000));
  const std::int64_t pretrain_steps = quick ? 300 : 1800, finetune_steps = quick ? 150 : 1000;
  const RunSpec pretrain{.label = "eval-bug, cnn bn pre-training",
                         .model = "cnn",
                         .norm = "bn",
                         .train = {.batch_size = 64, .sgd = {.lr = 0.05, .momentum = 0.9}, .seed = ctx.options.seed,
                                   .limit = ctx.train_images(60000)},
                         .steps = pretrain_steps,
                         .eval_every = pretrain_steps,
                         .test_images = test.labels.numel()};
  Curve trained = train_curve(ctx, pretrain);
  nn::Sequential& net = *trained.net;
  const double eval_accuracy = train::evaluate(net, test).accuracy;
  // The MLP too: its BatchNorm1d has no spatial extent, so a test batch's
  // statistics come from its few samples alone.
  const std::int64_t mlp_steps = quick ? 1000 : 5000;
  Curve mlp = train_curve(ctx, {.label = "eval-bug, mlp bn pre-training",
                                .model = "mlp",
                                .norm = "bn",
                                .train = {.batch_size = 60, .sgd = {.lr = 0.5, .momentum = 0.0}, .seed = ctx.options.seed,
                                          .limit = ctx.train_images(60000)},
                                .steps = mlp_steps,
                                .eval_every = mlp_steps,
                                .test_images = test.labels.numel()});

  report::Table modes({"evaluated in", "test batch", "CNN (BatchNorm2d)", "MLP (BatchNorm1d)"});
  const double mlp_eval_accuracy = train::evaluate(*mlp.net, test).accuracy;
  modes.add({"eval mode (running statistics)", "any", report::cell("%.4f", eval_accuracy),
             report::cell("%.4f", mlp_eval_accuracy)});
  double mlp_batch_2 = NAN;  // the MLP's accuracy in train mode at test batch 2
  for (const std::int64_t batch : {1, 2, 8, 32}) {
    const std::string mlp_cell = train_mode_accuracy(*mlp.net, test, batch);
    if (batch == 2) mlp_batch_2 = std::strtod(mlp_cell.c_str(), nullptr);
    modes.add({"train mode (forgot eval())", std::to_string(batch), train_mode_accuracy(net, test, batch), mlp_cell});
  }
  modes.write_csv(ctx.path("eval_bug_modes.csv"));
  if (ctx.progress) ctx.progress("eval-bug: evaluated in eval and train mode");

  // Fine-tuning at batch 2, from the same trained weights.
  const nn::StateDict trained_state = net.state_dict();
  report::Table finetune({"fine-tuning with batch 2", "test accuracy before", "after " + std::to_string(finetune_steps) + " steps"});
  report::Table finetune_csv({"bn", "steps", "test_accuracy"});
  double finetuned[2] = {0, 0};  // test accuracy after fine-tuning: BN training, BN frozen
  for (const bool frozen : {false, true}) {
    nn::Generator gen(ctx.options.seed);
    const auto model = train::make_model("cnn", "bn", gen);
    model->load_state_dict(trained_state);
    if (frozen) freeze_batch_norm(*model);
    train::Trainer tuner(*model, ctx.data.train,
                         {.epochs = 1, .batch_size = 2, .sgd = {.lr = 0.005, .momentum = 0.9}, .seed = ctx.options.seed + 1,
                          .limit = ctx.train_images(60000)});
    for (std::int64_t step = 0; step < finetune_steps; ++step) tuner.step();
    const double after = train::evaluate(*model, test).accuracy;
    finetuned[frozen] = after;
    const char* label = frozen ? "BN frozen (FrozenBatchNorm2d)" : "BN training (batch statistics of 2)";
    finetune.add({label, report::cell("%.4f", eval_accuracy), report::cell("%.4f", after)});
    finetune_csv.add({frozen ? "frozen" : "training", std::to_string(finetune_steps), report::cell("%.4f", after)});
    if (ctx.progress) ctx.progress(std::string("eval-bug: fine-tuned with ") + label);
  }
  finetune_csv.write_csv(ctx.path("eval_bug_finetune.csv"));
  // The claims: forgetting eval() costs the MLP's BatchNorm1d at test batch 2;
  // at batch 2, fine-tuning with BN frozen ends better than with BN training.
  // One claim a statement: their order is the text's (operands of + are unsequenced).
  std::string agreement =
      s.claim("forgetting eval() ruins BN at small test batches", mlp_eval_accuracy - mlp_batch_2) +
      "the MLP with BatchNorm1d scores " + report::cell("%.4f", mlp_batch_2) + " in train mode at test batch 2 "
      "against " + report::cell("%.4f", mlp_eval_accuracy) + " in eval mode.\n\n";
  agreement += s.claim("freeze BN when fine-tuning with tiny batches", finetuned[1] - finetuned[0]) + "fine-tuned at batch 2, BN frozen ends at " +
      report::cell("%.4f", finetuned[1]) + " and BN training at " + report::cell("%.4f", finetuned[0]) + " (" +
      report::cell("%+.4f", finetuned[1] - finetuned[0]) + "; the practice: freeze BN when batches are this small).\n\n";

  s.printed = "eval-bug: a CNN with BN after " + std::to_string(pretrain_steps) + " steps of batch 64, an MLP with BN after " +
              std::to_string(mlp_steps) + " of batch 60\n" + modes.text() +
              "\n" + finetune.text() + agreement;
  s.markdown = "## eval-bug: forgetting eval(), and fine-tuning with frozen BN\n\n"
               "A CNN with BN trained for " + std::to_string(pretrain_steps) + " steps of batch 64 (SGD lr 0.05, "
               "momentum 0.9) and the sigmoid MLP with BN trained for " + std::to_string(mlp_steps) + " steps of "
               "batch 60 (SGD lr 0.5), evaluated on " + std::to_string(test.labels.numel()) + " test images in eval mode "
               "and, as if eval() were forgotten, in train mode, where every test batch is normalized by its own "
               "statistics (the running statistics restored after each batch size):\n\n" + modes.markdown() +
               "\nThen fine-tuned for " + std::to_string(finetune_steps) + " steps with batches of 2 (lr 0.005, "
               "momentum 0.9) from the same weights, with BN training against BN frozen "
               "(torchvision's FrozenBatchNorm2d: fixed statistics and affine parameters):\n\n" +
               finetune.markdown() + "\n" + agreement +
               "What BN's definition predicts: in train mode a prediction depends on the rest of its test batch; "
               "BatchNorm2d at batch 1 normalizes each image by its own spatial statistics (as InstanceNorm), "
               "BatchNorm1d cannot run on one sample at all (PyTorch's error, reproduced) and at 2 samples maps "
               "every feature to about +-1; BN statistics of 2 samples are noise, which is why detection models "
               "fine-tune with frozen BN. Data: eval_bug_modes.csv, "
               "eval_bug_finetune.csv.\n\n";
  return s;
}

}  // namespace normkit::lab
