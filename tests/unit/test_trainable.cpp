// test-deps: flux vae text sampling
// Our own modules can be trained (the demo-model issue prefers a C++ trainer through them): with requires_grad set
// on their parameters, a backward pass reaches every parameter tensor of the FLUX transformer, the autoencoder and
// both text encoders with finite gradients; the transformer's gradient matches central finite differences along a
// random direction; and a few Adam steps of FLUX's rectified-flow loss (v = noise − x₀) on one batch
// lower it. Inference is untouched: without requires_grad the same code runs as before (every other test).
#include <ATen/ATen.h>
#include <torch/optim/adam.h>

#include <QtTest>
#include <cmath>
#include <string>
#include <vector>

#include "core/flux/model.h"
#include "core/io/stored_weight.h"
#include "core/sampling/pack.h"
#include "core/text/clip_text_model.h"
#include "core/text/t5_encoder.h"
#include "core/vae/autoencoder_loader.h"

using namespace dype;

namespace {

// A schnell-style FLUX (no guidance embedding) at test size: 2 heads × 32 (RoPE axes 8/12/12).
flux::FluxConfig tiny_flux() {
  flux::FluxConfig c;
  c.hidden_size = 64;
  c.num_heads = 2;
  c.axes_dim = {8, 12, 12};
  c.depth = 1;
  c.depth_single_blocks = 1;
  c.context_in_dim = 32;
  c.vec_in_dim = 24;
  c.guidance_embed = false;
  return c;
}

std::vector<at::Tensor> make_trainable(torch::nn::Module& m) {
  std::vector<at::Tensor> ps = m.parameters();
  for (auto& p : ps) p.requires_grad_(true);
  return ps;
}

// Every parameter has a gradient, all finite, and not all of them zero.
void check_gradients(torch::nn::Module& m, const char* what) {
  int nonzero = 0, total = 0;
  for (const auto& np : m.named_parameters()) {
    ++total;
    const at::Tensor& g = np.value().grad();
    QVERIFY2(g.defined(), qPrintable(QString("%1: no gradient reached %2").arg(what, np.key().c_str())));
    QVERIFY2(at::isfinite(g).all().item<bool>(), qPrintable(QString("%1: %2").arg(what, np.key().c_str())));
    nonzero += g.abs().sum().item<double>() > 0;
  }
  QVERIFY2(
      total > 0 && nonzero == total,
      qPrintable(QString("%1: %2 of %3 parameter tensors got a non-zero gradient").arg(what).arg(nonzero).arg(total)));
}

struct FlowBatch {
  at::Tensor img, img_ids, txt, txt_ids, t, y, target;
};

// FLUX's rectified flow on latent tokens: x_t = (1 − t)·x₀ + t·noise, target v = noise − x₀.
FlowBatch flow_batch(const flux::FluxConfig& c, at::ScalarType dtype, std::uint64_t seed) {
  at::manual_seed(static_cast<std::int64_t>(seed));
  const auto o = at::TensorOptions().dtype(dtype);
  const std::int64_t B = 2, h = 8, w = 8;  // latent 8×8 -> 4×4 = 16 tokens
  FlowBatch b;
  const at::Tensor x0 = sampling::pack_latent(at::randn({B, 16, h, w}, o));     // [B, 16, 64]
  const at::Tensor noise = sampling::pack_latent(at::randn({B, 16, h, w}, o));  // [B, 16, 64]
  b.t = at::rand({B}, o);                                                       // [B]
  const at::Tensor tt = b.t.view({B, 1, 1});
  b.img = (1 - tt) * x0 + tt * noise;
  b.target = noise - x0;
  b.img_ids = sampling::image_ids(B, h, w);        // [B, 16, 3]
  b.txt = at::randn({B, 4, c.context_in_dim}, o);  // [B, 4, context]
  b.txt_ids = sampling::text_ids(B, 4);            // [B, 4, 3]
  b.y = at::randn({B, c.vec_in_dim}, o);           // [B, vec]
  return b;
}

at::Tensor flow_loss(flux::Flux& model, const FlowBatch& b) {
  DypeConfig none;
  none.method = DypeMethod::None;
  const at::Tensor v = model->forward(b.img, b.img_ids, b.txt, b.txt_ids, b.t, b.y, at::Tensor(), none, 1.0);
  return (v - b.target).pow(2).mean();
}

}  // namespace

