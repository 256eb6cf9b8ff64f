// test-deps: cuda flux io dype
// test-labels: gpu
// Our fused QK-RMSNorm + RoPE CUDA kernel (core/cuda) against the plain LibTorch path of core/flux (QKNorm, cat of
// the text and image streams, apply_rope), on the golden tiny model's real norm scales and the golden pe tables.
// Needs a CUDA device and a build with the kernels: otherwise every test SKIPs (label gpu: never counted as a pass
// on a CPU machine).
#include <c10/core/InferenceMode.h>
#include <torch/cuda.h>

#include <QtTest>

#include "core/common/error.h"
#include "core/cuda/fused_ops.h"
#include "core/flux/embed_nd.h"
#include "core/flux/loader.h"
#include "core/flux/model.h"
#include "tests/support/golden.h"

namespace {

std::array<at::Tensor, 3> split_heads(const at::Tensor& qkv, std::int64_t heads) {
  const std::int64_t B = qkv.size(0), L = qkv.size(1), D = qkv.size(2) / (3 * heads);
  const at::Tensor t = qkv.view({B, L, 3, heads, D}).permute({2, 0, 3, 1, 4});  // [3, B, H, L, D]
  return {t[0], t[1], t[2]};
}

at::Tensor scale_of(dype::flux::RMSNorm& n, at::ScalarType dtype) {
  return n->named_parameters()["scale"].to(dtype).contiguous();
}

// max |a − e| / max |e| in double.
double max_rel(const at::Tensor& a, const at::Tensor& e) {
  const at::Tensor ad = a.to(at::kCPU, at::kDouble), ed = e.to(at::kCPU, at::kDouble);
  return (ad - ed).abs().max().item<double>() / ed.abs().max().item<double>();
}

}  // namespace

class TestGpuQkNormRope : public QObject {
  Q_OBJECT

 private:
  // One double block's q/k handling on a golden case: fused (written into the joint buffers) vs unfused.
  void compare_on_case(const std::string& case_name, at::ScalarType dtype, double tol) {
    c10::InferenceMode guard;
    const auto c = dype::test::load_case(case_name);
    dype::flux::FluxLoadOptions lo;
    lo.dtype = dtype;
    lo.device = at::kCUDA;
    auto model = dype::flux::load_flux(c.model_dir() + "/comfy/flux.safetensors", lo);
    auto& blk = *model->double_blocks[0];
    const at::Tensor pe = c.expect("pe").to(at::kCUDA, at::kFloat);  // [1, 1, L, 32, 2, 2]
    const std::int64_t L = pe.size(2), Lt = c.json["params"]["n_txt_tokens"].get<std::int64_t>(), Li = L - Lt;
    const std::int64_t H = model->config().num_heads, C = model->config().hidden_size, D = C / H;
    for (int trial = 0; trial < 3; ++trial) {  // fresh inputs each time: the same function on any valid input
      const auto opts = at::TensorOptions().device(at::kCUDA).dtype(dtype);
      const at::Tensor txt_qkv = at::randn({1, Lt, 3 * C}, opts) * (1 + trial);  // [1, Lt, 3C]
      const at::Tensor img_qkv = at::randn({1, Li, 3 * C}, opts) * (1 + trial);  // [1, Li, 3C]
      const auto t = split_heads(txt_qkv, H), i = split_heads(img_qkv, H);

      auto tq = blk.txt_attn->norm->forward(t[0], t[1], t[2]);
      auto iq = blk.img_attn->norm->forward(i[0], i[1], i[2]);
      const at::Tensor q_ref = dype::flux::apply_rope(at::cat({tq.first, iq.first}, 2), pe);
      const at::Tensor k_ref = dype::flux::apply_rope(at::cat({tq.second, iq.second}, 2), pe);

      QVERIFY(dype::cuda::fused_qk_norm_rope_supported(t[0], pe));
      // Poisoned outputs: every element must be written.
      at::Tensor q = at::full({1, H, L, D}, std::nan(""), opts), k = at::full({1, H, L, D}, std::nan(""), opts);
      dype::cuda::fused_qk_norm_rope_out(t[0], t[1], scale_of(blk.txt_attn->norm->query_norm, dtype),
                                         scale_of(blk.txt_attn->norm->key_norm, dtype), pe.narrow(2, 0, Lt),
                                         q.narrow(2, 0, Lt), k.narrow(2, 0, Lt));
      dype::cuda::fused_qk_norm_rope_out(i[0], i[1], scale_of(blk.img_attn->norm->query_norm, dtype),
                                         scale_of(blk.img_attn->norm->key_norm, dtype), pe.narrow(2, Lt, Li),
                                         q.narrow(2, Lt, Li), k.narrow(2, Lt, Li));
      torch::cuda::synchronize();
      QVERIFY(!q.isnan().any().item<bool>());
      QVERIFY(!k.isnan().any().item<bool>());
      const double dq = max_rel(q, q_ref), dk = max_rel(k, k_ref);
      qInfo("%s %s trial %d: max rel diff q %.2e, k %.2e (tolerance %.0e)", case_name.c_str(), c10::toString(dtype),
            trial, dq, dk, tol);
      QVERIFY(dq <= tol);
      QVERIFY(dk <= tol);

      // The allocating form on the image stream alone agrees with the _out form.
      const auto pair =
          dype::cuda::fused_qk_norm_rope(i[0], i[1], scale_of(blk.img_attn->norm->query_norm, dtype),
                                         scale_of(blk.img_attn->norm->key_norm, dtype), pe.narrow(2, Lt, Li));
      QCOMPARE(max_rel(pair.first, q.narrow(2, Lt, Li)), 0.0);
      QCOMPARE(max_rel(pair.second, k.narrow(2, Lt, Li)), 0.0);
    }
  }

