// `dype`: the command-line front end of DyPE Studio.
#include <cstring>
#include <exception>
#include <iostream>
#include <string>

#include "app/cli/commands.h"
#include "core/common/error.h"

namespace {
void print_usage(std::ostream& os) {
  os << "dype " DYPE_VERSION
        " - FLUX.1 ultra-high-resolution generation with DyPE\n\n"
        "usage: dype <command> [options]\n\n"
        "commands:\n"
        "  generate   generate an image (dype generate --help)\n"
        "  schedule   print the DyPE RoPE frequencies per step as CSV (dype schedule --help)\n"
        "  info PATH  describe a model folder or safetensors file\n"
        "  shapes     draw, score or write the demo model's captioned shape pictures (dype shapes --help)\n"
        "  train-demo train the demo model on those pictures (dype train-demo --help)\n\n"
        "  --help     this text\n"
        "  --version  print the version\n\n"
        "Quick demo (built-in random-weight model, no download):\n"
        "  dype generate --model demo-random --prompt \"a lighthouse at dusk\" --width 1024 --height 1024 --output "
        "out.png\n";
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    print_usage(std::cout);
    return argc < 2 ? 1 : 0;
  }
  if (!std::strcmp(argv[1], "--version")) {
    std::cout << "dype " DYPE_VERSION "\n";
    return 0;
  }
  const std::string cmd = argv[1];
  try {
    if (cmd == "info") return dype::cli::cmd_info(argc, argv);
    if (cmd == "schedule") return dype::cli::cmd_schedule(argc, argv);
    if (cmd == "generate") return dype::cli::cmd_generate(argc, argv);
    if (cmd == "shapes") return dype::cli::cmd_shapes(argc, argv);
    if (cmd == "train-demo") return dype::cli::cmd_train_demo(argc, argv);
    std::cerr << "dype: unknown command '" << cmd << "'\n\n";
    print_usage(std::cerr);
    return 1;
  } catch (const dype::Cancelled&) {
    std::cerr << "dype: cancelled\n";
    return 130;
  } catch (const std::exception& e) {
    std::cerr << "dype " << cmd << ": error: " << e.what() << "\n";
    return 1;
  }
}
