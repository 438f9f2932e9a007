// Every case of the shared list's "test" set (tests/cases/ops.txt), through
// the op table (src/kernels/op_table.hpp), on every SIMD path: the fast
// forward against the reference, then the fast backward against the
// reference on the same forward results. One sweep for the whole family, as
// oneDNN's benchdnn and ggml's test-backend-ops run one list of cases; each
// op's own tests add its finite-difference gradients and special cases.
#include "cases/case_list.hpp"
#include "test_util.hpp"

namespace normkit::test {
namespace {

class ListedCases : public EverySimdPath {};
INSTANTIATE_TEST_SUITE_P(Simd, ListedCases, every_simd_path(), simd_path_param_name);

double max_abs(const Tensor& t) {
  double m = 0;
  if (t.defined())
    for (float v : values(t)) m = std::max<double>(m, std::fabs(v));
  return m;
}

// Each defined result of the fast path against the reference's. A gradient
// may cancel to far below its terms (a small batch's dx): it is held to the
// size of the largest result of its call.
void expect_results_match(const std::vector<Tensor>& fast, const std::vector<Tensor>& ref,
                          const std::vector<ops::Result>& results, bool gradients) {
  ASSERT_EQ(fast.size(), ref.size());
  double scale = 0;
  for (const Tensor& t : ref) scale = std::max(scale, max_abs(t));
  for (std::size_t i = 0; i < fast.size(); ++i) {
    SCOPED_TRACE(results[i].name);
    ASSERT_EQ(fast[i].defined(), ref[i].defined());
    if (!ref[i].defined()) continue;
    EXPECT_EQ(fast[i].shape(), ref[i].shape());
    EXPECT_TRUE(all_close(values(fast[i]), values(ref[i]), 1e-5, gradients ? scale : 0.0));
  }
}

TEST_P(ListedCases, FastMatchesReferenceForwardAndBackward) {
  const std::vector<cases::ListedCase> listed = cases::listed_cases("test");
  ASSERT_GE(listed.size(), ops::table().size());  // every op has cases
  for (const ops::Op& op : ops::table())
    EXPECT_TRUE(std::any_of(listed.begin(), listed.end(), [&](const auto& c) { return c.op == op.name; }))
        << op.name << " has no case in the list's test set";
  for (const cases::ListedCase& c : listed) {
    SCOPED_TRACE(c.name());
    const ops::Op& op = ops::op(c.op);
    // Each implementation on its own copy of the arguments (running
    // statistics are updated in place).
    ops::CaseArguments fast_args = op.arguments(c), ref_args = op.arguments(c);
    const std::vector<Tensor> fast = op.forward.call(fast_args.forward, Impl::fast);
    const std::vector<Tensor> ref = op.forward.call(ref_args.forward, Impl::reference);
    expect_results_match(fast, ref, op.forward.results, false);
    // Backward on the reference's forward results, both ways.
    const std::vector<Tensor> fast_grads = op.backward.call(fast_args.backward(ref), Impl::fast);
    const std::vector<Tensor> ref_grads = op.backward.call(ref_args.backward(ref), Impl::reference);
    expect_results_match(fast_grads, ref_grads, op.backward.results, true);
  }
}

// run() writes into results allocated before, the same bits as call().
TEST_P(ListedCases, RunIntoViewsGivesTheBitsOfCall) {
  for (const cases::ListedCase& c : cases::listed_cases("test")) {
    SCOPED_TRACE(c.name());
    const ops::Op& op = ops::op(c.op);
    ops::CaseArguments a = op.arguments(c), b = op.arguments(c);
    const std::vector<Tensor> called = op.forward.call(a.forward, Impl::fast);
    std::vector<Tensor> into;
    std::vector<TensorView> views;
    for (const Tensor& t : called) {
      into.push_back(t.defined() ? Tensor(t.shape(), DType::float32, t.view().memory_format()) : Tensor());
      views.push_back(into.back().defined() ? into.back().view() : TensorView{});
    }
    op.forward.run(b.forward, views, Impl::fast);
    for (std::size_t i = 0; i < called.size(); ++i)
      if (called[i].defined()) EXPECT_TRUE(same_bits(values(called[i]), values(into[i]))) << op.forward.results[i].name;
  }
}

// The table checks the values of a call against its arguments first.
TEST(OpTable, RefusesValuesOfTheWrongKindOrNumber) {
  const ops::Function& f = ops::op("layer_norm").forward;
  EXPECT_EQ(error_of([&] { f.call({}, Impl::fast); }), "layer_norm_forward: expected 5 arguments, got 0");
  const Tensor x({2, 3});
  EXPECT_EQ(error_of([&] { f.call({x.view(), std::int64_t{3}, {}, {}, 1e-5}, Impl::fast); }),
            "layer_norm_forward: normalized_shape: a value of another kind than the table's");
  EXPECT_EQ(error_of([] { ops::op("batch_renorm"); }),
            "op: expected one of batch_norm, layer_norm, rms_norm, group_norm, instance_norm, adain, add_rms_norm, "
            "add_layer_norm, dyt, got "
            "'batch_renorm'");
}

// The list's reader refuses what it cannot read, naming the line.
TEST(CaseList, ParsesTheListAndNamesTheLineOfAnError) {
  const std::vector<cases::ListedCase> c =
      cases::parse_case_list("# a comment\n\ngroup_norm 2x6x5 channels_last train test,bench groups=3 # why\n");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].shape, (Shape{2, 6, 5}));
  EXPECT_EQ(c[0].groups, 3);
  EXPECT_EQ(c[0].line, 3);
  EXPECT_TRUE(c[0].in("bench"));
  EXPECT_FALSE(c[0].in("fuzz"));
  EXPECT_EQ(error_of([] { cases::parse_case_list("batch_norm 2x0 contiguous train test\n"); }),
            "case list, line 1: shape: expected a positive integer, got '0'");
  EXPECT_EQ(error_of([] { cases::parse_case_list("\nbatch_norm 2x3 nchw train test\n"); }),
            "case list, line 2: layout: expected contiguous, channels_last, permuted or strided, got 'nchw'");
  EXPECT_EQ(error_of([] { cases::parse_case_list("batch_norm 2x3 contiguous train tests\n"); }),
            "case list, line 1: sets: expected test, bench, quick or fuzz, got 'tests'");
  const std::vector<cases::ListedCase> half = cases::parse_case_list("rms_norm 2x8 contiguous train bench dtype=bfloat16\n");
  ASSERT_EQ(half.size(), 1u);
  EXPECT_EQ(half[0].dtype, DType::bfloat16);
  const ops::CaseArguments args = ops::op("rms_norm").arguments(half[0]);
  EXPECT_EQ(std::get<TensorView>(args.forward.at(0)).dtype(), DType::bfloat16) << "x in the case's dtype";
  EXPECT_EQ(std::get<TensorView>(args.forward.at(2)).dtype(), DType::float32) << "the weight in float32";
  EXPECT_EQ(error_of([] { cases::parse_case_list("rms_norm 2x8 contiguous train bench dtype=half\n"); }),
            "case list, line 1: dtype: expected bfloat16 or float16, got 'half'");
  EXPECT_EQ(error_of([] { cases::parse_case_list("batch_norm 2x3 contiguous\n"); }),
            "case list, line 1: expected op, shape, layout, mode and sets, got 3 words");
  EXPECT_GE(cases::listed_cases("bench").size(), 10u);
}

}  // namespace
}  // namespace normkit::test

namespace normkit::test {
namespace {

// Found by the listed fuzzer: AdaIN's run (a copy of its call's results)
// wrote the first output before finding the second of a wrong shape.
TEST(OpTable, ARunRefusedForAnOutputOfTheWrongShapeWritesNothing) {
  const ops::Op& op = ops::op("adain");
  ops::CaseArguments a = op.arguments({.op = "adain", .shape = {2, 3, 5, 4}, .layout = "contiguous", .mode = "train"});
  const std::vector<Tensor> valid = op.forward.call(a.forward, Impl::fast);
  std::vector<Tensor> out;
  std::vector<TensorView> views;
  for (std::size_t i = 0; i < valid.size(); ++i) {
    Shape shape = valid[i].shape();
    if (i == 1) shape.back() += 1;  // content_mean of a wrong shape
    out.push_back(Tensor::full(shape, -7.0f));
    views.push_back(out.back().view());
  }
  EXPECT_EQ(error_of([&] { op.forward.run(a.forward, views, Impl::fast); }),
            "content_mean: expected float32 of shape (2, 3), got float32 of shape (2, 4)");
  for (const Tensor& t : out)
    for (float v : values(t)) ASSERT_EQ(v, -7.0f);
}

}  // namespace
}  // namespace normkit::test