 private slots:
  void initTestCase() {
    if (dype::test::golden_root().empty()) QSKIP("golden data not found");
    if (!dype::cuda::fused_kernels_built()) QSKIP("this build has no CUDA kernels (no nvcc or a CPU-only LibTorch)");
    if (!torch::cuda::is_available()) QSKIP("no CUDA device");
  }

  // float32: only the order of the mean's reduction differs from the unfused kernels (~1e-7).
  void float32_matches_plain_path() {
    compare_on_case("B_transformer_32x48_yarn_paper_base16_t0.6", at::kFloat, 1e-5);
    compare_on_case("B_transformer_16x16_yarn_dype_t0.8", at::kFloat, 1e-5);
  }

  // bf16: both round at the same points (RMSNorm output, × scale, rope output); a different rsqrt/mean rounding
  // can flip one bf16 rounding: at most 2 bf16 ulps of the largest element.
  void bf16_matches_plain_path() {
    compare_on_case("B_transformer_32x48_yarn_paper_base16_t0.6", at::kBFloat16, 8e-3);
    compare_on_case("B_transformer_8x24_ntk_dype_t0.3", at::kBFloat16, 8e-3);
  }

  void rejects_what_it_cannot_run() {
    c10::InferenceMode guard;
    const auto opts = at::TensorOptions().device(at::kCUDA).dtype(at::kFloat);
    const at::Tensor q = at::randn({1, 2, 8, 48}, opts);  // head_dim 48: not supported
    const at::Tensor pe = at::randn({1, 1, 8, 24, 2, 2}, opts);
    QVERIFY(!dype::cuda::fused_qk_norm_rope_supported(q, pe));
    const at::Tensor s = at::ones({48}, opts);
    QVERIFY_THROWS_EXCEPTION(dype::InvalidArgument, dype::cuda::fused_qk_norm_rope(q, q, s, s, pe));
    const at::Tensor q64 = at::randn({1, 2, 8, 64}, opts), pe_bad = at::randn({1, 1, 7, 32, 2, 2}, opts);
    const at::Tensor s64 = at::ones({64}, opts);
    QVERIFY_THROWS_EXCEPTION(dype::InvalidArgument, dype::cuda::fused_qk_norm_rope(q64, q64, s64, s64, pe_bad));
  }
};

QTEST_APPLESS_MAIN(TestGpuQkNormRope)
#include "test_gpu_qk_norm_rope.moc"
