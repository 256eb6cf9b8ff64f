#pragma once
// Minimal `--name value` / `--flag` parser for the CLI subcommands. Unknown or malformed options are errors
// (InvalidArgument) that name the option, so a typo never silently falls back to a default.
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace dype::cli {

class Args {
 public:
  // argv[first..argc) are parsed; `flags` are the options that take no value.
  Args(int argc, char** argv, int first, std::set<std::string> flags = {});

  bool has(const std::string& name) const;
  std::optional<std::string> get(const std::string& name) const;    // the last value given
  std::vector<std::string> get_all(const std::string& name) const;  // every value given, in order (repeatable options)
  std::string get_or(const std::string& name, const std::string& def) const;
  double get_double(const std::string& name, double def) const;
  long long get_int(const std::string& name, long long def) const;
  bool get_on_off(const std::string& name, bool def) const;  // on|off|true|false|1|0
  const std::vector<std::string>& positional() const { return positional_; }
  // Throws InvalidArgument for any option not in `known`.
  void allow_only(const std::set<std::string>& known) const;

 private:
  std::map<std::string, std::string> values_;
  std::map<std::string, std::vector<std::string>> all_values_;
  std::set<std::string> flags_set_;
  std::vector<std::string> positional_;
};

}  // namespace dype::cli
