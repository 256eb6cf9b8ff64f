// make_real_checkpoint: writes safetensors files with the key names, shapes and dtypes of the real FLUX.1 files
// (BFL flux1-dev / flux1-schnell transformer, ComfyUI t5xxl_* and clip_l, BFL ae) filled with deterministic
// pseudo-random values, so that loading, memory planning and per-step speed can be measured at real size on a
// machine that has not downloaded the 30+ GB of real weights (bench/run_real_shape_bench.sh drives it).
//
// Names and shapes are not written down here: the models of core/ are constructed with a recording WeightSource
// that notes every (name, shape) the constructors ask for and hands back a zero-memory placeholder. The files
// therefore always match our loaders, including after a model change.
//
//   make_real_checkpoint --what flux-schnell,t5xxl --dtype fp8 --out /tmp/dype-realshape
//   make_real_checkpoint --what all --dtype bf16 --scale-shapes 1/16 --out /tmp/dype-small   (small, same code path)
//
// Values (the rule of io::RandomWeights, so a forward pass gives finite numbers): matrices and conv kernels
// normal(0, 1/sqrt(fan_in)) with fan_in = product of the dims after the first; embedding tables (T5 `shared`, CLIP
// token/position embeddings) normal(0, 1); 1-D tensors 1 when their name says norm/scale (and not bias), else 0.
// Each value costs 16 random bits and one lookup in a per-tensor table of 65,536 pre-encoded normal quantiles,
// and the file is streamed in 16 MiB chunks through a writer thread: the generator's memory stays ~100-200 MB
// whatever the file size, and its speed is the disk's.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/common/error.h"
#include "core/common/strings.h"
#include "core/flux/config.h"
#include "core/flux/model.h"
#include "core/io/dtype.h"
#include "core/io/safetensors.h"
#include "core/io/weights.h"
#include "core/pipeline/demo_resources.h"
#include "core/text/clip_text_model.h"
#include "core/text/clip_tokenizer.h"
#include "core/text/t5_encoder.h"
#include "core/text/t5_tokenizer.h"
#include "core/vae/autoencoder.h"

namespace fs = std::filesystem;
using dype::io::DType;

