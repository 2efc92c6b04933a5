// nn building blocks, the attention mixer, backbones, heads and the model directory.
// Oracles: formulas written out here in double precision (norms, SwiGLU, rotary, the ESM /
// Nucleotide Transformer v2 forward pass from its published equations and key names), and
// exact equalities where the computation must be identical (save/load, KV-cache decoding in
// double, padding invariance).
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/nn/module.h>
#include <torch/optim/adamw.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "libseq/core/config.h"
#include "libseq/core/error.h"
#include "libseq/core/random.h"
#include "libseq/io/safetensors.h"
#include "libseq/mixers/attention.h"
#include "libseq/models/model.h"
#include "libseq/nn/layers.h"

using namespace strand;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("strand-models-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(reinterpret_cast<uintptr_t>(this)));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

models::ModelConfig tiny_config(const std::string& pattern, bool causal, models::HeadKind head) {
  models::ModelConfig c;
  c.vocab_size = 11;
  c.pad_id = 0;
  c.backbone.d_model = 16;
  c.backbone.pattern = pattern;
  c.backbone.causal = causal;
  c.backbone.mixers = {{"A", {{"n_heads", 2}}}};
  c.backbone.normalise("test");
  c.head.kind = head;
  if (head == models::HeadKind::SequenceClassification || head == models::HeadKind::TokenClassification)
    c.head.num_labels = 3;
  if (head == models::HeadKind::SequenceRegression) c.head.num_labels = 1;
  return c;
}

at::Tensor random_ids(int64_t b, int64_t l, int64_t vocab) {
  return at::randint(1, vocab, {b, l}, at::kLong);
}

}  // namespace

TEST(Norm, RmsNormMatchesFormula) {
  manual_seed(1);
  nn::Norm norm(5, nn::NormKind::RMS, 1e-6, false);
  {
    torch::NoGradGuard g;
    norm->named_parameters()["weight"].copy_(at::arange(1, 6, at::kFloat));
  }
  norm->to(at::kDouble);
  const at::Tensor x = at::randn({3, 5}, at::kDouble);
  const at::Tensor expected =
      x / at::sqrt(x.pow(2).mean(-1, true) + 1e-6) * at::arange(1, 6, at::kDouble);
  EXPECT_TRUE(at::allclose(norm->forward(x), expected, 1e-12, 1e-12));
  EXPECT_EQ(norm->named_parameters().size(), 1u);  // RMSNorm has no bias
}

TEST(Norm, LayerNormMatchesFormulaAndNames) {
  nn::Norm norm(4, nn::NormKind::Layer, 1e-12, true);
  norm->to(at::kDouble);
  const at::Tensor x = at::randn({2, 3, 4}, at::kDouble);
  const at::Tensor centred = x - x.mean(-1, true);
  const at::Tensor expected = centred / at::sqrt(centred.pow(2).mean(-1, true) + 1e-12);
  EXPECT_TRUE(at::allclose(norm->forward(x), expected, 1e-10, 1e-10));
  const auto params = norm->named_parameters();
  EXPECT_TRUE(params.contains("weight"));
  EXPECT_TRUE(params.contains("bias"));
}

TEST(Mlp, SwiGluSplitsFirstHalfThroughSilu) {
  nn::Mlp mlp(4, 6, nn::MlpKind::SwiGLU, false);
  mlp->to(at::kDouble);
  const auto p = mlp->named_parameters();
  ASSERT_EQ(p["fc1.weight"].sizes(), (at::IntArrayRef{12, 4}));
  ASSERT_EQ(p["fc2.weight"].sizes(), (at::IntArrayRef{4, 6}));
  EXPECT_FALSE(p.contains("fc1.bias"));
  const at::Tensor x = at::randn({5, 4}, at::kDouble);
  const at::Tensor u = at::matmul(x, p["fc1.weight"].t());
  const at::Tensor u1 = u.narrow(1, 0, 6), u2 = u.narrow(1, 6, 6);
  const at::Tensor expected = at::matmul(u1 / (1 + at::exp(-u1)) * u2, p["fc2.weight"].t());
  EXPECT_TRUE(at::allclose(mlp->forward(x), expected, 1e-12, 1e-12));
}

