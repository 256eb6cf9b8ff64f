// bench_qk_norm_rope: our fused QK-RMSNorm + RoPE CUDA kernel (core/cuda) against the plain LibTorch path of
// core/flux (QKNorm of the image and text streams, cat into the joint sequence, apply_rope to q and k), as a double
// block runs it: first a check on the golden tiny model (its real query/key norm scales, the golden pe of a DyPE
// case, fresh random q/k in the qkv projection's layout), then timings at FLUX.1-dev shapes (24 heads × 128) for
// 1 / 4 / 16 MP token counts. Prints one `QKROPE {json}` line per size. Without CUDA kernels (CPU build, or
// --device cpu) only the unfused path is timed.
//
//   bench_qk_norm_rope [--device cuda] [--dtype bf16|f32] [--img-tokens 4096,16384,65536] [--iters 20]
//                      [--golden DIR]
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <filesystem>
#include <sstream>

#include "bench/perf_common.h"
#include "core/cuda/fused_ops.h"
#include "core/flux/blocks.h"
#include "core/flux/embed_nd.h"
#include "core/flux/loader.h"
#include "core/flux/model.h"
#include "core/io/safetensors.h"

using namespace dype;
namespace fs = std::filesystem;

namespace {

// q, k, v views of a qkv projection output [B, L, 3·H·D], as core/flux's blocks split it.
std::array<at::Tensor, 3> split_heads(const at::Tensor& qkv, std::int64_t heads) {
  const std::int64_t B = qkv.size(0), L = qkv.size(1), D = qkv.size(2) / (3 * heads);
  const at::Tensor t = qkv.view({B, L, 3, heads, D}).permute({2, 0, 3, 1, 4});  // [3, B, H, L, D]
  return {t[0], t[1], t[2]};
}

// The unfused path of a double block for the q/k part: QKNorm per stream, joint cat, rope.
std::pair<at::Tensor, at::Tensor> unfused(flux::QKNormImpl& txt_norm, flux::QKNormImpl& img_norm,
                                          const std::array<at::Tensor, 3>& t, const std::array<at::Tensor, 3>& i,
                                          const at::Tensor& pe) {
  auto tq = txt_norm.forward(t[0], t[1], t[2]);
  auto iq = img_norm.forward(i[0], i[1], i[2]);
  const at::Tensor q = at::cat({tq.first, iq.first}, 2), k = at::cat({tq.second, iq.second}, 2);  // [B, H, L, D]
  return {flux::apply_rope(q, pe), flux::apply_rope(k, pe)};
}

// The fused path: both streams written straight into the joint [B, H, L, D] buffers.
std::pair<at::Tensor, at::Tensor> fused(flux::QKNormImpl& txt_norm, flux::QKNormImpl& img_norm,
                                        const std::array<at::Tensor, 3>& t, const std::array<at::Tensor, 3>& i,
                                        const at::Tensor& pe, const at::Tensor& q_scales, const at::Tensor& k_scales) {
  const std::int64_t B = t[0].size(0), H = t[0].size(1), Lt = t[0].size(2), Li = i[0].size(2), D = t[0].size(3);
  at::Tensor q = at::empty({B, H, Lt + Li, D}, t[0].options()), k = at::empty_like(q);
  cuda::fused_qk_norm_rope_out(t[0], t[1], q_scales[0], k_scales[0], pe.narrow(2, 0, Lt), q.narrow(2, 0, Lt),
                               k.narrow(2, 0, Lt));
  cuda::fused_qk_norm_rope_out(i[0], i[1], q_scales[1], k_scales[1], pe.narrow(2, Lt, Li), q.narrow(2, Lt, Li),
                               k.narrow(2, Lt, Li));
  return {q, k};
}

// Scales of a QKNorm as [2][D] stacks: row 0 txt, row 1 img (kept in the compute dtype, as the model holds them).
at::Tensor stack_scales(flux::QKNormImpl& txt, flux::QKNormImpl& img, bool query, at::ScalarType dtype) {
  const auto get = [&](flux::QKNormImpl& n) {
    return (query ? n.query_norm : n.key_norm)->named_parameters()["scale"].to(dtype);
  };
  return at::stack({get(txt), get(img)}).contiguous();
}

// A QKNorm with given scales (the benchmark's stand-in for a checkpoint).
class ScaleSource : public io::WeightSource {
 public:
  ScaleSource(at::Tensor q, at::Tensor k) : WeightSource(q.scalar_type(), q.device()), q_(q), k_(k) {}
  at::Tensor take(const std::string& name, at::IntArrayRef) override {
    return name.find("query_norm") != std::string::npos ? q_ : k_;
  }
  void finish() override {}