namespace {

const char* kHelp =
    "usage: make_real_checkpoint [--what LIST] [--dtype D] [--out DIR] [options]\n\n"
    "  --what LIST        comma list of flux-dev, flux-schnell, t5xxl, clip-l, vae, or all     (default all)\n"
    "  --dtype D          bf16 | fp8 | fp8-scaled-legacy | fp8-scaled-new | f32                  (default bf16)\n"
    "                     fp8*: tensors with >= 2 dims as F8_E4M3 (raw e4m3fn bytes), 1-D tensors BF16;\n"
    "                     fp8-scaled-legacy: + `scaled_fp8` marker and float32 `X.scale_weight` per layer;\n"
    "                     fp8-scaled-new: + float32 `X.weight_scale`, U8 `X.comfy_quant` and the\n"
    "                     `_quantization_metadata` header entry. clip-l and vae are always written as bf16\n"
    "                     (f32 with --dtype f32): the real files of those two are never fp8.\n"
    "  --prefix STR       put STR in front of every key, e.g. model.diffusion_model. (ComfyUI full checkpoint)\n"
    "  --out DIR          output folder, created if needed                          (default /tmp/dype-realshape)\n"
    "  --seed N           value seed (each tensor's stream is seeded from its name and N)           (default 0)\n"
    "  --scale-shapes F   0 < F <= 1 (a number or a fraction such as 1/16): widths (hidden, heads, d_model,\n"
    "                     d_ff, CLIP hidden, VAE channels) and depths (blocks, layers, res blocks) times F,\n"
    "                     rounded to what the architectures need (FLUX head dim 128, T5 d_kv 64, multiples of 64,\n"
    "                     VAE channels multiples of 32, at least one of everything). Vocabularies, latent\n"
    "                     channels and RoPE axes keep their real sizes. 1 = the real models (default). For\n"
    "                     quick runs of the same code path: --scale-shapes 1/16 writes ~45 MB per model set.\n"
    "  --skip-existing    keep a file that already exists with exactly the header and size this run would write\n"
    "  --dry-run          print the files, tensors, parameters and bytes; write nothing\n"
    "  --no-tokenizers    do not write tokenizer/ and tokenizer_2/ (the demo tokenizers) into DIR\n"
    "  --help             this text\n\n"
    "Files (the names of the real ones): flux1-dev.safetensors, flux1-schnell.safetensors (bf16),\n"
    "flux1-<v>-fp8.safetensors, flux1-<v>-fp8-scaled.safetensors, flux1-<v>-fp8-scaled-new.safetensors,\n"
    "flux1-<v>-f32.safetensors; t5xxl_bf16, t5xxl_fp8_e4m3fn, t5xxl_fp8_e4m3fn_scaled, t5xxl_fp8_e4m3fn_scaled_new,\n"
    "t5xxl_f32; clip_l (bf16) / clip_l_f32; ae (bf16) / ae_f32; plus tokenizer/{vocab.json,merges.txt} and\n"
    "tokenizer_2/spiece.model. Real-shape sets are large (dev bf16 22.2 GiB, schnell fp8 11.1 GiB, t5xxl fp8\n"
    "4.6 GiB): write them outside the source tree (refused inside a git work tree unless --scale-shapes < 1).\n";

// ---------------------------------------------------------------------------------------------------------------
// Options

enum class Kind { BF16, FP8, FP8ScaledLegacy, FP8ScaledNew, F32 };
const std::string kKindNames[] = {"bf16", "fp8", "fp8-scaled-legacy", "fp8-scaled-new", "f32"};  // --dtype, by Kind

struct Options {
  std::vector<std::string> what;
  Kind kind = Kind::BF16;
  std::string prefix;
  std::string out = "/tmp/dype-realshape";
  std::uint64_t seed = 0;
  double scale = 1.0;
  std::string scale_text = "1";
  bool skip_existing = false, dry_run = false, tokenizers = true;
};

[[noreturn]] void usage_error(const std::string& msg) {
  std::cerr << "make_real_checkpoint: " << msg << " (see --help)\n";
  std::exit(2);
}

double parse_fraction(const std::string& s) {
  const auto slash = s.find('/');
  char* end = nullptr;
  if (slash == std::string::npos) {
    const double v = std::strtod(s.c_str(), &end);
    return end != s.c_str() && *end == '\0' ? v : -1;
  }
  const std::string a = s.substr(0, slash), b = s.substr(slash + 1);
  const double n = std::strtod(a.c_str(), &end);
  if (end == a.c_str() || *end != '\0') return -1;
  const double d = std::strtod(b.c_str(), &end);
  if (end == b.c_str() || *end != '\0' || d == 0) return -1;
  return n / d;
}

Options parse_args(int argc, char** argv) {
  Options o;
  std::string what = "all";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::cout << kHelp;
      std::exit(0);
    } else if (a == "--what") {
      what = value();
    } else if (a == "--dtype") {
      const std::string d = value();
      const auto k = std::find(std::begin(kKindNames), std::end(kKindNames), d);
      if (k == std::end(kKindNames))
        usage_error("unknown --dtype '" + d + "' (bf16, fp8, fp8-scaled-legacy, fp8-scaled-new, f32)");
      o.kind = static_cast<Kind>(k - std::begin(kKindNames));
    } else if (a == "--prefix") {
      o.prefix = value();
    } else if (a == "--out") {
      o.out = value();
    } else if (a == "--seed") {
      const std::string s = value();
      char* end = nullptr;
      o.seed = std::strtoull(s.c_str(), &end, 10);
      if (s.empty() || *end != '\0' || s[0] == '-')
        usage_error("--seed expects a non-negative integer, got '" + s + "'");
    } else if (a == "--scale-shapes") {
      o.scale_text = value();
      o.scale = parse_fraction(o.scale_text);
      if (!(o.scale > 0 && o.scale <= 1)) usage_error("--scale-shapes expects 0 < F <= 1, got '" + o.scale_text + "'");
    } else if (a == "--skip-existing") {
      o.skip_existing = true;
    } else if (a == "--dry-run") {
      o.dry_run = true;
    } else if (a == "--no-tokenizers") {
      o.tokenizers = false;
    } else {
      usage_error("unknown argument '" + a + "'");
    }
  }
  std::stringstream ss(what);
  for (std::string w; std::getline(ss, w, ',');) {
    if (w == "all") {
      for (const char* c : {"flux-dev", "flux-schnell", "t5xxl", "clip-l", "vae"}) o.what.push_back(c);
    } else if (w == "flux-dev" || w == "flux-schnell" || w == "t5xxl" || w == "clip-l" || w == "vae") {
      o.what.push_back(w);
    } else {
      usage_error("unknown component '" + w + "' in --what (flux-dev, flux-schnell, t5xxl, clip-l, vae, all)");
    }
  }
  if (o.what.empty()) usage_error("--what names no component");
  return o;
}

// ---------------------------------------------------------------------------------------------------------------
// Model configurations, real or scaled by --scale-shapes

// round(full * f) to a multiple of `multiple`, at least `min`.
std::int64_t scaled(std::int64_t full, double f, std::int64_t multiple, std::int64_t min) {
  const auto v = static_cast<std::int64_t>(std::llround(static_cast<double>(full) * f / static_cast<double>(multiple)));
  return std::max(min, v * multiple);
}