TEST(Rotary, MatchesRotateHalfFormula) {
  nn::Rotary rope(4, 10000.0);
  const at::Tensor x = at::randn({1, 1, 3, 4}, at::kDouble);
  const at::Tensor y = rope.apply(x, 5);
  for (int64_t pos = 0; pos < 3; ++pos) {
    const double p = static_cast<double>(pos + 5);
    const double f0 = 1.0, f1 = std::pow(10000.0, -0.5);  // base^(-2i/d) for i = 0, 1; d = 4
    const auto v = x[0][0][pos];
    const double x0 = v[0].item<double>(), x1 = v[1].item<double>(), x2 = v[2].item<double>(),
                 x3 = v[3].item<double>();
    const double expected[4] = {x0 * std::cos(p * f0) - x2 * std::sin(p * f0),
                                x1 * std::cos(p * f1) - x3 * std::sin(p * f1),
                                x2 * std::cos(p * f0) + x0 * std::sin(p * f0),
                                x3 * std::cos(p * f1) + x1 * std::sin(p * f1)};
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(y[0][0][pos][i].item<double>(), expected[i], 1e-12);
  }
}

TEST(Rotary, ScoresDependOnlyOnRelativePosition) {
  nn::Rotary rope(8);
  const at::Tensor q = at::randn({1, 1, 1, 8}, at::kDouble);
  const at::Tensor k = at::randn({1, 1, 1, 8}, at::kDouble);
  const double a = (rope.apply(q, 3) * rope.apply(k, 1)).sum().item<double>();
  const double b = (rope.apply(q, 103) * rope.apply(k, 101)).sum().item<double>();
  EXPECT_NEAR(a, b, 1e-9);
}

TEST(Backbone, CausalOutputsIgnoreFutureTokens) {
  manual_seed(2);
  models::SequenceModel model(tiny_config("AAA", true, models::HeadKind::CausalLM));
  model->to(at::kDouble);
  at::Tensor ids = random_ids(2, 9, 11);
  const at::Tensor a = model->forward(ids, at::Tensor()).logits;
  at::Tensor changed = ids.clone();
  changed.narrow(1, 6, 3).fill_(7);
  const at::Tensor b = model->forward(changed, at::Tensor()).logits;
  EXPECT_TRUE(at::equal(a.narrow(1, 0, 6), b.narrow(1, 0, 6)));
  EXPECT_FALSE(at::allclose(a.narrow(1, 6, 3), b.narrow(1, 6, 3)));
}

TEST(Backbone, BidirectionalOutputsSeeTheFuture) {
  manual_seed(3);
  models::SequenceModel model(tiny_config("AA", false, models::HeadKind::MaskedLM));
  model->to(at::kDouble);
  at::Tensor ids = random_ids(1, 8, 11);
  const at::Tensor a = model->forward(ids, at::Tensor()).logits;
  at::Tensor changed = ids.clone();
  changed[0][7] = (ids[0][7].item<int64_t>() % 10) + 1;
  const at::Tensor b = model->forward(changed, at::Tensor()).logits;
  EXPECT_FALSE(at::allclose(a.select(1, 0), b.select(1, 0)));
}

TEST(Backbone, PaddingDoesNotChangeRealPositions) {
  // Real tokens must give the same outputs alone and in a batch padded to a longer row.
  manual_seed(4);
  for (const bool causal : {true, false}) {
    models::SequenceModel model(tiny_config("AA", causal, models::HeadKind::TokenClassification));
    model->to(at::kDouble);
    const at::Tensor short_ids = random_ids(1, 5, 11);
    const at::Tensor alone = model->forward(short_ids, at::Tensor()).logits;
    at::Tensor padded = at::zeros({2, 9}, at::kLong);
    padded[0].narrow(0, 0, 5).copy_(short_ids[0]);
    padded[1].copy_(random_ids(1, 9, 11)[0]);
    at::Tensor mask = at::zeros({2, 9}, at::kBool);
    mask[0].narrow(0, 0, 5).fill_(true);
    mask[1].fill_(true);
    const at::Tensor batch = model->forward(padded, mask).logits;
    EXPECT_TRUE(at::allclose(batch[0].narrow(0, 0, 5), alone[0], 1e-12, 1e-12)) << "causal=" << causal;
  }
}