class TestTrainable : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void fluxGradientsReachEveryParameter() {
    const auto cfg = tiny_flux();
    flux::Flux model = flux::make_random_flux(cfg, 1, at::kFloat);
    make_trainable(*model);
    flow_loss(model, flow_batch(cfg, at::kFloat, 2)).backward();
    check_gradients(*model, "flux");
  }

  // d/dε L(θ + ε·d) at 0 by central differences equals ⟨∇L, d⟩: the backward pass is the derivative of the
  // forward. float32 (the transformer's CPU compute dtype; it refuses float64).
  void fluxGradientMatchesFiniteDifferences() {
    const auto cfg = tiny_flux();
    flux::Flux model = flux::make_random_flux(cfg, 3, at::kFloat);
    const std::vector<at::Tensor> ps = make_trainable(*model);
    const FlowBatch b = flow_batch(cfg, at::kFloat, 4);
    flow_loss(model, b).backward();
    at::manual_seed(5);
    std::vector<at::Tensor> dir;
    double analytic = 0;
    for (const auto& p : ps) {
      dir.push_back(at::randn_like(p));
      analytic += (p.grad() * dir.back()).sum().item<double>();
    }
    const double eps = 1e-3;
    auto loss_at = [&](double s) {
      at::NoGradGuard no_grad;
      for (std::size_t i = 0; i < ps.size(); ++i) ps[i].add_(dir[i], s);
      const double l = flow_loss(model, b).item<double>();
      for (std::size_t i = 0; i < ps.size(); ++i) ps[i].sub_(dir[i], s);
      return l;
    };
    const double numeric = (loss_at(eps) - loss_at(-eps)) / (2 * eps);
    qInfo("directional derivative: backward %.9g, central difference %.9g", analytic, numeric);
    // float32 rounding of the two losses (~1e-7 each) over 2ε, plus the O(ε²) truncation: 1 % is ample, while a
    // wrong or missing gradient term is off by far more.
    QVERIFY2(std::fabs(analytic - numeric) <= 1e-2 * std::max(1.0, std::fabs(numeric)),
             qPrintable(QString("backward %1 vs finite difference %2").arg(analytic).arg(numeric)));
  }

  void adamLowersTheFlowLoss() {
    const auto cfg = tiny_flux();
    flux::Flux model = flux::make_random_flux(cfg, 6, at::kFloat);
    torch::optim::Adam opt(make_trainable(*model), torch::optim::AdamOptions(3e-3));
    const FlowBatch b = flow_batch(cfg, at::kFloat, 7);
    double first = 0, last = 0;
    for (int step = 0; step < 40; ++step) {
      opt.zero_grad();
      const at::Tensor loss = flow_loss(model, b);
      loss.backward();
      opt.step();
      (step == 0 ? first : last) = loss.item<double>();
    }
    qInfo("rectified-flow loss on one batch: %.4f -> %.4f after 40 Adam steps", first, last);
    QVERIFY2(last < 0.5 * first, qPrintable(QString("%1 -> %2").arg(first).arg(last)));
  }

  // A weight stored in another dtype than the compute dtype (bfloat16 file, float32 compute: the pipeline's
  // keep-storage load) converts through this thread's shared scratch when inferring; when training it must not,
  // or the second layer's conversion would overwrite the first's weight before backward and no gradient would
  // reach the stored tensor.
  void storedWeightConversionIsDifferentiableWhenTraining() {
    io::StoredWeight a, b;
    a.data = at::randn({8, 4}).to(at::kBFloat16).requires_grad_(true);
    b.data = at::randn({8, 4}).to(at::kBFloat16).requires_grad_(true);
    const at::Tensor wa = a.to_transient(at::kFloat, at::kCPU);
    const at::Tensor wb = b.to_transient(at::kFloat, at::kCPU);
    QVERIFY(wa.requires_grad() && wb.requires_grad());
    QVERIFY(wa.data_ptr() != wb.data_ptr());
    QVERIFY(at::equal(wa, a.data.to(at::kFloat)));  // not overwritten by b's conversion
    (wa.sum() + 2 * wb.sum()).backward();
    QVERIFY(a.data.grad().defined() && b.data.grad().defined());
    QVERIFY(at::allclose(b.data.grad().to(at::kFloat), at::full({8, 4}, 2.0)));
    // Inference (no gradient wanted) keeps the shared scratch: the second conversion reuses the first's memory.
    at::NoGradGuard no_grad;
    const void* first = a.to_transient(at::kFloat, at::kCPU).data_ptr();
    QCOMPARE(b.to_transient(at::kFloat, at::kCPU).data_ptr(), first);
  }

  void autoencoderGradientsReachEveryParameter() {
    vae::AutoEncoderConfig c;
    c.ch = 32;
    c.ch_mult = {1, 2};
    c.num_res_blocks = 1;
    c.norm_groups = 16;
    vae::AutoEncoder ae = vae::make_random_autoencoder(c, 8, at::kFloat);
    make_trainable(*ae);
    at::manual_seed(9);
    const at::Tensor x = at::rand({2, 3, 16, 16}) * 2 - 1;  // [B, 3, H, W]
    at::Tensor moments;
    const at::Tensor z = ae->encode(x, &moments);  // [B, 16, 8, 8]
    // Reconstruction through the mean, plus a term on the log-variance half (a VAE's KL), so both halves train.
    const at::Tensor logvar = moments.narrow(1, c.z_channels, c.z_channels);
    const at::Tensor loss = (ae->decode(z) - x).pow(2).mean() + 1e-3 * logvar.pow(2).mean();
    loss.backward();
    check_gradients(*ae, "autoencoder");
  }

  void textEncodersGradientsReachEveryParameter() {
    text::ClipTextConfig cc;
    cc.vocab_size = 100;
    cc.hidden_size = 64;
    cc.num_heads = 2;
    cc.intermediate_size = 128;
    cc.num_layers = 1;
    text::ClipTextModel clip = text::make_random_clip_text_model(cc, 10, at::kFloat);
    make_trainable(*clip);
    const at::Tensor ids = at::randint(0, cc.vocab_size, {2, cc.max_positions}, at::kLong);  // [B, 77]
    const text::ClipTextOutput out = clip->forward(ids);
    (out.last_hidden_state.pow(2).mean() + out.pooled.pow(2).mean()).backward();
    // The token table only gets gradient on the rows used; the tensor as a whole does.
    check_gradients(*clip, "clip");

    text::T5EncoderConfig tc;
    tc.vocab_size = 100;
    tc.d_model = 32;
    tc.d_kv = 16;
    tc.num_heads = 2;
    tc.d_ff = 64;
    tc.num_layers = 1;
    text::T5Encoder t5 = text::make_random_t5_encoder(tc, 11, at::kFloat);
    make_trainable(*t5);
    t5->forward(at::randint(0, tc.vocab_size, {2, 16}, at::kLong)).pow(2).mean().backward();
    check_gradients(*t5, "t5");
  }
};

QTEST_GUILESS_MAIN(TestTrainable)
#include "test_trainable.moc"