dype::text::T5EncoderConfig t5_config(double f) {
  auto c = dype::text::T5EncoderConfig::t5_xxl();  // vocab 32128, d_model 4096, 64 heads × 64, d_ff 10240, 24 layers
  if (f == 1) return c;
  c.d_model = scaled(c.d_model, f, 64, 64);
  c.num_heads = scaled(c.num_heads, f, 1, 1);  // d_kv stays 64 (the loader infers it from q's rows / heads)
  c.d_ff = scaled(c.d_ff, f, 64, 64);
  c.num_layers = scaled(c.num_layers, f, 1, 1);
  return c;
}

dype::text::ClipTextConfig clip_config(double f) {
  auto c = dype::text::ClipTextConfig::clip_l();  // vocab 49408, hidden 768, 12 layers × 12 heads, mlp 3072, 77 pos
  if (f == 1) return c;
  c.hidden_size = scaled(c.hidden_size, f, 64, 64);
  c.num_heads = c.hidden_size / 64;  // heads change no shape; only the loader's inference needs to agree
  c.intermediate_size = 4 * c.hidden_size;
  c.num_layers = scaled(c.num_layers, f, 1, 1);
  return c;
}

dype::flux::FluxConfig flux_config(bool dev, double f) {
  auto c = dev ? dype::flux::FluxConfig::dev() : dype::flux::FluxConfig::schnell();
  if (f == 1) return c;
  c.num_heads = scaled(c.num_heads, f, 1, 1);
  c.hidden_size = 128 * c.num_heads;  // head dim 128 keeps FLUX's RoPE axes (16, 56, 56)
  c.depth = scaled(c.depth, f, 1, 1);
  c.depth_single_blocks = scaled(c.depth_single_blocks, f, 1, 1);
  c.context_in_dim = t5_config(f).d_model;    // txt_in reads T5's hidden states
  c.vec_in_dim = clip_config(f).hidden_size;  // vector_in reads CLIP's pooled output
  return c;
}

dype::vae::AutoEncoderConfig vae_config(double f) {
  dype::vae::AutoEncoderConfig c;  // the real FLUX AE: ch 128, ch_mult 1,2,4,4, 2 res blocks, z 16
  if (f == 1) return c;
  c.ch = static_cast<int>(scaled(c.ch, f, 32, 32));  // GroupNorm(32) needs multiples of 32
  c.num_res_blocks = static_cast<int>(scaled(c.num_res_blocks, f, 1, 1));
  return c;
}

// ---------------------------------------------------------------------------------------------------------------
// Recording the parameters a model asks for

struct Recorded {
  std::string name;
  std::vector<std::int64_t> shape;
};

// A WeightSource that only notes (name, shape). The placeholder it returns has the right sizes but all-zero
// strides over a one-element storage: constructing a real-size model costs no memory. take_stored() keeps the
// base class's default, which calls take(): every parameter passes through here whichever way a module asks.
class RecordingWeights : public dype::io::WeightSource {
 public:
  RecordingWeights() : WeightSource(at::kFloat, at::kCPU) {}
  at::Tensor take(const std::string& name, at::IntArrayRef shape) override {
    list_.push_back({name, shape.vec()});
    return at::empty_strided(shape, std::vector<std::int64_t>(shape.size(), 0), at::kFloat);
  }
  void finish() override {}
  const std::vector<Recorded>& list() const { return list_; }

 private:
  std::vector<Recorded> list_;
};

