#include "core/io/json_file.h"

#include <fstream>

#include "core/common/error.h"

namespace dype::io {

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw IoError("cannot open '" + path + "'");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError("'" + path + "' is not valid JSON: " + e.what());
  }
}

nlohmann::json read_json_object(const std::string& path) {
  nlohmann::json j = read_json(path);
  if (!j.is_object()) throw FormatError("'" + path + "' is not a JSON object");
  return j;
}

}  // namespace dype::io
