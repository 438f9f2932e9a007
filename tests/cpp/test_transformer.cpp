// The transformer's pieces (nn/transformer.hpp): multi-head self-attention
// (with and without QK-norm), the pre- and post-norm blocks and the ViT's
// patch embedding against central differences of sum(probe * y), for the
// input and for parameters; torch.nn.TransformerEncoderLayer's and
// torchvision's state-dict keys; the same bits on 1 and 2 threads; the vit
// model.
#include <cmath>

#include "engine_util.hpp"
#include "normkit/nn/dyt.hpp"
#include "normkit/nn/transformer.hpp"
#include "normkit/nn/vit.hpp"
#include "normkit/train/models.hpp"

namespace normkit::test {
namespace {

Tensor tokens(std::int64_t n, std::int64_t t, std::int64_t d, std::uint64_t seed) {
  nn::Generator gen(seed);
  return nn::normal_tensor({n, t, d}, 1.0, gen);
}

double probe_loss_of(nn::Layer& layer, const Tensor& x, const Tensor& probe) {
  const Tensor y = layer.forward(x);
  double loss = 0;
  for (std::int64_t i = 0; i < y.numel(); ++i) loss += static_cast<double>(y.data<float>()[i]) * probe.data<float>()[i];
  return loss;
}

// d loss / d value, by a central difference in float32 (step 1e-2).
double central(nn::Layer& layer, const Tensor& x, const Tensor& probe, float& value) {
  const float saved = value;
  value = saved + 1e-2f;
  const double plus = probe_loss_of(layer, x, probe);
  value = saved - 1e-2f;
  const double minus = probe_loss_of(layer, x, probe);
  value = saved;
  return (plus - minus) / 2e-2;
}

// The layer's dx and the gradients of the named parameters' first elements
// against central differences.
void check_gradients(nn::Layer& layer, std::int64_t d, const std::vector<std::string>& parameters) {
  Tensor x = tokens(3, 5, d, 11);
  const Tensor probe = tokens(3, 5, d, 12);
  for (nn::Parameter* p : layer.parameters()) p->zero_grad();
  layer.forward(x);
  const Tensor dx = layer.backward(probe);
  for (const std::int64_t i : {std::int64_t{0}, std::int64_t{7}, x.numel() - 1}) {
    const double want = central(layer, x, probe, x.data<float>()[i]);
    EXPECT_NEAR(dx.data<float>()[i], want, 2e-3 * (1 + std::fabs(want))) << layer.name() << " dx " << i;
  }
  const auto state = layer.state_dict();
  for (const std::string& key : parameters) {
    nn::Parameter* p = layer.find_parameter(key);
    ASSERT_NE(p, nullptr) << key;
    for (const std::int64_t i : {std::int64_t{0}, p->value.numel() / 2}) {
      const double want = central(layer, x, probe, p->value.data<float>()[i]);
      EXPECT_NEAR(p->grad.data<float>()[i], want, 2e-3 * (1 + std::fabs(want))) << layer.name() << " " << key << " " << i;
    }
  }
}

TEST(MultiHeadSelfAttention, GradientsMatchCentralDifferences) {
  for (const bool qk_norm : {false, true}) {
    SCOPED_TRACE(qk_norm ? "qk_norm" : "plain");
    nn::Generator gen(1);
    nn::MultiHeadSelfAttention attn(8, 2, gen, qk_norm);
    std::vector<std::string> keys{"in_proj_weight", "in_proj_bias", "out_proj.weight"};
    if (qk_norm) keys.insert(keys.end(), {"q_norm.weight", "k_norm.bias"});
    check_gradients(attn, 8, keys);
  }
}

TEST(TransformerBlock, PreAndPostNormGradientsMatchCentralDifferences) {
  const nn::TokenNormFactory layer_norm = [](std::int64_t d) { return std::make_unique<nn::LayerNorm>(Shape{d}); };
  const nn::TokenNormFactory dyt = [](std::int64_t d) { return std::make_unique<nn::DyT>(d); };
  const nn::TokenNormFactory none = [](std::int64_t) { return std::unique_ptr<nn::Layer>(); };
  for (const auto placement : {nn::NormPlacement::pre, nn::NormPlacement::post})
    for (const auto& [name, make] : {std::pair{"ln", layer_norm}, std::pair{"dyt", dyt}, std::pair{"none", none}}) {
      SCOPED_TRACE(std::string(name) + (placement == nn::NormPlacement::pre ? " pre" : " post"));
      nn::Generator gen(2);
      nn::TransformerBlock block(8, make, {.heads = 2, .hidden = 16, .placement = placement}, gen);
      std::vector<std::string> keys{"self_attn.in_proj_weight", "linear1.weight", "linear2.bias"};
      if (std::string(name) != "none") keys.push_back("norm1.weight");
      check_gradients(block, 8, keys);
    }
}

TEST(TransformerBlock, HasTorchEncoderLayersKeysAndSameBitsOnAnyThreadCount) {
  const nn::TokenNormFactory layer_norm = [](std::int64_t d) { return std::make_unique<nn::LayerNorm>(Shape{d}); };
  nn::Generator gen(3);
  nn::TransformerBlock block(16, layer_norm, {.heads = 4}, gen);
  std::vector<std::string> keys;
  for (const auto& [key, value] : block.state_dict()) keys.push_back(key);
  const std::vector<std::string> torch_keys{
      "self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight", "self_attn.out_proj.bias",
      "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias", "norm1.weight", "norm1.bias",
      "norm2.weight", "norm2.bias"};
  EXPECT_EQ(keys, torch_keys);
  const Tensor x = tokens(33, 7, 16, 21), dy = tokens(33, 7, 16, 22);
  const int before = num_threads();
  std::vector<std::vector<float>> runs[2];
  for (const int threads : {1, 2}) {
    set_num_threads(threads);
    for (nn::Parameter* p : block.parameters()) p->zero_grad();
    runs[threads - 1] = {values(block.forward(x)), values(block.backward(dy)),
                         values(block.self_attn().parameters()[0]->grad)};
  }
  set_num_threads(before);
  for (std::size_t i = 0; i < runs[0].size(); ++i) EXPECT_TRUE(same_bits(runs[0][i], runs[1][i])) << "result " << i;
}

// With dropout: no new state-dict keys; in eval mode the block without
// dropout's bits (for the same weights); in training the same bits on 1
// and 2 threads (each Dropout's mask is a hash of its seed, its forward
// count and the element), and other values than eval mode's.
TEST(TransformerBlock, DropoutInTorchsFourPlaces) {
  const nn::TokenNormFactory layer_norm = [](std::int64_t d) { return std::make_unique<nn::LayerNorm>(Shape{d}); };
  nn::Generator plain_gen(3);
  nn::TransformerBlock plain(16, layer_norm, {.heads = 4}, plain_gen);
  const Tensor x = tokens(33, 7, 16, 21), dy = tokens(33, 7, 16, 22);
  std::vector<std::vector<float>> runs[2];
  const int before = num_threads();
  for (const int threads : {1, 2}) {
    set_num_threads(threads);
    nn::Generator gen(3);
    nn::TransformerBlock block(16, layer_norm, {.heads = 4, .dropout = 0.25}, gen);
    EXPECT_EQ(block.state_dict().size(), plain.state_dict().size());
    block.load_state_dict(plain.state_dict());
    runs[threads - 1] = {values(block.forward(x)), values(block.backward(dy))};
    block.eval();
    plain.eval();
    EXPECT_EQ(values(block.forward(x)), values(plain.forward(x)));
    EXPECT_NE(values(block.forward(x)), runs[threads - 1][0]);
    plain.train();
  }
  set_num_threads(before);
  for (std::size_t i = 0; i < runs[0].size(); ++i) EXPECT_TRUE(same_bits(runs[0][i], runs[1][i])) << "result " << i;
}

TEST(PatchEmbedding, GradientsMatchCentralDifferences) {
  nn::Generator gen(4);
  nn::PatchEmbedding embed(1, 8, 4, 6, gen);  // 2 x 2 patches: 5 tokens of 6 features
  EXPECT_EQ(embed.tokens(), 5);
  nn::Generator data(5);
  Tensor images = nn::normal_tensor({3, 1, 8, 8}, 1.0, data);
  const Tensor probe = nn::normal_tensor({3, 5, 6}, 1.0, data);
  for (nn::Parameter* p : embed.parameters()) p->zero_grad();
  embed.forward(images);
  const Tensor dx = embed.backward(probe);
  for (const std::string key : {"class_token", "pos_embedding", "conv_proj.weight", "conv_proj.bias"}) {
    nn::Parameter* p = embed.find_parameter(key);
    ASSERT_NE(p, nullptr) << key;
    for (const std::int64_t i : {std::int64_t{0}, p->value.numel() - 1}) {
      const double want = central(embed, images, probe, p->value.data<float>()[i]);
      EXPECT_NEAR(p->grad.data<float>()[i], want, 2e-3 * (1 + std::fabs(want))) << key << " " << i;
    }
  }
  const double want = central(embed, images, probe, images.data<float>()[9]);
  EXPECT_NEAR(dx.data<float>()[9], want, 2e-3 * (1 + std::fabs(want)));
  EXPECT_THROW(embed.forward(Tensor({3, 1, 12, 12})), Error);
}

TEST(ClassTokenAndTokenBatchNorm, AreTheirDefinitions) {
  nn::Generator data(6);
  const Tensor x = nn::normal_tensor({4, 3, 5}, 1.0, data);
  nn::ClassToken pool;
  const Tensor first = pool.forward(x);
  ASSERT_EQ(first.shape(), (Shape{4, 5}));
  for (std::int64_t n = 0; n < 4; ++n)
    for (std::int64_t d = 0; d < 5; ++d) EXPECT_EQ(first.data<float>()[n * 5 + d], x.data<float>()[n * 15 + d]);
  const Tensor back = pool.backward(first);
  EXPECT_EQ(back.data<float>()[0], first.data<float>()[0]);
  EXPECT_EQ(back.data<float>()[5], 0.0f);  // token 1
  // BatchNorm over tokens is BatchNorm1d over the (N * T, D) rows.
  nn::TokenBatchNorm tokens_bn(5);
  nn::BatchNorm1d rows_bn(5);
  const Tensor y = tokens_bn.forward(x);
  const Tensor want = rows_bn.forward(TensorView(const_cast<float*>(x.data<float>()), {12, 5}));
  EXPECT_TRUE(same_bits(values(y), values(want)));
  EXPECT_EQ(y.shape(), x.shape());
}

TEST(VitModel, BuildsEveryTokenNormAndPlacement) {
  nn::Generator data(7);
  const Tensor images = nn::normal_tensor({4, 1, 28, 28}, 1.0, data);
  for (const std::string norm : {"ln", "rms", "dyt", "bn", "none"})
    for (const auto placement : {nn::NormPlacement::pre, nn::NormPlacement::post}) {
      nn::Generator gen(8);
      train::ModelOptions o;
      o.vit = {.depth = 2, .dim = 16, .heads = 2, .patch = 7, .placement = placement, .qk_norm = true};
      auto net = train::make_model("vit", norm, gen, o);
      const Tensor logits = net->forward(images);
      EXPECT_EQ(logits.shape(), (Shape{4, 10})) << norm;
      net->backward(logits);
    }
  nn::Generator gen(9);
  EXPECT_EQ(error_of([&] { train::make_model("vit", "gn", gen); }),
            "norm: on tokens expected one of none, bn, ln, rms, dyt; got 'gn'");
  train::ModelOptions bad;
  bad.vit.patch = 5;
  EXPECT_EQ(error_of([&] { train::make_model("vit", "ln", gen, bad); }), "patch: expected a divisor of 28, got 5");
}

}  // namespace
}  // namespace normkit::test