std::int64_t numel(const std::vector<std::int64_t>& shape) {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::vector<Recorded> record(const std::string& what, double f, std::string* describe) {
  RecordingWeights ws;
  std::ostringstream d;
  if (what == "flux-dev" || what == "flux-schnell") {
    const auto c = flux_config(what == "flux-dev", f);
    dype::flux::Flux model(c, ws);
    d << c.describe();
    std::int64_t n = 0;
    for (const auto& r : ws.list()) n += numel(r.shape);
    if (n != c.parameter_count())  // two independent countings of the same architecture must agree
      throw dype::Error("internal: recorded " + std::to_string(n) + " parameters, FluxConfig::parameter_count() says " +
                        std::to_string(c.parameter_count()));
  } else if (what == "t5xxl") {
    const auto c = t5_config(f);
    dype::text::T5Encoder model(c, ws);
    d << "d_model " << c.d_model << ", " << c.num_heads << " heads × " << c.d_kv << ", d_ff " << c.d_ff << ", "
      << c.num_layers << " layers, vocab " << c.vocab_size;
  } else if (what == "clip-l") {
    const auto c = clip_config(f);
    dype::text::ClipTextModel model(c, ws);
    d << "hidden " << c.hidden_size << ", " << c.num_layers << " layers, mlp " << c.intermediate_size << ", vocab "
      << c.vocab_size << ", " << c.max_positions << " positions";
  } else {
    const auto c = vae_config(f);
    dype::vae::AutoEncoder model(ws, c);
    d << c.to_string();
  }
  *describe = d.str();
  return ws.list();
}

// ---------------------------------------------------------------------------------------------------------------
// Values: random streams and pre-encoded normal quantiles

// splitmix64 seeds xoshiro256** (Blackman & Vigna), a fast generator whose every output bit is good: one 64-bit
// draw gives four 16-bit table indices.
struct Xoshiro256 {
  std::uint64_t s[4];
  explicit Xoshiro256(std::uint64_t seed) {
    for (auto& x : s) {
      seed += 0x9E3779B97F4A7C15ull;
      std::uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      x = z ^ (z >> 31);
    }
  }
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t next() {
    const std::uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
  }
};

// A tensor's stream of 16-bit indices, the same whatever chunks it is consumed in.
struct IndexStream {
  Xoshiro256 rng;
  std::uint64_t bits = 0;
  int left = 0;
  explicit IndexStream(std::uint64_t seed) : rng(seed) {}
  std::uint32_t one() {
    if (left == 0) {
      bits = rng.next();
      left = 4;
    }
    const auto v = static_cast<std::uint32_t>(bits & 0xFFFF);
    bits >>= 16;
    --left;
    return v;
  }
};

// FNV-1a of the name: each tensor's values depend on its name and the seed only (as io::RandomWeights does).
std::uint64_t hash_name(const std::string& s, std::uint64_t seed) {
  std::uint64_t h = 1469598103934665603ull ^ seed;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// Inverse of the standard normal CDF (P. J. Acklam's rational approximation, relative error < 1.2e-9).
double normal_quantile(double p) {
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,  -2.759285104469687e+02,
                             1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01, -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                             3.754408661907416e+00};
  const double lo = 0.02425;
  if (p < lo) {
    const double q = std::sqrt(-2 * std::log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - lo) return -normal_quantile(1 - p);
  const double q = p - 0.5, r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

// z_i = Phi^-1((i + 0.5) / 65536): a uniform 16-bit index picks a standard normal value.
const std::vector<double>& quantiles() {
  static const std::vector<double> z = [] {
    std::vector<double> v(65536);
    for (int i = 0; i < 65536; ++i) v[i] = normal_quantile((i + 0.5) / 65536.0);
    return v;
  }();
  return z;
}
double max_quantile() { return quantiles().back(); }  // ≈ 4.33

// float -> bf16 bits, round to nearest even (finite inputs only).
std::uint16_t to_bf16(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, 4);
  u += 0x7FFF + ((u >> 16) & 1);
  return static_cast<std::uint16_t>(u >> 16);
}

// float -> e4m3fn byte, round to nearest even, saturating at ±448 (e4m3fn has no infinity and 0x7F/0xFF are NaN:
// never emitted). The code values come from our own decoder, so writer and reader agree by construction.
std::uint8_t to_e4m3(float x) {
  static const std::vector<float> pos = [] {  // value of codes 0x00..0x7E, increasing
    std::vector<float> v(0x7F);
    for (int c = 0; c < 0x7F; ++c) v[c] = dype::io::float8_e4m3_to_float(static_cast<std::uint8_t>(c));
    return v;
  }();
  const std::uint8_t sign = std::signbit(x) ? 0x80 : 0;
  const float a = std::fabs(x);
  std::uint8_t code;
  if (a >= pos.back()) {
    code = 0x7E;
  } else {
    // largest code with value <= a, then the nearer of it and the next one (tie: even code = even mantissa)
    const auto c = static_cast<int>(std::upper_bound(pos.begin(), pos.end(), a) - pos.begin()) - 1;
    const float lo = a - pos[c], hi = pos[c + 1] - a;
    code = static_cast<std::uint8_t>(lo < hi || (lo == hi && c % 2 == 0) ? c : c + 1);
  }
  return static_cast<std::uint8_t>(sign | code);
}

// ---------------------------------------------------------------------------------------------------------------
// The plan of one file

enum class Fill { Normal, Constant, Bytes };

struct Entry {
  std::string key;  // with the prefix
  DType dtype = DType::BF16;
  std::vector<std::int64_t> shape;
  Fill fill = Fill::Normal;
  double std = 0;      // Normal: of the stored values (already divided by the layer's scale)
  float constant = 0;  // Constant
  std::string bytes;   // Bytes (U8)
  std::uint64_t nbytes() const { return static_cast<std::uint64_t>(numel(shape)) * dype::io::dtype_size(dtype); }
};

// A tensor that is not a model parameter (quantisation marker, scale, per-layer format).
Entry aux(std::string key, DType dtype, std::vector<std::int64_t> shape, float constant, std::string bytes = "") {
  Entry e;
  e.key = std::move(key);
  e.dtype = dtype;
  e.shape = std::move(shape);
  e.fill = bytes.empty() ? Fill::Constant : Fill::Bytes;
  e.constant = constant;
  e.bytes = std::move(bytes);
  return e;
}

struct FilePlan {
  std::string component, path, describe;
  std::vector<Entry> entries;  // in file order
  std::int64_t parameters = 0;
  std::string header;  // 8-byte length + JSON + padding
  std::uint64_t data_bytes = 0;
  std::uint64_t file_bytes() const { return header.size() + data_bytes; }
};

using dype::ends_with;  // core/common/strings.h
bool contains(const std::string& s, const char* t) { return s.find(t) != std::string::npos; }

// Token / position tables: looked up, not multiplied, so they get unit variance like trained tables roughly have.
bool is_embedding_table(const std::string& name) {
  return name == "shared.weight" || ends_with(name, "token_embedding.weight") ||
         ends_with(name, "position_embedding.weight");
}

std::string file_name(const std::string& what, Kind kind) {
  static const char* flux_suffix[] = {"", "-fp8", "-fp8-scaled", "-fp8-scaled-new", "-f32"};
  static const char* t5_suffix[] = {"bf16", "fp8_e4m3fn", "fp8_e4m3fn_scaled", "fp8_e4m3fn_scaled_new", "f32"};
  const auto k = static_cast<int>(kind);
  if (what == "flux-dev") return std::string("flux1-dev") + flux_suffix[k] + ".safetensors";
  if (what == "flux-schnell") return std::string("flux1-schnell") + flux_suffix[k] + ".safetensors";
  if (what == "t5xxl") return std::string("t5xxl_") + t5_suffix[k] + ".safetensors";
  if (what == "clip-l") return kind == Kind::F32 ? "clip_l_f32.safetensors" : "clip_l.safetensors";
  return kind == Kind::F32 ? "ae_f32.safetensors" : "ae.safetensors";
}

FilePlan plan_file(const std::string& what, Kind kind, const Options& o) {
  FilePlan p;
  p.component = what;
  p.path = (fs::path(o.out) / file_name(what, kind)).string();
  const std::vector<Recorded> recorded = record(what, o.scale, &p.describe);
  const bool fp8 = kind == Kind::FP8 || kind == Kind::FP8ScaledLegacy || kind == Kind::FP8ScaledNew;
  const bool scaled_fp8 = kind == Kind::FP8ScaledLegacy || kind == Kind::FP8ScaledNew;
  // Scaled layers store w / scale with scale = max|w| / 448, so the stored values fill e4m3's range.
  const double zmax = max_quantile();
  const std::string comfy_quant = R"({"format": "float8_e4m3fn"})";
  nlohmann::ordered_json layers = nlohmann::ordered_json::object();

  if (kind == Kind::FP8ScaledLegacy)  // the marker: empty, of the file's float8 dtype, at the component's top level
    p.entries.push_back(aux(o.prefix + "scaled_fp8", DType::F8_E4M3, {0}, 0));
  for (const auto& r : recorded) {
    Entry e;
    e.key = o.prefix + r.name;
    e.shape = r.shape;
    p.parameters += numel(r.shape);
    const bool matrix = r.shape.size() >= 2;
    if (matrix) {
      std::int64_t fan_in = 1;
      for (std::size_t i = 1; i < r.shape.size(); ++i) fan_in *= r.shape[i];
      e.fill = Fill::Normal;
      e.std = is_embedding_table(r.name) ? 1.0 : 1.0 / std::sqrt(static_cast<double>(fan_in));
    } else {
      const bool one = (contains(r.name, "norm") || contains(r.name, "scale")) && !contains(r.name, "bias");
      e.fill = Fill::Constant;
      e.constant = one ? 1.0f : 0.0f;
    }
    e.dtype = kind == Kind::F32 ? DType::F32 : (fp8 && matrix ? DType::F8_E4M3 : DType::BF16);
    // Scaled forms quantise layer weights (Linear, conv); embedding tables stay plain fp8, as lookups.
    if (scaled_fp8 && matrix && !is_embedding_table(r.name)) {
      if (!ends_with(e.key, ".weight")) throw dype::Error("internal: matrix '" + e.key + "' is not a .weight");
      const std::string layer = e.key.substr(0, e.key.size() - 7);
      const float scale = static_cast<float>(e.std * zmax / 448.0);
      e.std /= scale;
      if (kind == Kind::FP8ScaledLegacy) {
        p.entries.push_back(aux(layer + ".scale_weight", DType::F32, {}, scale));
      } else {
        p.entries.push_back(aux(layer + ".weight_scale", DType::F32, {}, scale));
        p.entries.push_back(
            aux(layer + ".comfy_quant", DType::U8, {static_cast<std::int64_t>(comfy_quant.size())}, 0, comfy_quant));
        layers[layer] = {{"format", "float8_e4m3fn"}};
      }
    }
    p.entries.push_back(std::move(e));
  }
  // File order as the safetensors library writes it: widest element first, so every tensor starts at a multiple
  // of its element size (the data section starts at a multiple of 8) and zero-copy views are aligned.
  std::stable_sort(p.entries.begin(), p.entries.end(), [](const Entry& a, const Entry& b) {
    return dype::io::dtype_size(a.dtype) > dype::io::dtype_size(b.dtype);
  });

  nlohmann::ordered_json h;
  nlohmann::ordered_json meta = {{"format", "pt"},
                                 {"dype_generator", "bench/make_real_checkpoint (random values, real shapes)"},
                                 {"dype_component", what},
                                 {"dype_dtype", kKindNames[static_cast<int>(kind)]},
                                 {"dype_seed", std::to_string(o.seed)},
                                 {"dype_scale_shapes", o.scale_text},
                                 {"dype_config", p.describe}};
  if (kind == Kind::FP8ScaledNew)
    meta["_quantization_metadata"] = nlohmann::ordered_json{{"format_version", "1.0"}, {"layers", layers}}.dump();
  h["__metadata__"] = meta;
  std::uint64_t off = 0;
  for (const auto& e : p.entries) {
    h[e.key] = {
        {"dtype", dype::io::dtype_name(e.dtype)}, {"shape", e.shape}, {"data_offsets", {off, off + e.nbytes()}}};
    off += e.nbytes();
  }
  p.data_bytes = off;
  std::string json = h.dump();
  json.append((8 - json.size() % 8) % 8, ' ');  // data section at a multiple of 8 (8-byte length + JSON)
  std::string header(8, '\0');
  const std::uint64_t len = json.size();
  for (int i = 0; i < 8; ++i) header[i] = static_cast<char>((len >> (8 * i)) & 0xFF);  // little-endian u64
  p.header = header + json;
  return p;
}

// ---------------------------------------------------------------------------------------------------------------
// Streaming writer

std::atomic<bool> g_interrupted{false};
void on_signal(int) { g_interrupted.store(true); }

// Double-buffered: the caller fills one 16 MiB buffer while a second thread writes the other.
class ChunkWriter {
 public:
  static constexpr std::size_t kChunk = 16u << 20;
  ChunkWriter(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) throw dype::IoError("cannot create '" + path + "': " + std::strerror(errno));
    for (auto& b : buf_) b.reset(new std::uint8_t[kChunk]);
  }
  ~ChunkWriter() {
    if (pending_.valid()) pending_.wait();
    if (fd_ >= 0) ::close(fd_);
  }
  // Room in the current buffer (never 0), and where it starts.
  std::uint8_t* cur() { return buf_[which_].get() + pos_; }
  std::size_t room() const { return kChunk - pos_; }
  void advance(std::size_t n) {
    pos_ += n;
    if (pos_ == kChunk) flush();
  }
  void put(const void* data, std::size_t n) {
    auto* p = static_cast<const std::uint8_t*>(data);
    while (n > 0) {
      const std::size_t k = std::min(n, room());
      std::memcpy(cur(), p, k);
      p += k;
      n -= k;
      advance(k);
    }
  }
  void finish() {
    flush();
    if (pending_.valid()) pending_.get();
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) throw dype::IoError("cannot finish writing '" + path_ + "': " + std::strerror(errno));
  }

 private:
  void flush() {
    if (pending_.valid()) pending_.get();  // rethrows a write error (disk full) from the writer thread
    if (g_interrupted.load()) throw dype::Error("interrupted");
    const std::uint8_t* data = buf_[which_].get();
    const std::size_t n = pos_;
    pending_ = std::async(std::launch::async, [this, data, n] {
      std::size_t done = 0;
      while (done < n) {
        const ssize_t w = ::write(fd_, data + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) throw dype::IoError("cannot write '" + path_ + "': " + std::strerror(w < 0 ? errno : ENOSPC));
        done += static_cast<std::size_t>(w);
      }
    });
    which_ ^= 1;
    pos_ = 0;
  }
  std::string path_;
  int fd_ = -1;
  std::unique_ptr<std::uint8_t[]> buf_[2];
  int which_ = 0;
  std::size_t pos_ = 0;
  std::future<void> pending_;
};

