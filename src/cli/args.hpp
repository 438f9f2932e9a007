// Parsing of option values shared by the subcommands: a bad value calls the
// subcommand's usage_error with a message naming the flag. The whole text
// must be the number, in decimal: no leading space, no hex, no inf or nan.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>

namespace normkit::cli {

using UsageError = void (*)(const std::string& message);

inline double parse_number(const std::string& flag, const std::string& text, UsageError usage_error) {
  double v = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || !std::isfinite(v))
    usage_error(flag + ": expected a finite number, got '" + text + "'");
  return v;
}

inline std::int64_t parse_integer(const std::string& flag, const std::string& text, UsageError usage_error) {
  std::int64_t v = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || error != std::errc() || end != text.data() + text.size())
    usage_error(flag + ": expected an integer, got '" + text + "'");
  return v;
}

}  // namespace normkit::cli