TEST(Backbone, TapsFollowHiddenStatesConvention) {
  manual_seed(5);
  models::SequenceModel model(tiny_config("AAA", true, models::HeadKind::CausalLM));
  const at::Tensor ids = random_ids(2, 6, 11);
  models::Taps taps;
  taps.layers = {0, 1, 3, -1, -4};
  const auto out = model->forward(ids, at::Tensor(), &taps);
  ASSERT_EQ(taps.outputs.size(), 5u);
  EXPECT_TRUE(at::equal(taps.outputs[0], model->embedding()->forward(ids)));
  EXPECT_TRUE(at::equal(taps.outputs[2], out.hidden));  // layer n = after the final norm
  EXPECT_TRUE(at::equal(taps.outputs[3], out.hidden));  // -1 = n
  EXPECT_TRUE(at::equal(taps.outputs[4], taps.outputs[0]));  // -(n+1) = 0
  EXPECT_FALSE(at::equal(taps.outputs[1], taps.outputs[0]));
  EXPECT_THROW(models::resolve_layer(4, 3), InputError);
  EXPECT_THROW(models::resolve_layer(-5, 3), InputError);
}

TEST(Backbone, KvCacheDecodingEqualsFullForward) {
  manual_seed(6);
  models::SequenceModel model(tiny_config("AAA", true, models::HeadKind::CausalLM));
  model->to(at::kDouble);
  model->eval();
  const at::Tensor ids = random_ids(2, 40, 11);  // past the cache's first capacity (16)
  const at::Tensor full = model->forward(ids, at::Tensor()).logits;
  auto state = model->make_state(2);
  for (int64_t t = 0; t < 40; ++t) {
    const at::Tensor logits = model->step(ids.select(1, t), state);
    ASSERT_TRUE(at::allclose(logits, full.select(1, t), 1e-10, 1e-10)) << "position " << t;
  }
  // Prefill of a prefix, then single steps.
  auto state2 = model->backbone()->make_state(2);
  const at::Tensor x = model->embedding()->forward(ids);
  const at::Tensor pre = model->backbone()->prefill(x.narrow(1, 0, 25), state2);
  const at::Tensor hidden = model->forward(ids, at::Tensor()).hidden;
  EXPECT_TRUE(at::allclose(pre, hidden.narrow(1, 0, 25), 1e-10, 1e-10));
  const at::Tensor next = model->backbone()->step(x.select(1, 25), state2);
  EXPECT_TRUE(at::allclose(next, hidden.select(1, 25), 1e-10, 1e-10));
}

TEST(Backbone, BidirectionalModelRefusesDecoding) {
  models::SequenceModel model(tiny_config("A", false, models::HeadKind::MaskedLM));
  EXPECT_THROW(model->make_state(1), InputError);
}

TEST(Heads, PoolingModes) {
  const at::Tensor h = at::arange(2 * 3 * 2, at::kDouble).view({2, 3, 2});
  at::Tensor mask = at::ones({2, 3}, at::kBool);
  mask[1][2] = false;
  EXPECT_TRUE(at::equal(models::pool(h, mask, models::Pooling::Cls), h.select(1, 0)));
  const at::Tensor mean = models::pool(h, mask, models::Pooling::Mean);
  EXPECT_DOUBLE_EQ(mean[0][0].item<double>(), 2.0);   // (0 + 2 + 4) / 3
  EXPECT_DOUBLE_EQ(mean[1][0].item<double>(), 7.0);   // (6 + 8) / 2
  const at::Tensor max = models::pool(h, mask, models::Pooling::Max);
  EXPECT_DOUBLE_EQ(max[1][1].item<double>(), 9.0);    // padded 11 ignored
  const at::Tensor last = models::pool(h, mask, models::Pooling::Last);
  EXPECT_DOUBLE_EQ(last[1][0].item<double>(), 8.0);
  EXPECT_DOUBLE_EQ(last[0][0].item<double>(), 4.0);
}

TEST(Heads, ShapesPerKind) {
  const at::Tensor ids = random_ids(2, 7, 11);
  for (const auto kind : {models::HeadKind::CausalLM, models::HeadKind::MaskedLM,
                          models::HeadKind::SequenceClassification, models::HeadKind::SequenceRegression,
                          models::HeadKind::TokenClassification, models::HeadKind::None}) {
    models::SequenceModel model(tiny_config("A", kind == models::HeadKind::CausalLM, kind));
    const auto out = model->forward(ids, at::Tensor());
    switch (kind) {
      case models::HeadKind::CausalLM:
      case models::HeadKind::MaskedLM: EXPECT_EQ(out.logits.sizes(), (at::IntArrayRef{2, 7, 11})); break;
      case models::HeadKind::SequenceClassification: EXPECT_EQ(out.logits.sizes(), (at::IntArrayRef{2, 3})); break;
      case models::HeadKind::SequenceRegression: EXPECT_EQ(out.logits.sizes(), (at::IntArrayRef{2, 1})); break;
      case models::HeadKind::TokenClassification: EXPECT_EQ(out.logits.sizes(), (at::IntArrayRef{2, 7, 3})); break;
      case models::HeadKind::None: EXPECT_FALSE(out.logits.defined()); break;
    }
  }
}