// Streams n values of type T drawn through `table` (65,536 pre-encoded values). The buffer position is always a
// multiple of sizeof(T) (file order: widest first; chunk size a multiple of 8).
template <class T>
void stream_values(ChunkWriter& w, std::int64_t n, const std::vector<T>& table, IndexStream& s) {
  const T* tab = table.data();
  while (n > 0) {
    auto* out = reinterpret_cast<T*>(w.cur());
    const std::int64_t k = std::min<std::int64_t>(n, static_cast<std::int64_t>(w.room() / sizeof(T)));
    std::int64_t i = 0;
    while (i < k && s.left > 0) out[i++] = tab[s.one()];
    for (; i + 4 <= k; i += 4) {
      const std::uint64_t r = s.rng.next();
      out[i] = tab[r & 0xFFFF];
      out[i + 1] = tab[(r >> 16) & 0xFFFF];
      out[i + 2] = tab[(r >> 32) & 0xFFFF];
      out[i + 3] = tab[r >> 48];
    }
    while (i < k) out[i++] = tab[s.one()];
    w.advance(static_cast<std::size_t>(k) * sizeof(T));
    n -= k;
  }
}

template <class T>
void stream_constant(ChunkWriter& w, std::int64_t n, T v) {
  std::vector<T> block(4096, v);
  while (n > 0) {
    const std::int64_t k = std::min<std::int64_t>(n, 4096);
    w.put(block.data(), static_cast<std::size_t>(k) * sizeof(T));
    n -= k;
  }
}

