#pragma once
// Reading a JSON file that the user gave us (config.json, model_index.json, a shard index): one place that turns
// a missing file or a parse error into a typed exception naming the file, so every loader words it the same way.
#include <nlohmann/json.hpp>
#include <string>

namespace dype::io {

// The parsed content of `path`. Throws IoError when it cannot be opened and FormatError ("'<path>' is not valid
// JSON: ...") when it does not parse.
nlohmann::json read_json(const std::string& path);

// read_json, and FormatError ("'<path>' is not a JSON object") unless the top level is an object: what every
// config file of a model is.
nlohmann::json read_json_object(const std::string& path);

}  // namespace dype::io
