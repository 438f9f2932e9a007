// Bad input: a normkit::Error whose message names the argument, and nothing
// written (outputs and running statistics keep their previous bits).
#include "batch_norm_case.hpp"

namespace normkit::test {
namespace {

// Snapshot of every buffer a forward or backward call could write.
struct Snapshot {
  std::vector<std::vector<float>> buffers;
  explicit Snapshot(const std::vector<TensorView>& views) {
    for (const TensorView& v : views) buffers.push_back(v.defined() ? values(v) : std::vector<float>{});
  }
  bool operator==(const Snapshot& other) const {
    for (std::size_t i = 0; i < buffers.size(); ++i)
      if (!same_bits(buffers[i], other.buffers[i])) return false;
    return true;
  }
};

// Runs `call`, expects an Error containing every fragment, and no writes.
template <typename Call>
void expect_error(const std::vector<TensorView>& written, Call call,
                  const std::vector<std::string>& fragments) {
  const Snapshot before(written);
  try {
    call();
    ADD_FAILURE() << "no error; expected one mentioning '" << fragments[0] << "'";
  } catch (const Error& e) {
    for (const std::string& f : fragments)
      EXPECT_NE(std::string(e.what()).find(f), std::string::npos)
          << "message '" << e.what() << "' lacks '" << f << "'";
  }
  EXPECT_TRUE(Snapshot(written) == before) << "a failing call wrote to an output";
}

class BatchNormErrors : public ::testing::Test {
 protected:
  BatchNormCase c{.shape = {4, 3, 5}};
  BatchNormRun run{c};
  std::vector<TensorView> written() const {
    return {run.y.view, run.save_mean, run.save_invstd, run.running_mean, run.running_var};
  }
  void forward(BatchNormInputs in, BatchNormOptions o = {}) {
    batch_norm_forward(in, o, run.outputs());
  }
};

TEST_F(BatchNormErrors, WrongRank) {
  Tensor x1({5});
  expect_error(written(), [&] { forward({x1}); }, {"x:", "rank >= 2", "(5,)"});
}

TEST_F(BatchNormErrors, PerChannelTensorsOfWrongLength) {
  Tensor four({4}), two_d({3, 1});
  for (const char* name : {"weight", "bias", "running_mean", "running_var"}) {
    BatchNormInputs in = run.inputs();
    const std::string n = name;
    TensorView& slot = n == "weight" ? in.weight : n == "bias" ? in.bias
                       : n == "running_mean" ? in.running_mean : in.running_var;
    slot = four;
    expect_error(written(), [&] { forward(in); }, {n + ":", "(3,)", "(4,)"});
    slot = two_d;
    expect_error(written(), [&] { forward(in); }, {n + ":", "(3, 1)"});
  }
}

TEST_F(BatchNormErrors, WrongDtype) {
  Tensor xi({4, 3, 5}, DType::int64);
  expect_error(written(), [&] { forward({xi}); }, {"x:", "float32", "int64"});
}

TEST_F(BatchNormErrors, SingleValuePerChannelInTraining) {
  Tensor x({1, 3});
  expect_error({run.running_mean, run.running_var},
               [&] { batch_norm_forward({x, {}, {}, run.running_mean, run.running_var}, {}); },
               {"Expected more than 1 value per channel when training", "(1, 3)"});
  Tensor x1({1, 3, 1, 1});
  expect_error({}, [&] { batch_norm_forward({x1}, {}); }, {"Expected more than 1 value per channel"});
  // Eval mode is fine with one value.
  EXPECT_NO_THROW(batch_norm_forward({x, {}, {}, run.running_mean, run.running_var}, {.training = false}));
}

TEST_F(BatchNormErrors, EpsAndMomentum) {
  for (double eps : {0.0, -1e-5, static_cast<double>(NAN)})
    expect_error(written(), [&] { forward(run.inputs(), {.eps = eps}); }, {"eps:", "positive"});
  for (double momentum : {-0.1, 1.5, static_cast<double>(NAN)})
    expect_error(written(), [&] { forward(run.inputs(), {.momentum = momentum}); },
                 {"momentum:", "[0, 1]"});
}

TEST_F(BatchNormErrors, RunningStatsComeInPairsAndEvalNeedsThem) {
  BatchNormInputs in = run.inputs();
  in.running_var = {};
  expect_error(written(), [&] { forward(in); }, {"running_var:", "running_mean"});
  expect_error(written(), [&] { forward({run.x.view}, {.training = false}); },
               {"running_mean:", "eval mode"});
}

TEST_F(BatchNormErrors, OutputsOfWrongShape) {
  Tensor y({4, 3, 6}), stats({4});
  expect_error({run.running_mean, run.running_var},
               [&] { batch_norm_forward(run.inputs(), {}, {y, run.save_mean, run.save_invstd}); },
               {"y:", "(4, 3, 5)", "(4, 3, 6)"});
  expect_error({run.running_mean, run.running_var, run.y.view},
               [&] { batch_norm_forward(run.inputs(), {}, {run.y.view, stats, run.save_invstd}); },
               {"save_mean:", "(3,)"});
}

TEST_F(BatchNormErrors, BackwardArguments) {
  batch_norm_forward(run.inputs(), {}, run.outputs());
  Tensor dx({4, 3, 5}), dw({3}), db({3}), dy_bad({4, 3, 6}), wrong({2});
  const std::vector<TensorView> grads{dx, dw, db};
  const BatchNormBackwardInputs good{run.y.view, run.x.view, run.weight, run.running_mean,
                                     run.running_var, run.save_mean, run.save_invstd};
  auto backward = [&](BatchNormBackwardInputs in, BatchNormOptions o = {}) {
    return [=] { batch_norm_backward(in, o, {dx, dw, db}); };
  };
  BatchNormBackwardInputs in = good;
  in.dy = dy_bad;
  expect_error(grads, backward(in), {"dy:", "(4, 3, 5)", "(4, 3, 6)"});
  in = good;
  in.save_invstd = {};
  expect_error(grads, backward(in), {"save_invstd:", "training"});
  in = good;
  in.save_mean = wrong;
  expect_error(grads, backward(in), {"save_mean:", "(3,)"});
  in = good;
  in.weight = wrong;
  expect_error(grads, backward(in), {"weight:", "(3,)"});
  in = good;
  in.running_mean = {};
  in.running_var = {};
  expect_error(grads, backward(in, {.training = false}), {"running_mean:", "eval mode"});
  expect_error(grads, backward(good, {.eps = 0.0}), {"eps:"});
  expect_error({dw, db}, [&] { batch_norm_backward(good, {}, {dy_bad, dw, db}); }, {"dx:"});
}

}  // namespace
}  // namespace normkit::test
