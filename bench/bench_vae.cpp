// bench-deps: io vae
// VAE decode benchmark: tiled decode time per megapixel and peak resident memory, with the golden tiny-dev
// autoencoder (ch 32, ch_mult [1,1,1,1]; random weights of the golden set) on the CPU.
//
//   bench_vae [--model ae.safetensors] [--sizes 1024,2048,4096] [--untiled 512,1024] [--tile 64] [--overlap 16]
//   bench_vae --run tiled|untiled <image_px> [--model ...] [--tile N] [--overlap N] [--no-shared-norm]
//
// Without --run, every measurement runs in a fresh child process (this program again), so each peak RSS
// (VmHWM from /proc/self/status) belongs to that one decode. Prints figures only; asserts nothing.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/common/cpu_allocator.h"
#include "core/common/error.h"
#include "core/vae/autoencoder_loader.h"
#include "core/vae/tiled_decode.h"

namespace fs = std::filesystem;
using namespace dype;

namespace {

// User + system CPU seconds of this process so far (wall time is meaningless on a shared machine).
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// kB value of a /proc/self/status field ("VmHWM", "VmRSS").
long status_kb(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field + ":", 0) == 0) return std::strtol(line.c_str() + field.size() + 1, nullptr, 10);
  return -1;
}

std::string default_model() {
  // bench/bench_vae.cpp -> <repo>/../shared/golden/models/tiny-dev/comfy/ae.safetensors
  const fs::path repo = fs::path(__FILE__).parent_path().parent_path();
  for (const fs::path& p : {repo / "../shared/golden/models/tiny-dev/comfy/ae.safetensors",
                            fs::path("../shared/golden/models/tiny-dev/comfy/ae.safetensors")}) {
    std::error_code ec;
    if (fs::exists(p, ec)) return fs::weakly_canonical(p).string();
  }
  return "";
}

std::vector<int> parse_list(const std::string& s) {
  std::vector<int> v;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) v.push_back(std::stoi(item));
  return v;
}

struct Args {
  std::string mode;  // "", "tiled", "untiled"
  int image_px = 0;
  std::string model = default_model();
  std::vector<int> sizes = {1024, 2048, 4096};
  std::vector<int> untiled = {512, 1024};
  int tile = 64, overlap = 16;
  bool shared_norm = true;
  bool compare_norm = true;  // also time --no-shared-norm (per-tile GroupNorm) at the first size
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw InvalidArgument("missing value after " + k);
      return argv[++i];
    };
    if (k == "--run") {
      a.mode = next();
      a.image_px = std::stoi(next());
    } else if (k == "--model") {
      a.model = next();
    } else if (k == "--sizes") {
      a.sizes = parse_list(next());
    } else if (k == "--untiled") {
      a.untiled = parse_list(next());
    } else if (k == "--tile") {
      a.tile = std::stoi(next());
    } else if (k == "--overlap") {
      a.overlap = std::stoi(next());
    } else if (k == "--no-shared-norm") {
      a.shared_norm = false;
    } else if (k == "--no-compare-norm") {
      a.compare_norm = false;
    } else {
      throw InvalidArgument("unknown argument " + k);
    }
  }
  return a;
}

// One decode in this process; prints one machine-readable line.
int run_one(const Args& a) {
  at::set_num_threads(std::max(1, at::get_num_threads()));
  install_cpu_caching_allocator();  // as the app: activations reused between tiles instead of re-faulted
  c10::InferenceMode guard;
  vae::AutoEncoder ae{nullptr};
  std::string model_label;
  if (!a.model.empty()) {
    ae = vae::load_autoencoder(a.model);
    model_label = a.model;
  } else {
    vae::AutoEncoderConfig c;
    c.ch = 32;
    c.ch_mult = {1, 1, 1, 1};
    c.num_res_blocks = 1;
    ae = vae::make_random_autoencoder(c, 1);
    model_label = "random tiny (golden folder not found)";
  }
  const int f = ae->config().spatial_factor();
  const int lat = a.image_px / f;
  at::Tensor z = at::randn({1, ae->config().z_channels, lat, lat}, at::detail::createCPUGenerator(42));
  const long base_kb = status_kb("VmHWM");
  vae::TiledDecodeOptions o{a.mode == "untiled" ? 0 : a.tile, a.mode == "untiled" ? 0 : a.overlap};
  o.shared_norm = a.shared_norm;
  const auto plan = vae::plan_tiled_decode(lat, lat, o);
  const auto t0 = std::chrono::steady_clock::now();
  const double c0 = cpu_seconds();
  at::Tensor img = vae::tiled_decode(ae, z, o);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = cpu_seconds() - c0;
  const long peak_kb = status_kb("VmHWM");
  const double mp = static_cast<double>(img.size(2)) * img.size(3) / 1e6;
  const double est = vae::estimate_decode_bytes(ae->config(), lat, lat, o) / 1048576.0;
  std::printf(
      "RESULT mode=%s image=%dx%d latent=%dx%d tiles=%d shared_norm=%d seconds=%.2f s_per_mp=%.3f cpu_s=%.2f "
      "cpu_s_per_mp=%.3f "
      "peak_rss_mib=%.1f before_decode_mib=%.1f output_mib=%.1f est_working_set_mib=%.1f threads=%d model=%s\n",
      a.mode.c_str(), (int)img.size(3), (int)img.size(2), lat, lat, plan.count(), o.shared_norm ? 1 : 0, secs,
      secs / mp, cpu, cpu / mp, peak_kb / 1024.0, base_kb / 1024.0, img.numel() * 4 / 1048576.0, est,
      at::get_num_threads(), model_label.c_str());
  return 0;
}