TEST(Heads, TiedHeadSharesEmbedding) {
  models::SequenceModel tied(tiny_config("A", true, models::HeadKind::CausalLM));
  EXPECT_FALSE(tied->named_parameters().contains("head.decoder.weight"));
  auto c = tiny_config("A", true, models::HeadKind::CausalLM);
  c.head.tied = false;
  models::SequenceModel untied(c);
  EXPECT_TRUE(untied->named_parameters().contains("head.decoder.weight"));
}

TEST(ModelDir, SaveLoadRoundTripIsExact) {
  manual_seed(7);
  TempDir dir;
  auto config = tiny_config("AAA", false, models::HeadKind::MaskedLM);
  config.provenance = {{"version", "test"}, {"command_line", "strand pretrain ..."}};
  models::SequenceModel model(config);
  const nlohmann::json tokenizer = {{"type", "char"}, {"vocab", {"<pad>", "A"}}};
  models::save_model_dir(dir.path.string(), config, model, tokenizer);
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json"}) EXPECT_TRUE(fs::exists(dir.path / f));
  auto loaded = models::load_model_dir(dir.path.string());
  EXPECT_EQ(loaded.config.to_json(), config.to_json());
  EXPECT_EQ(loaded.tokenizer, tokenizer);
  const auto a = models::state_dict(*model), b = models::state_dict(*loaded.model);
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, t] : a) EXPECT_TRUE(at::equal(t, b.at(name))) << name;
  const at::Tensor ids = random_ids(2, 5, 11);
  EXPECT_TRUE(at::equal(model->forward(ids, at::Tensor()).logits, loaded.model->forward(ids, at::Tensor()).logits));
}

TEST(ModelDir, UnknownArchitectureIsAClearError) {
  TempDir dir;
  auto config = tiny_config("A", true, models::HeadKind::CausalLM);
  models::SequenceModel model(config);
  models::save_model_dir(dir.path.string(), config, model, nlohmann::json::object());
  auto j = load_json((dir.path / "config.json").string());
  j["architecture"] = "hyena";
  save_json((dir.path / "config.json").string(), j);
  try {
    models::load_model_dir(dir.path.string());
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown architecture 'hyena' (known: strand, esm)"), std::string::npos)
        << e.what();
  }
  j["architecture"] = "strand";
  j["backbone"]["pattern"] = "AQ";
  save_json((dir.path / "config.json").string(), j);
  EXPECT_THROW(models::load_model_dir(dir.path.string()), ConfigError);
}

TEST(ModelDir, MismatchedTensorsAreAllListed) {
  TempDir dir;
  auto config = tiny_config("AA", true, models::HeadKind::CausalLM);
  models::SequenceModel model(config);
  auto tensors = models::state_dict(*model);
  tensors.erase("backbone.blocks.1.mixer.q_proj.weight");
  tensors["backbone.blocks.0.norm1.weight"] = at::ones({17});
  tensors["extra.weight"] = at::ones({2});
  models::save_model_dir(dir.path.string(), config, model, nlohmann::json::object());
  io::save_safetensors((dir.path / "model.safetensors").string(), tensors);
  try {
    models::load_model_dir(dir.path.string());
    FAIL();
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("3 differences"), std::string::npos) << m;
    EXPECT_NE(m.find("missing tensor 'backbone.blocks.1.mixer.q_proj.weight' (expected shape [16, 16])"),
              std::string::npos) << m;
    EXPECT_NE(m.find("tensor 'backbone.blocks.0.norm1.weight' has shape [17], expected [16]"), std::string::npos) << m;
    EXPECT_NE(m.find("unexpected tensor 'extra.weight'"), std::string::npos) << m;
  }
}

