#pragma once
// Reads what ../shared/golden/models/tiny-dev/README.md states about the tiny model set: every tensor name and
// shape per file (its markdown tables), the hyper-parameters, and the number of F8_E4M3 tensors. Tests compare our
// reader and `dype info` with these statements rather than with numbers our own code produced.
#include <cstdint>
#include <fstream>
#include <map>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

namespace dype::test {

struct TinyDevReadme {
  // file path relative to models/tiny-dev ("comfy/flux.safetensors") -> tensor name -> shape
  std::map<std::string, std::map<std::string, std::vector<std::int64_t>>> files;
  // "transformer" / "autoencoder" / ... -> key -> value text, from the "Hyper-parameters" list
  std::map<std::string, std::map<std::string, std::string>> hyper;
  int f8_tensor_count = -1;
};

inline std::vector<std::int64_t> parse_shape(const std::string& s) {
  std::vector<std::int64_t> out;
  static const std::regex num(R"(\d+)");
  for (auto it = std::sregex_iterator(s.begin(), s.end(), num); it != std::sregex_iterator(); ++it)
    out.push_back(std::stoll(it->str()));
  return out;
}

inline TinyDevReadme parse_tiny_dev_readme(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  TinyDevReadme r;
  static const std::regex row(R"(^\| `([^`]+)` \| (\[[0-9, ]*\]) \|\s*$)");
  static const std::regex backticked(R"(`([^`]+\.safetensors)`)");
  static const std::regex hyper_line(R"(^- (\w[\w ]*?)(?: \([^)]*\))?: (.*)$)");
  // key=value or key=[a, b]; a remark after the value ("num_heads=2 (head_dim 64)") is not part of it.
  static const std::regex key_value(R"((\w+)=(\[[^\]]*\]|[^,\s]+))");
  static const std::regex f8_count(R"((\d+) F8_E4M3 tensors)");
  std::vector<std::string> current;  // files the current table describes
  std::string line;
  bool in_hyper = false;
  while (std::getline(in, line)) {
    std::smatch m;
    if (line.rfind("## ", 0) == 0) in_hyper = line.find("Hyper-parameters") != std::string::npos;
    if (line.rfind("### ", 0) == 0) {
      current.clear();
      const std::string heading = line.substr(4);
      for (auto it = std::sregex_iterator(heading.begin(), heading.end(), backticked); it != std::sregex_iterator();
           ++it) {
        const std::string f = (*it)[1];
        // Comfy file names are bare; diffusers ones carry their subfolder.
        current.push_back(f.find('/') == std::string::npos ? "comfy/" + f : "diffusers/" + f);
      }
      if (current.empty() && heading.size() > 12 && heading.compare(heading.size() - 12, 12, ".safetensors") == 0)
        current.push_back("diffusers/" + heading);
      // The F8 file is the same model as flux.safetensors (README: "same model, every tensor with ndim>=2 ...").
      if (current.size() == 1 && current[0] == "comfy/flux.safetensors")
        current.push_back("comfy/flux_f8_e4m3.safetensors");
      continue;
    }
    if (std::regex_search(line, m, f8_count) && line.find("flux_f8_e4m3") != std::string::npos)
      r.f8_tensor_count = std::stoi(m[1]);
    if (in_hyper && std::regex_match(line, m, hyper_line)) {
      const std::string what = m[1], body = m[2];
      for (auto it = std::sregex_iterator(body.begin(), body.end(), key_value); it != std::sregex_iterator(); ++it)
        r.hyper[what][(*it)[1]] = (*it)[2];
      continue;
    }
    if (!current.empty() && std::regex_match(line, m, row))
      for (const auto& f : current) r.files[f][m[1]] = parse_shape(m[2]);
  }
  return r;
}

inline std::int64_t numel_of(const std::vector<std::int64_t>& shape) {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

}  // namespace dype::test