std::string self_exe() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) throw IoError("cannot read /proc/self/exe");
  return std::string(buf, static_cast<std::size_t>(n));
}

// Runs this program with `args` in a child process and returns its RESULT line ("" on failure).
std::string run_child(const std::string& args) {
  const std::string cmd = "'" + self_exe() + "' " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return "";
  std::string out, result;
  char line[4096];
  while (std::fgets(line, sizeof(line), p)) {
    out += line;
    if (std::string(line).rfind("RESULT ", 0) == 0) result = line;
  }
  const int rc = pclose(p);
  if (rc != 0 || result.empty()) std::fprintf(stderr, "child failed (%s):\n%s\n", args.c_str(), out.c_str());
  return result;
}

std::string field(const std::string& line, const std::string& key) {
  const auto pos = line.find(" " + key + "=");
  if (pos == std::string::npos) return "?";
  const auto b = pos + key.size() + 2;
  return line.substr(b, line.find(' ', b) - b);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args a = parse(argc, argv);
    if (!a.mode.empty()) return run_one(a);
    const std::string model = a.model.empty() ? "" : " --model '" + a.model + "'";
    const std::string tiling = " --tile " + std::to_string(a.tile) + " --overlap " + std::to_string(a.overlap) +
                               (a.shared_norm ? "" : " --no-shared-norm");
    std::printf("VAE decode on CPU, tiny-dev autoencoder (%s), tile %d / overlap %d latent px, %d threads\n",
                a.model.empty() ? "random tiny" : a.model.c_str(), a.tile, a.overlap, at::get_num_threads());
    std::printf("%-8s %-11s %6s %6s %9s %9s %9s %9s %10s %10s %10s\n", "mode", "image", "tiles", "norm", "wall s",
                "wall s/MP", "CPU s", "CPU s/MP", "peak MiB", "output MiB", "est. MiB");
    auto row = [](const std::string& r) {
      if (r.empty()) return;
      std::printf("%-8s %-11s %6s %6s %9s %9s %9s %9s %10s %10s %10s\n", field(r, "mode").c_str(),
                  field(r, "image").c_str(), field(r, "tiles").c_str(),
                  field(r, "mode") == "untiled"    ? "-"
                  : field(r, "shared_norm") == "1" ? "shared"
                                                   : "tile",
                  field(r, "seconds").c_str(), field(r, "s_per_mp").c_str(), field(r, "cpu_s").c_str(),
                  field(r, "cpu_s_per_mp").c_str(), field(r, "peak_rss_mib").c_str(), field(r, "output_mib").c_str(),
                  field(r, "est_working_set_mib").c_str());
      std::fflush(stdout);
    };
    for (std::size_t i = 0; i < a.sizes.size(); ++i) {
      row(run_child("--run tiled " + std::to_string(a.sizes[i]) + model + tiling));
      if (i == 0 && a.compare_norm)
        row(run_child("--run tiled " + std::to_string(a.sizes[i]) + model + " --tile " + std::to_string(a.tile) +
                      " --overlap " + std::to_string(a.overlap) + " --no-shared-norm"));
    }
    for (int s : a.untiled) row(run_child("--run untiled " + std::to_string(s) + model));
    std::printf("peak MiB = VmHWM of a fresh process (LibTorch runtime + weights + latent + output + working set)\n");
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_vae: %s\n", e.what());
    return 1;
  }
}