namespace {

// The ESM / NTv2 forward pass written from ../shared/reference/had_hnet_codon.md §2.2 with the
// Hugging Face key names of §2.3, in double, independent of strand's modules.
at::Tensor esm_reference(const std::map<std::string, at::Tensor>& w, const at::Tensor& ids, const at::Tensor& mask,
                         int64_t layers, int64_t heads, double eps) {
  const auto W = [&](const std::string& k) { return w.at(k).to(at::kDouble); };
  const auto ln = [&](const at::Tensor& x, const std::string& p) {
    const at::Tensor c = x - x.mean(-1, true);
    return c / at::sqrt(c.pow(2).mean(-1, true) + eps) * W(p + ".weight") + W(p + ".bias");
  };
  const auto lin = [&](const at::Tensor& x, const std::string& p, bool bias) {
    at::Tensor y = at::matmul(x, W(p + ".weight").t());
    return bias ? y + W(p + ".bias") : y;
  };
  at::Tensor x = W("esm.embeddings.word_embeddings.weight").index_select(0, ids.flatten()).view({ids.size(0), ids.size(1), -1});
  x = x * mask.unsqueeze(-1).to(at::kDouble);
  const int64_t b = x.size(0), l = x.size(1), d = x.size(2), hd = d / heads;
  const at::Tensor inv = at::pow(10000.0, -at::arange(0, hd, 2, at::kDouble) / static_cast<double>(hd));
  const at::Tensor ang = at::outer(at::arange(l, at::kDouble), inv);
  const at::Tensor cos = at::cat({ang, ang}, -1).cos(), sin = at::cat({ang, ang}, -1).sin();
  const auto rope = [&](const at::Tensor& t) {
    const auto h = t.chunk(2, -1);
    return t * cos + at::cat({-h[1], h[0]}, -1) * sin;
  };
  const at::Tensor key_bias = (~mask).to(at::kDouble).view({b, 1, 1, l}) * -1e30;
  for (int64_t i = 0; i < layers; ++i) {
    const std::string p = "esm.encoder.layer." + std::to_string(i) + ".";
    const at::Tensor h = ln(x, p + "attention.LayerNorm");
    const auto split = [&](const at::Tensor& t) { return t.view({b, l, heads, hd}).transpose(1, 2); };
    const at::Tensor q = rope(split(lin(h, p + "attention.self.query", true)) * std::pow(hd, -0.5));
    const at::Tensor k = rope(split(lin(h, p + "attention.self.key", true)));
    const at::Tensor v = split(lin(h, p + "attention.self.value", true));
    const at::Tensor probs = at::softmax(at::matmul(q, k.transpose(-1, -2)) + key_bias, -1);
    const at::Tensor a = at::matmul(probs, v).transpose(1, 2).reshape({b, l, d});
    x = x + lin(a, p + "attention.output.dense", true);
    const at::Tensor u = lin(ln(x, p + "LayerNorm"), p + "intermediate.dense", false);
    const auto halves = u.chunk(2, -1);
    x = x + lin(halves[0] / (1 + at::exp(-halves[0])) * halves[1], p + "output.dense", false);
  }
  x = ln(x, "esm.encoder.emb_layer_norm_after");
  const at::Tensor t = lin(x, "lm_head.dense", true);
  const at::Tensor g = 0.5 * t * (1 + at::erf(t / std::sqrt(2.0)));
  return at::matmul(ln(g, "lm_head.layer_norm"), W("lm_head.decoder.weight").t()) + W("lm_head.bias");
}

}  // namespace