 private:
  at::Tensor q_, k_;
};

int check_golden(const fs::path& golden, const at::Device& device, at::ScalarType dtype) {
  const fs::path case_dir = golden / "cases" / "B_transformer_32x48_yarn_paper_base16_t0.6";
  if (!fs::exists(case_dir)) {
    std::printf("golden check skipped: %s not found\n", case_dir.string().c_str());
    return 0;
  }
  flux::FluxLoadOptions lo;
  lo.dtype = dtype;
  lo.device = device;
  flux::Flux model = flux::load_flux((golden / "models/tiny-dev/comfy/flux.safetensors").string(), lo);
  const at::Tensor pe = io::SafetensorsFile::open((case_dir / "expected.safetensors").string())
                            ->tensor("pe", at::kFloat)
                            .to(device);  // [1, 1, 1552, 32, 2, 2]
  const std::int64_t L = pe.size(2), Lt = 16, Li = L - Lt, H = model->config().num_heads;
  const std::int64_t C = model->config().hidden_size;
  auto& blk = *model->double_blocks[0];
  const at::Tensor txt_qkv = at::randn({1, Lt, 3 * C}, at::TensorOptions().device(device).dtype(dtype)) * 3;
  const at::Tensor img_qkv = at::randn({1, Li, 3 * C}, at::TensorOptions().device(device).dtype(dtype)) * 3;
  const auto t = split_heads(txt_qkv, H), i = split_heads(img_qkv, H);
  const auto ref = unfused(*blk.txt_attn->norm, *blk.img_attn->norm, t, i, pe);
  const at::Tensor qs = stack_scales(*blk.txt_attn->norm, *blk.img_attn->norm, true, dtype);
  const at::Tensor ks = stack_scales(*blk.txt_attn->norm, *blk.img_attn->norm, false, dtype);
  const auto got = fused(*blk.txt_attn->norm, *blk.img_attn->norm, t, i, pe, qs, ks);
  const double dq = bench::max_rel_diff(got.first, ref.first), dk = bench::max_rel_diff(got.second, ref.second);
  // float32: only the reduction order of the mean differs (~1e-7); bf16: the same plus at most one bf16 rounding
  // step where an intermediate lands on a tie differently (2^-8 relative to the element, far less of the max).
  const double tol = dtype == at::kFloat ? 1e-5 : 8e-3;
  const bool ok = dq <= tol && dk <= tol;
  std::printf("QKROPE check (golden tiny model, pe of %s, %s): max rel diff q %.2e k %.2e (tolerance %.0e) %s\n",
              case_dir.filename().string().c_str(), c10::toString(dtype), dq, dk, tol, ok ? "ok" : "FAIL");
  return ok ? 0 : 1;
}

int run(const bench::Options& o) {
  const at::Device device = bench::parse_device(o.str("device", torch::cuda::is_available() ? "cuda" : "cpu"));
  const at::ScalarType dtype = bench::parse_dtype(o.str("dtype", device.is_cuda() ? "bf16" : "f32"));
  const int iters = static_cast<int>(o.integer("iters", device.is_cuda() ? 20 : 3));
  c10::InferenceMode inference;
  const bool have_fused = device.is_cuda() && cuda::fused_kernels_built();
  if (!have_fused)
    std::printf("fused kernel: %s; timing the unfused LibTorch path only\n",
                device.is_cuda() ? "not in this build (LibTorch without CUDA or no nvcc)" : "CPU device");

  int status = 0;
  if (have_fused && o.has("golden")) status = check_golden(o.str("golden"), device, dtype);

  std::vector<std::int64_t> sizes;
  std::stringstream ss(o.str("img-tokens", device.is_cuda() ? "4096,16384,65536" : "1024,4096"));
  for (std::string s; std::getline(ss, s, ',');) sizes.push_back(std::stoll(s));
  const std::int64_t H = 24, D = 128, C = H * D, Lt = 512;
  const auto opts = at::TensorOptions().device(device).dtype(dtype);
  ScaleSource src_t(1 + 0.1 * at::randn({D}, opts), 1 + 0.1 * at::randn({D}, opts));
  ScaleSource src_i(1 + 0.1 * at::randn({D}, opts), 1 + 0.1 * at::randn({D}, opts));
  flux::QKNorm txt_norm(src_t, "txt.norm", D), img_norm(src_i, "img.norm", D);
  const at::Tensor qs = stack_scales(*txt_norm, *img_norm, true, dtype);
  const at::Tensor ks = stack_scales(*txt_norm, *img_norm, false, dtype);
  for (const std::int64_t Li : sizes) {
    const at::Tensor txt_qkv = at::randn({1, Lt, 3 * C}, opts), img_qkv = at::randn({1, Li, 3 * C}, opts);
    const auto t = split_heads(txt_qkv, H), i = split_heads(img_qkv, H);
    const at::Tensor ang = at::rand({1, 1, Lt + Li, D / 2}, at::TensorOptions().device(device)) * 6.28;
    const at::Tensor pe =
        at::stack({ang.cos(), -ang.sin(), ang.sin(), ang.cos()}, -1).view({1, 1, Lt + Li, D / 2, 2, 2});
    const double ms_u =
        bench::median(bench::time_ms([&] { unfused(*txt_norm, *img_norm, t, i, pe); }, device, 2, iters));
    double ms_f = -1, max_diff = -1;
    if (have_fused) {
      ms_f = bench::median(bench::time_ms([&] { fused(*txt_norm, *img_norm, t, i, pe, qs, ks); }, device, 2, iters));
      const auto a = fused(*txt_norm, *img_norm, t, i, pe, qs, ks);
      const auto b = unfused(*txt_norm, *img_norm, t, i, pe);
      max_diff = std::max(bench::max_rel_diff(a.first, b.first), bench::max_rel_diff(a.second, b.second));
    }
    // Fused traffic: q and k read and written once, pe read once.
    const double bytes =
        4.0 * static_cast<double>(Lt + Li) * static_cast<double>(C) * static_cast<double>(at::elementSize(dtype)) +
        static_cast<double>(Lt + Li) * static_cast<double>(D) * 2 * 4;
    std::printf(
        "QKROPE {\"tokens\": %lld, \"heads\": %lld, \"head_dim\": %lld, \"device\": \"%s\", \"dtype\": \"%s\", "
        "\"ms_unfused\": %.4f, \"ms_fused\": %.4f, \"speedup\": %.2f, \"fused_GBps\": %.1f, "
        "\"max_rel_diff\": %.2e}\n",
        static_cast<long long>(Lt + Li), static_cast<long long>(H), static_cast<long long>(D), device.str().c_str(),
        c10::toString(dtype), ms_u, ms_f, ms_f > 0 ? ms_u / ms_f : 0.0, ms_f > 0 ? bytes / (ms_f * 1e-3) / 1e9 : 0.0,
        max_diff);
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const bench::Options o(argc, argv, {"device", "dtype", "img-tokens", "iters", "golden"}, {});
    if (o.help()) {
      std::puts(
          "bench_qk_norm_rope [--device cuda|cpu] [--dtype bf16|f32] [--img-tokens N,N,...] [--iters N] "
          "[--golden DIR]");
      return 0;
    }
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_qk_norm_rope: %s\n", e.what());
    return 1;
  }
}
