#include "app/cli/args.h"

#include <cstdlib>

#include "core/common/error.h"

namespace dype::cli {

Args::Args(int argc, char** argv, int first, std::set<std::string> flags) {
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) == 0 && a.size() > 2) {
      std::string name = a.substr(2);
      const auto eq = name.find('=');
      if (eq != std::string::npos) {
        values_[name.substr(0, eq)] = name.substr(eq + 1);
        all_values_[name.substr(0, eq)].push_back(name.substr(eq + 1));
      } else if (flags.count(name)) {
        flags_set_.insert(name);
      } else {
        if (i + 1 >= argc) throw InvalidArgument("option --" + name + " needs a value");
        values_[name] = argv[++i];
        all_values_[name].push_back(values_[name]);
      }
    } else {
      positional_.push_back(a);
    }
  }
}

bool Args::has(const std::string& name) const { return values_.count(name) || flags_set_.count(name); }

std::optional<std::string> Args::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> Args::get_all(const std::string& name) const {
  auto it = all_values_.find(name);
  return it == all_values_.end() ? std::vector<std::string>{} : it->second;
}

std::string Args::get_or(const std::string& name, const std::string& def) const { return get(name).value_or(def); }

double Args::get_double(const std::string& name, double def) const {
  auto v = get(name);
  if (!v) return def;
  char* end = nullptr;
  const double d = std::strtod(v->c_str(), &end);
  if (end == v->c_str() || *end != '\0') throw InvalidArgument("--" + name + " expects a number, got '" + *v + "'");
  return d;
}

long long Args::get_int(const std::string& name, long long def) const {
  auto v = get(name);
  if (!v) return def;
  char* end = nullptr;
  const long long d = std::strtoll(v->c_str(), &end, 10);
  if (end == v->c_str() || *end != '\0') throw InvalidArgument("--" + name + " expects an integer, got '" + *v + "'");
  return d;
}

bool Args::get_on_off(const std::string& name, bool def) const {
  auto v = get(name);
  if (!v) return def;
  if (*v == "on" || *v == "true" || *v == "1") return true;
  if (*v == "off" || *v == "false" || *v == "0") return false;
  throw InvalidArgument("--" + name + " expects on or off, got '" + *v + "'");
}

void Args::allow_only(const std::set<std::string>& known) const {
  for (const auto& [k, v] : values_)
    if (!known.count(k)) throw InvalidArgument("unknown option --" + k);
  for (const auto& k : flags_set_)
    if (!known.count(k)) throw InvalidArgument("unknown option --" + k);
}

}  // namespace dype::cli