void write_entry(ChunkWriter& w, const Entry& e, std::uint64_t seed) {
  const std::int64_t n = numel(e.shape);
  if (e.fill == Fill::Bytes) return w.put(e.bytes.data(), e.bytes.size());
  if (e.fill == Fill::Constant) {
    switch (e.dtype) {
      case DType::F32: return stream_constant<float>(w, n, e.constant);
      case DType::BF16: return stream_constant<std::uint16_t>(w, n, to_bf16(e.constant));
      default: return stream_constant<std::uint8_t>(w, n, to_e4m3(e.constant));
    }
  }
  const auto& z = quantiles();
  IndexStream s(hash_name(e.key, seed));
  if (e.dtype == DType::F32) {
    std::vector<float> t(65536);
    for (int i = 0; i < 65536; ++i) t[i] = static_cast<float>(z[i] * e.std);
    stream_values(w, n, t, s);
  } else if (e.dtype == DType::BF16) {
    std::vector<std::uint16_t> t(65536);
    for (int i = 0; i < 65536; ++i) t[i] = to_bf16(static_cast<float>(z[i] * e.std));
    stream_values(w, n, t, s);
  } else {
    std::vector<std::uint8_t> t(65536);
    for (int i = 0; i < 65536; ++i) t[i] = to_e4m3(static_cast<float>(z[i] * e.std));
    stream_values(w, n, t, s);
  }
}

