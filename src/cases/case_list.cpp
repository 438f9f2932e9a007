#include "case_list.hpp"

#include <algorithm>
#include <charconv>
#include <sstream>

#include "normkit/error.hpp"

namespace normkit::cases {
namespace {

const char* const kLayouts[] = {"contiguous", "channels_last", "permuted", "strided"};
const char* const kModes[] = {"train", "eval"};
const char* const kSets[] = {"test", "bench", "quick", "fuzz"};

template <std::size_t N>
bool one_of(const std::string& word, const char* const (&words)[N]) {
  return std::any_of(std::begin(words), std::end(words), [&](const char* w) { return word == w; });
}

std::int64_t positive_integer(const std::string& text, int line, const char* what) {
  std::int64_t v = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), v);
  NORMKIT_CHECK(!text.empty() && error == std::errc() && end == text.data() + text.size() && v >= 1,
                "case list, line ", line, ": ", what, ": expected a positive integer, got '", text, "'");
  return v;
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(text);
  while (std::getline(in, part, separator)) parts.push_back(part);
  return parts;
}

}  // namespace

bool ListedCase::in(const std::string& set) const { return std::find(sets.begin(), sets.end(), set) != sets.end(); }

std::string ListedCase::name() const {
  std::string s = op + " ";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? "x" : "") + std::to_string(shape[i]);
  s += " " + layout + " " + mode;
  if (groups > 0) s += " groups=" + std::to_string(groups);
  if (dtype != DType::float32) s += std::string(" dtype=") + dtype_name(dtype);
  return s + " (line " + std::to_string(line) + ")";
}

std::vector<ListedCase> parse_case_list(const std::string& text) {
  std::vector<ListedCase> cases;
  std::istringstream in(text);
  std::string line_text;
  for (int line = 1; std::getline(in, line_text); ++line) {
    line_text = line_text.substr(0, line_text.find('#'));
    std::istringstream words(line_text);
    std::vector<std::string> w;
    for (std::string word; words >> word;) w.push_back(word);
    if (w.empty()) continue;
    NORMKIT_CHECK(w.size() >= 5, "case list, line ", line, ": expected op, shape, layout, mode and sets, got ",
                  w.size(), " words");
    ListedCase c;
    c.line = line;
    c.seed = static_cast<std::uint64_t>(line);
    c.op = ops::op(w[0]).name;  // an unknown op is an error naming the known ones
    for (const std::string& size : split(w[1], 'x')) c.shape.push_back(positive_integer(size, line, "shape"));
    c.layout = w[2];
    NORMKIT_CHECK(one_of(c.layout, kLayouts), "case list, line ", line,
                  ": layout: expected contiguous, channels_last, permuted or strided, got '", c.layout, "'");
    c.mode = w[3];
    NORMKIT_CHECK(one_of(c.mode, kModes), "case list, line ", line, ": mode: expected train or eval, got '", c.mode,
                  "'");
    c.sets = split(w[4], ',');
    for (const std::string& set : c.sets)
      NORMKIT_CHECK(one_of(set, kSets), "case list, line ", line,
                    ": sets: expected test, bench, quick or fuzz, got '", set, "'");
    for (std::size_t k = 5; k < w.size(); ++k) {
      if (w[k].starts_with("dtype=")) {
        const std::string d = w[k].substr(6);
        NORMKIT_CHECK(d == "bfloat16" || d == "float16", "case list, line ", line,
                      ": dtype: expected bfloat16 or float16, got '", d, "'");
        c.dtype = d == "bfloat16" ? DType::bfloat16 : DType::float16;
        continue;
      }
      NORMKIT_CHECK(w[k].starts_with("groups="), "case list, line ", line, ": expected groups=G or dtype=D, got '",
                    w[k], "'");
      c.groups = positive_integer(w[k].substr(7), line, "groups");
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

std::vector<ListedCase> listed_cases(const std::string& set) {
  static const std::vector<ListedCase> all = parse_case_list(case_list_text());
  std::vector<ListedCase> chosen;
  for (const ListedCase& c : all)
    if (set.empty() || c.in(set)) chosen.push_back(c);
  return chosen;
}

}  // namespace normkit::cases
