// make_real_checkpoint: writes safetensors files with the key names, shapes and dtypes of the real FLUX.1 files
// (BFL flux1-dev / flux1-schnell transformer, ComfyUI t5xxl_* and clip_l, BFL ae) filled with deterministic
// pseudo-random values, so that loading, memory planning and per-step speed can be measured at real size on a
// machine that has not downloaded the 30+ GB of real weights (bench/run_real_shape_bench.sh drives it).
//
// Names and shapes are not written down here (bench/real_shapes.cpp): the models of core/ are constructed with a
// recording WeightSource that notes every (name, shape) the constructors ask for and hands back a zero-memory
// placeholder. The files therefore always match our loaders, including after a model change.
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
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "bench/checkpoint_stream.h"
#include "bench/real_shapes.h"
#include "core/common/error.h"
#include "core/common/format.h"
#include "core/common/strings.h"
#include "core/common/system_memory.h"
#include "core/io/dtype.h"
#include "core/io/safetensors.h"
#include "core/pipeline/demo_resources.h"
#include "core/text/clip_text_model.h"
#include "core/text/clip_tokenizer.h"
#include "core/text/t5_encoder.h"
#include "core/text/t5_tokenizer.h"

namespace fs = std::filesystem;
using dype::io::DType;
using namespace dype::bench;  // checkpoint_stream.h (values, chunk writer), real_shapes.h (names and shapes)

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

std::atomic<bool> g_interrupted{false};
void on_signal(int) { g_interrupted.store(true); }

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
    ChunkWriter w(part, &g_interrupted);
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
              grouped(p.file_bytes()).c_str(), dype::format_bytes(p.file_bytes()).c_str(), s,
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
                grouped(p.file_bytes()).c_str(), dype::format_bytes(p.file_bytes()).c_str(),
                skip[i] ? " [exists: kept]" : "");
  }
  std::printf("to write: %s bytes (%s)\n", grouped(to_write).c_str(), dype::format_bytes(to_write).c_str());
  std::printf("bytes_to_write=%llu\n", static_cast<unsigned long long>(to_write));  // for scripts
  std::fflush(stdout);
  if (o.tokenizers && o.dry_run) write_tokenizers(o.out, true);
  if (o.dry_run) return 0;

  fs::create_directories(o.out);
  std::error_code ec;
  const auto space = fs::space(o.out, ec);
  const std::uint64_t margin = 256ull << 20;
  if (!ec && space.available < to_write + margin)
    throw dype::IoError("not enough space in '" + o.out + "': " + dype::format_bytes(to_write) + " to write, " +
                        dype::format_bytes(space.available) +
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
  std::printf("done in %.1f s, peak RSS %s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
              dype::format_bytes(dype::peak_rss_bytes()).c_str());
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