// ---------------------------------------------------------------------------------------------------------------

std::string gib(std::uint64_t b) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.2f GiB", static_cast<double>(b) / (1u << 30));
  return buf;
}

std::string grouped(std::uint64_t v) {
  std::string s = std::to_string(v);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<std::size_t>(i), ",");
  return s;
}

// True when the file exists with exactly this plan's size and header (same names, shapes, dtypes and seed).
bool already_written(const FilePlan& p) {
  std::error_code ec;
  if (!fs::is_regular_file(p.path, ec) || fs::file_size(p.path, ec) != p.file_bytes()) return false;
  std::ifstream in(p.path, std::ios::binary);
  std::string head(p.header.size(), '\0');
  in.read(&head[0], static_cast<std::streamsize>(head.size()));
  return in && head == p.header;
}

// A folder inside a git work tree (the project's checkout): real-size files must not land there.
bool inside_git_work_tree(fs::path dir) {
  std::error_code ec;
  dir = fs::weakly_canonical(dir, ec);
  for (fs::path p = dir; !p.empty(); p = p.parent_path()) {
    if (fs::exists(p / ".git", ec)) return true;
    if (p == p.parent_path()) break;
  }
  return false;
}

void write_file(const FilePlan& p, std::uint64_t seed) {
  const std::string part = p.path + ".part";
  const auto t0 = std::chrono::steady_clock::now();
  try {
    ChunkWriter w(part);
    w.put(p.header.data(), p.header.size());
    for (const auto& e : p.entries) write_entry(w, e, seed);
    w.finish();
  } catch (...) {
    std::error_code ec;
    fs::remove(part, ec);  // never leave a half file behind
    throw;
  }
  std::error_code ec;
  fs::rename(part, p.path, ec);
  if (ec) throw dype::IoError("cannot rename '" + part + "' to '" + p.path + "': " + ec.message());
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // The reader validates every offset and size: open it as the loaders will.
  const auto f = dype::io::SafetensorsFile::open(p.path);
  if (f->tensors().size() != p.entries.size() || f->file_size() != p.file_bytes())
    throw dype::Error("'" + p.path + "' reads back with " + std::to_string(f->tensors().size()) + " tensors and " +
                      std::to_string(f->file_size()) + " bytes; expected " + std::to_string(p.entries.size()) +
                      " and " + std::to_string(p.file_bytes()));
  std::printf("wrote %s: %zu tensors, %s parameters, %s bytes (%s) in %.1f s (%.0f MB/s)\n", p.path.c_str(),
              p.entries.size(), grouped(static_cast<std::uint64_t>(p.parameters)).c_str(),
              grouped(p.file_bytes()).c_str(), gib(p.file_bytes()).c_str(), s,
              static_cast<double>(p.file_bytes()) / 1e6 / std::max(s, 1e-9));
  std::fflush(stdout);
}