TEST(ModelDir, LoadsNucleotideTransformerV2CheckpointByKeyName) {
  // A small random checkpoint in exactly the Hugging Face EsmForMaskedLM layout and config.json
  // format of NTv2 (rotary, GLU feed-forward without biases, untied LM head, eps 1e-12).
  manual_seed(8);
  const int64_t H = 16, L = 2, heads = 2, I = 24, V = 4107;
  TempDir dir;
  const nlohmann::json hf = {{"architectures", {"EsmForMaskedLM"}},
                             {"model_type", "esm"},
                             {"hidden_size", H},
                             {"num_hidden_layers", L},
                             {"num_attention_heads", heads},
                             {"intermediate_size", I},
                             {"vocab_size", V},
                             {"max_position_embeddings", 2050},
                             {"position_embedding_type", "rotary"},
                             {"add_bias_fnn", false},
                             {"layer_norm_eps", 1e-12},
                             {"token_dropout", false},
                             {"emb_layer_norm_before", false},
                             {"tie_word_embeddings", false},
                             {"pad_token_id", 1},
                             {"mask_token_id", 2},
                             {"hidden_act", "gelu"},
                             {"attention_probs_dropout_prob", 0.0}};
  save_json((dir.path / "config.json").string(), hf);
  std::map<std::string, at::Tensor> w;
  const auto r = [](std::initializer_list<int64_t> s) { return at::randn(s) * 0.3; };
  w["esm.embeddings.word_embeddings.weight"] = r({V, H});
  w["esm.embeddings.position_embeddings.weight"] = r({2050, H});
  for (int64_t i = 0; i < L; ++i) {
    const std::string p = "esm.encoder.layer." + std::to_string(i) + ".";
    for (const char* n : {"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"}) {
      w[p + n + ".weight"] = r({H, H});
      w[p + n + ".bias"] = r({H});
    }
    w[p + "attention.self.rotary_embeddings.inv_freq"] =
        at::pow(10000.0, -at::arange(0, H / heads, 2, at::kDouble) / static_cast<double>(H / heads)).to(at::kFloat);
    for (const char* n : {"attention.LayerNorm", "LayerNorm"}) {
      w[p + n + ".weight"] = 1 + r({H});
      w[p + n + ".bias"] = r({H});
    }
    w[p + "intermediate.dense.weight"] = r({2 * I, H});
    w[p + "output.dense.weight"] = r({H, I});
  }
  w["esm.encoder.emb_layer_norm_after.weight"] = 1 + r({H});
  w["esm.encoder.emb_layer_norm_after.bias"] = r({H});
  w["lm_head.dense.weight"] = r({H, H});
  w["lm_head.dense.bias"] = r({H});
  w["lm_head.layer_norm.weight"] = 1 + r({H});
  w["lm_head.layer_norm.bias"] = r({H});
  w["lm_head.decoder.weight"] = r({V, H});
  w["lm_head.bias"] = r({V});
  io::save_safetensors((dir.path / "model.safetensors").string(), w);

  auto loaded = models::load_model_dir(dir.path.string());
  EXPECT_EQ(loaded.config.architecture, "esm");
  EXPECT_EQ(loaded.config.pad_id, 1);
  EXPECT_FALSE(loaded.config.head.tied);
  loaded.model->to(at::kDouble);
  const at::Tensor ids = at::randint(3, V, {2, 7}, at::kLong);
  at::Tensor mask = at::ones({2, 7}, at::kBool);
  mask[1].narrow(0, 5, 2).fill_(false);
  const at::Tensor ours = loaded.model->forward(ids, mask).logits;
  const at::Tensor expected = esm_reference(w, ids, mask, L, heads, 1e-12);
  EXPECT_TRUE(at::allclose(ours[0], expected[0], 1e-5, 1e-5));
  EXPECT_TRUE(at::allclose(ours[1].narrow(0, 0, 5), expected[1].narrow(0, 0, 5), 1e-5, 1e-5));
  EXPECT_GT(expected.abs().max().item<double>(), 0.1);

  // A checkpoint missing a layer's tensor is refused with the tensor named.
  w.erase("esm.encoder.layer.1.output.dense.weight");
  io::save_safetensors((dir.path / "model.safetensors").string(), w);
  try {
    models::load_model_dir(dir.path.string());
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("missing tensor 'backbone.blocks.1.mlp.fc2.weight'"), std::string::npos)
        << e.what();
  }
}

TEST(Training, TinyModelOverfitsOneBatch) {
  manual_seed(9);
  auto config = tiny_config("AA", true, models::HeadKind::CausalLM);
  models::SequenceModel model(config);
  const at::Tensor ids = random_ids(4, 12, 11);
  torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(3e-3).weight_decay(0.0));
  double first = 0, last = 0;
  for (int step = 0; step < 300; ++step) {
    opt.zero_grad();
    const at::Tensor logits = model->forward(ids, at::Tensor()).logits;
    const at::Tensor loss = at::cross_entropy_loss(logits.narrow(1, 0, 11).reshape({-1, 11}),
                                                   ids.narrow(1, 1, 11).reshape({-1}));
    loss.backward();
    opt.step();
    if (step == 0) first = loss.item<double>();
    last = loss.item<double>();
  }
  EXPECT_GT(first, 2.0);  // about ln 11 = 2.4 at the start
  EXPECT_LT(last, 0.05);
}
