// `dype shapes`: the procedural captioned pictures of the demo model (core/shapes) from the command line: draw one,
// score any picture against a caption (the demo model's metric, usable on generated images), or write a data set.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "core/common/error.h"
#include "core/image/image_file.h"
#include "core/image/png_export.h"
#include "core/shapes/render.h"
#include "core/shapes/scene.h"
#include "core/shapes/score.h"

namespace dype::cli {
namespace {

namespace fs = std::filesystem;
using namespace dype::shapes;

const char* kHelp =
    "usage: dype shapes render (--caption TEXT | --seed N [--index I]) [--size WxH] --output FILE.png\n"
    "       dype shapes score IMAGE --caption TEXT [--json]\n"
    "       dype shapes dataset --count N [--seed N] [--size WxH] --output DIR\n\n"
    "The demo model's pictures: one object of a named colour at a named place on a plain, striped, dotted or\n"
    "gradient background, e.g. \"a red star on a blue background, top left\" (grammar: README, Procedural shapes).\n\n"
    "  render    draws a caption (with --seed, the object's size, offset and rotation and the pattern's scale are\n"
    "            drawn from the seed; otherwise fixed) or scene I of data set N (its caption is printed)\n"
    "  score     checks a PNG/JPEG against a caption: colour found, exactly one object, its place, the background.\n"
    "            Prints the checks (--json: as JSON); exit code 0 accepted, 3 rejected, 1 error\n"
    "  dataset   writes N pictures DIR/000000.png … and DIR/captions.tsv (file<TAB>caption), scene i of seed N\n\n"
    "  --size WxH   picture size, 8…16384 per side (default 256x256)\n"
    "  --help       this text\n";

std::pair<int, int> parse_size(const std::string& s) {
  const auto x = s.find('x');
  int w = 0, h = 0;
  try {
    if (x == std::string::npos) throw std::invalid_argument("no x");
    std::size_t a = 0, b = 0;
    w = std::stoi(s.substr(0, x), &a);
    h = std::stoi(s.substr(x + 1), &b);
    if (a != x || b != s.size() - x - 1) throw std::invalid_argument("trailing");
  } catch (const std::exception&) {
    throw InvalidArgument("--size '" + s + "': expected WIDTHxHEIGHT, e.g. 256x256");
  }
  if (w < 8 || h < 8 || w > 16384 || h > 16384)
    throw InvalidArgument("--size '" + s + "': each side must be 8…16384 pixels");
  return {w, h};
}

std::uint64_t parse_u64(const Args& a, const char* name, std::uint64_t def) {
  const long long v = a.get_int(name, static_cast<long long>(def));
  if (v < 0) throw InvalidArgument(std::string("--") + name + " must be ≥ 0");
  return static_cast<std::uint64_t>(v);
}

void write_picture(const std::string& path, const RgbImage& im, const std::string& caption) {
  image::write_png(path, im, 8, {{"Description", caption}, {"Software", "dype shapes " DYPE_VERSION}});
}

int render_cmd(const Args& a) {
  if (!a.positional().empty())
    throw InvalidArgument("unexpected argument '" + a.positional().front() + "' (see --help)");
  a.allow_only({"caption", "seed", "index", "size", "output", "help"});
  const auto output = a.get("output");
  if (!output || output->empty()) throw InvalidArgument("--output FILE.png is required (see --help)");
  const auto [w, h] = parse_size(a.get_or("size", "256x256"));
  Scene scene;
  if (auto c = a.get("caption")) {
    scene = parse_caption(*c);
    // The caption's content with the seed's look (size, offset, rotation, pattern scale).
    if (a.has("seed")) scene.look = random_scene(parse_u64(a, "seed", 0), parse_u64(a, "index", 0)).look;
  } else if (a.has("seed")) {
    scene = random_scene(parse_u64(a, "seed", 0), parse_u64(a, "index", 0));
  } else {
    throw InvalidArgument("give --caption TEXT or --seed N (see --help)");
  }
  write_picture(*output, render(scene, w, h), caption(scene));
  std::cout << caption(scene) << "\n";
  return 0;
}

int score_cmd(const Args& a) {
  a.allow_only({"caption", "json", "help"});
  if (a.positional().size() != 1) throw InvalidArgument("score takes one IMAGE (see --help)");
  const auto cap = a.get("caption");
  if (!cap) throw InvalidArgument("--caption TEXT is required: the caption to score the picture against");
  const Scene scene = parse_caption(*cap);
  const std::string path = a.positional().front();
  const image::LoadedImage loaded = image::load_image(path);
  // [-1, 1] floats back to the 8-bit samples the file holds (16-bit files: rounded to 8 bits, enough to score).
  const at::Tensor px = ((loaded.pixels[0].permute({1, 2, 0}) + 1.0) * 127.5)  // [H, W, 3]
                            .round()
                            .clamp(0, 255)
                            .to(at::kByte)
                            .contiguous();
  RgbImage im;
  im.width = loaded.width;
  im.height = loaded.height;
  im.rgb8.assign(px.data_ptr<std::uint8_t>(), px.data_ptr<std::uint8_t>() + px.numel());
  const Score s = score(im, scene);
  if (a.has("json")) {
    const nlohmann::json j = {{"image", path},
                              {"caption", caption(scene)},
                              {"accepted", s.accepted()},
                              {"colour_ok", s.colour_ok},
                              {"count_ok", s.count_ok},
                              {"place_ok", s.place_ok},
                              {"background_ok", s.background_ok},
                              {"objects", s.components},
                              {"count_error", s.count_error()},
                              {"speckles", s.speckles},
                              {"object_share", s.object_share},
                              {"largest_share", s.largest_share},
                              {"centroid", {s.centroid_x, s.centroid_y}},
                              {"found_place", name_of(s.found_place)},
                              {"background_share", s.background_share}};
    std::cout << j.dump(2) << "\n";
  } else {
    std::printf("%s: %s\n  objects %d (speckles %d), largest %.0f %% of the %s area, at %s, background %s\n",
                path.c_str(), s.summary(scene).c_str(), s.components, s.speckles, 100 * s.largest_share,
                name_of(scene.colour), name_of(s.found_place), s.background_ok ? "as captioned" : "not as captioned");
  }
  return s.accepted() ? 0 : 3;
}

int dataset_cmd(const Args& a) {
  if (!a.positional().empty())
    throw InvalidArgument("unexpected argument '" + a.positional().front() + "' (see --help)");
  a.allow_only({"count", "seed", "size", "output", "help"});
  const auto output = a.get("output");
  if (!output || output->empty()) throw InvalidArgument("--output DIR is required (see --help)");
  const long long count = a.get_int("count", 0);
  if (count < 1 || count > 10'000'000) throw InvalidArgument("--count must be 1…10000000");
  const std::uint64_t seed = parse_u64(a, "seed", 0);
  const auto [w, h] = parse_size(a.get_or("size", "256x256"));
  std::error_code ec;
  fs::create_directories(*output, ec);
  if (ec) throw IoError("cannot create folder '" + *output + "': " + ec.message());
  const fs::path list_path = fs::path(*output) / "captions.tsv";
  std::ofstream list(list_path);
  if (!list) throw IoError("cannot write '" + list_path.string() + "'");
  for (long long i = 0; i < count; ++i) {
    const Scene s = random_scene(seed, static_cast<std::uint64_t>(i));
    char name[32];
    std::snprintf(name, sizeof(name), "%06lld.png", i);
    write_picture((fs::path(*output) / name).string(), render(s, w, h), caption(s));
    list << name << '\t' << caption(s) << '\n';
  }
  list.close();
  if (!list) throw IoError("cannot write '" + list_path.string() + "' (disk full?)");
  std::cout << "wrote " << count << " pictures and captions.tsv to " << *output << "\n";
  return 0;
}

}  // namespace

int cmd_shapes(int argc, char** argv) {
  if (argc < 3 || std::string(argv[2]) == "--help" || std::string(argv[2]) == "-h") {
    std::cout << kHelp;
    return argc < 3 ? 1 : 0;
  }
  const std::string sub = argv[2];
  const Args a(argc, argv, 3, {"help", "json"});
  if (a.has("help")) {
    std::cout << kHelp;
    return 0;
  }
  if (sub == "render") return render_cmd(a);
  if (sub == "score") return score_cmd(a);
  if (sub == "dataset") return dataset_cmd(a);
  throw InvalidArgument("unknown shapes command '" + sub + "': render, score or dataset (see dype shapes --help)");
}

}  // namespace dype::cli