// The demo tokenizers (compiled into dype_core_pipeline), where the pipeline looks for them beside the
// transformer: DIR/tokenizer/{vocab.json, merges.txt}, DIR/tokenizer_2/spiece.model. Their ids must be valid rows
// of the real embedding tables.
void write_tokenizers(const std::string& dir, bool dry_run) {
  for (const auto& f : dype::demo::embedded_files()) {
    const fs::path p = fs::path(dir) / f.path;
    if (dry_run) {
      std::printf("plan %s: %zu bytes (demo tokenizer)\n", p.string().c_str(), f.size);
      continue;
    }
    fs::create_directories(p.parent_path());
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(f.data), static_cast<std::streamsize>(f.size));
    out.close();
    if (!out) throw dype::IoError("cannot write '" + p.string() + "'");
  }
  if (dry_run) return;
  const auto clip = dype::text::ClipTokenizer::load((fs::path(dir) / "tokenizer").string());
  const auto t5 = dype::text::T5Tokenizer::load((fs::path(dir) / "tokenizer_2").string());
  const auto clip_vocab = static_cast<std::int64_t>(clip.vocab_size());
  const std::int64_t t5_vocab = t5.vocab_size();
  if (clip_vocab > dype::text::ClipTextConfig::clip_l().vocab_size ||
      t5_vocab > dype::text::T5EncoderConfig::t5_xxl().vocab_size)
    throw dype::Error("demo tokenizers do not fit the real embedding tables (CLIP " + std::to_string(clip_vocab) +
                      ", T5 " + std::to_string(t5_vocab) + " ids)");
  std::printf("wrote %s/tokenizer (CLIP, %lld ids < 49408) and tokenizer_2 (T5, %lld ids < 32128)\n", dir.c_str(),
              static_cast<long long>(clip_vocab), static_cast<long long>(t5_vocab));
}

int run(const Options& o) {
  if (o.scale == 1 && !o.dry_run && inside_git_work_tree(o.out))
    throw dype::InvalidArgument("--out '" + o.out +
                                "' is inside a git work tree: real-shape files are 5-24 GB each "
                                "and must live outside the repository (e.g. /tmp/dype-realshape)");
  std::vector<FilePlan> plans;
  for (const auto& w : o.what) {
    // clip-l and vae: bf16 (f32 when asked), never fp8 (see --help).
    Kind k = o.kind;
    if ((w == "clip-l" || w == "vae") && k != Kind::F32) k = Kind::BF16;
    plans.push_back(plan_file(w, k, o));
  }

  std::uint64_t to_write = 0;
  std::vector<bool> skip(plans.size(), false);
  for (std::size_t i = 0; i < plans.size(); ++i) {
    const auto& p = plans[i];
    skip[i] = o.skip_existing && already_written(p);
    if (!skip[i]) to_write += p.file_bytes();
    std::printf("%s %s: %s; %zu tensors, %s parameters, %s bytes (%s)%s\n", o.dry_run ? "plan" : "file", p.path.c_str(),
                p.describe.c_str(), p.entries.size(), grouped(static_cast<std::uint64_t>(p.parameters)).c_str(),
                grouped(p.file_bytes()).c_str(), gib(p.file_bytes()).c_str(), skip[i] ? " [exists: kept]" : "");
  }
  std::printf("to write: %s bytes (%s)\n", grouped(to_write).c_str(), gib(to_write).c_str());
  std::printf("bytes_to_write=%llu\n", static_cast<unsigned long long>(to_write));  // for scripts
  std::fflush(stdout);
  if (o.tokenizers && o.dry_run) write_tokenizers(o.out, true);
  if (o.dry_run) return 0;

  fs::create_directories(o.out);
  std::error_code ec;
  const auto space = fs::space(o.out, ec);
  const std::uint64_t margin = 256ull << 20;
  if (!ec && space.available < to_write + margin)
    throw dype::IoError("not enough space in '" + o.out + "': " + gib(to_write) + " to write, " + gib(space.available) +
                        " available (keep 256 MiB spare); free space or choose --out");

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < plans.size(); ++i)
    if (!skip[i]) write_file(plans[i], o.seed);
  if (o.tokenizers) write_tokenizers(o.out, false);
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("done in %.1f s, peak RSS %.0f MiB\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), ru.ru_maxrss / 1024.0);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse_args(argc, argv);
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_real_checkpoint: error: %s\n", e.what());
    return 1;
  }
}
